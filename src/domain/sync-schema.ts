/** The Source and SyncRun resource types, as plain data (served by discovery; validated in the routers). */
import type { ConfigProperty, ConfigSchema } from '../../connectors/sdk/index.js';
import { attrWith, resourceDefaults, type AttributeDef, type AttributeOptions, type ResourceTypeDef } from './scim-schema.js';

export const SOURCE_URN = 'urn:switchboard:scim:schemas:core:2.0:Source';
export const SYNC_RUN_URN = 'urn:switchboard:scim:schemas:core:2.0:SyncRun';

const attr = attrWith(resourceDefaults('readWrite'));
const ro: AttributeOptions = { mutability: 'readOnly' };
const counts = [
  ...['created', 'updated', 'unchanged', 'deactivated', 'deleted', 'quarantined'].map((n) => attr(n, 'integer', `Objects ${n}.`, ro)),
  attr('skipped', 'integer', 'Objects of the source that are not users (MiCloud contacts), left alone.', ro),
  attr('retries', 'integer', 'Requests the connector sent again after the source throttled or failed them (429, 503, 504).', ro),
  ...['Created', 'Updated', 'Deleted'].map((n) => attr(`groups${n}`, 'integer', `Groups owned by the source ${n.toLowerCase()}.`, ro)),
];

/** The SyncRun's attributes; a Source's status.lastRun shows some of them. */
const syncRunAttributes: AttributeDef[] = [
  attr('sourceId', 'string', 'The source run.', { required: true, mutability: 'immutable', caseExact: true }),
  attr('mode', 'string', 'full, incremental, or check (connect and authenticate only; the answer carries the outcome, nothing is recorded).', {
    mutability: 'immutable', canonicalValues: ['full', 'incremental', 'check'],
  }),
  attr('dryRun', 'boolean', 'Compute the diff and change nothing.', { mutability: 'immutable' }),
  attr('allowDeletes', 'boolean', 'Deactivate even past the deletion threshold.', { mutability: 'immutable' }),
  attr('trigger', 'string', 'manual or schedule.', ro),
  attr('status', 'string', 'running, succeeded, completed_with_errors, failed, stopped_deletion_threshold.', ro),
  attr('counts', 'complex', 'Objects by outcome.', { ...ro, subAttributes: counts }),
  attr('idle', 'boolean', 'The source had not changed since the last run (an unchanged export): nothing was read or touched.', ro),
  attr('error', 'string', 'Why the run failed or stopped.', ro),
  attr('startedAt', 'dateTime', 'Start.', ro),
  attr('finishedAt', 'dateTime', 'End.', ro),
  attr('durationMs', 'integer', 'Duration in milliseconds.', ro),
  attr('results', 'complex', 'Per-object results that are not unchanged (first 1000), returned on GET by id.', {
    ...ro, multiValued: true, returned: 'request',
    subAttributes: [
      attr('anchor', 'string', 'Anchor of the record in the source.', ro),
      attr('userId', 'string', 'The user.', ro),
      attr('outcome', 'string', 'created, updated, deactivated, deleted or quarantined.', ro),
      attr('changes', 'complex', 'attribute → { old, new }.', ro),
      attr('error', 'string', 'Why the record was quarantined, or warnings.', ro),
    ],
  }),
];
const LAST_RUN_ATTRIBUTES = ['mode', 'trigger', 'dryRun', 'status', 'idle', 'counts', 'startedAt', 'finishedAt', 'error'];

export const sourceResourceType: ResourceTypeDef = {
  id: 'Source',
  name: 'Source',
  endpoint: '/Sources',
  description: 'A directory or system that feeds users to the account (LDAP / Active Directory, …).',
  extensions: [],
  schema: {
    id: SOURCE_URN,
    name: 'Source',
    description: 'A configured source of users.',
    attributes: [
      attr('name', 'string', 'Name of the source, unique in the account.', { required: true }),
      attr('kind', 'string', 'Connector kind.', { required: true, mutability: 'immutable', canonicalValues: ['ldap', 'entra', 'mivb', 'micloud'], caseExact: true }),
      attr('config', 'complex', "Connector configuration (the connector's configSchema); secrets such as bindPassword are write-only and never returned.", { required: true }),
      attr('schedule', 'string', 'Cron expression (node-cron) for scheduled incremental runs; absent for manual runs only.'),
      attr('enabled', 'boolean', 'Scheduled runs happen only when enabled.'),
      attr('softMatch', 'boolean', 'Match records to existing users by email or userName when exactly one user matches.'),
      attr('deleteThreshold', 'complex', 'A run that would deactivate more than min(count, percent % of linked users) stops before deactivating.', {
        subAttributes: [attr('count', 'integer', 'Most deactivations per run.'), attr('percent', 'integer', 'Most deactivations per run, in percent of linked users.')],
      }),
      attr('gracePeriodDays', 'integer', 'Days a deactivated user (missing from the source) is kept before deletion.'),
      attr('status', 'complex', 'Run status of the source.', {
        ...ro,
        subAttributes: [
          attr('state', 'string', 'idle, running, failed or waiting_for_confirmation (deletion threshold).', ro),
          attr('lastRun', 'complex', 'The newest run (running or finished); absent when the source never ran. Its per-record results are on the SyncRun.', {
            ...ro,
            subAttributes: [
              attr('id', 'string', 'The SyncRun.', { ...ro, caseExact: true }),
              ...syncRunAttributes.filter((a) => LAST_RUN_ATTRIBUTES.includes(a.name)).map((a) => ({ ...a, ...ro })),
            ],
          }),
          attr('nextRunAt', 'dateTime', 'When the scheduler will next start a run (the first cron tick not skipped by back-off); absent when not scheduled or disabled.', ro),
          attr('consecutiveFailures', 'integer', 'Failed runs in a row (0 after a run that did not fail).', ro),
          attr('backoffUntil', 'dateTime', 'After consecutive failures, scheduled runs are skipped until then; absent when not backing off.', ro),
          attr('lastError', 'string', 'Error of the last run.', ro),
          attr('hasState', 'boolean', 'A cursor is saved: incremental runs continue from it.', ro),
        ],
      }),
    ],
  },
};

export const syncRunResourceType: ResourceTypeDef = {
  id: 'SyncRun',
  name: 'SyncRun',
  endpoint: '/SyncRuns',
  description: 'A run of a source: POST starts one (in the background), GET polls it.',
  extensions: [],
  schema: {
    id: SYNC_RUN_URN,
    name: 'SyncRun',
    description: 'A sync run and its results.',
    attributes: syncRunAttributes,
  },
};

const configTypes: Record<ConfigProperty['type'], AttributeDef['type']> = {
  string: 'string', boolean: 'boolean', integer: 'integer', number: 'decimal', object: 'complex', array: 'string',
};

/** One connector configuration property as a SCIM attribute; secrets are writeOnly and never returned. */
function configAttributeOf(name: string, prop: ConfigProperty): AttributeDef {
  const element = prop.type === 'array' ? (prop.items ?? { type: 'string' }) : prop;
  return attr(name, configTypes[element.type], prop.description ?? prop.title ?? name, {
    multiValued: prop.type === 'array',
    caseExact: true,
    ...(prop.writeOnly ? { mutability: 'writeOnly' as const, returned: 'never' as const } : {}),
    ...(element.enum?.every((v) => typeof v === 'string') ? { canonicalValues: element.enum as string[] } : {}),
    ...(element.type === 'object' && element.properties ? { subAttributes: configAttributesOf(element) } : {}),
  });
}

/** The properties of a connector's configuration schema as sub-attributes of `config`. */
export function configAttributesOf(schema: ConfigProperty): AttributeDef[] {
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => configAttributeOf(name, prop));
}

/**
 * The Source resource type with `config` described by one connector's schema. PATCH needs it: without
 * sub-attributes `config` accepts no path below it (`replace config.bindPassword`, the way to rotate a
 * secret that is never returned) and no partial value.
 */
export function sourceResourceTypeFor(configSchema: ConfigSchema): ResourceTypeDef {
  return {
    ...sourceResourceType,
    schema: {
      ...sourceResourceType.schema,
      attributes: sourceResourceType.schema.attributes.map((a) => (a.name === 'config' ? { ...a, subAttributes: configAttributesOf(configSchema) } : a)),
    },
  };
}
