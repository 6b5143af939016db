/**
 * The audit trail as the API shows it (/AuditEvents, README › Audit events): who changed what, when, and through
 * which writer, with the names of the attributes changed. Plain data and pure functions.
 */
import { attrWith, resourceDefaults, type ResourceTypeDef } from './scim-schema.js';

export const AUDIT_EVENT_URN = 'urn:switchboard:scim:schemas:core:2.0:AuditEvent';

/**
 * Through which writer a change came: `admin` an administrator at the console (a sign-in session), `token` a
 * bearer token on the API (an admin's script, a user's /Me), `source` a source (a sync run, or an identity
 * provider's SCIM push), `import` a CSV import, `link` a user following a registration or reset link, `system` the
 * server itself (interrupted work marked failed) and operator commands run on its host (`switchboard secrets rotate`).
 */
export type AuditWriter = 'admin' | 'token' | 'source' | 'import' | 'link' | 'system';
export const auditWriters: readonly AuditWriter[] = ['admin', 'token', 'source', 'import', 'link', 'system'];

/** Audit events are kept this long by default (AUDIT_RETENTION_DAYS), then pruned. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

/**
 * The names of the attributes an event changed, as its details record them: `changed` (users, accounts). Other
 * events (a token revoked, an action run) change no attribute of a resource and list none.
 */
export function changedAttributesOf(details: Readonly<Record<string, unknown>>): string[] {
  const changed = details.changed;
  return Array.isArray(changed) ? changed.filter((c): c is string => typeof c === 'string') : [];
}

const attr = attrWith(resourceDefaults('readOnly', true));

export const auditEventResourceType: ResourceTypeDef = {
  id: 'AuditEvent',
  name: 'AuditEvent',
  endpoint: '/AuditEvents',
  description: 'Who changed what in the account, when, and through which writer; read-only, kept AUDIT_RETENTION_DAYS (365 by default).',
  extensions: [],
  schema: {
    id: AUDIT_EVENT_URN,
    name: 'AuditEvent',
    description: 'One change (or action) recorded in the audit trail.',
    attributes: [
      attr('at', 'dateTime', 'When the change was made (filter with gt, ge, lt, le).'),
      attr('actor', 'string', 'Who made it: "<role>:<token or session id>" for an admin or a token, "source:<source id>" for a sync run, "scim" for an identity provider\'s push, "user:<user id>" for a user, "system" for the server.'),
      attr('writer', 'string', 'Through which writer: admin (console session), token (API token), source (sync run or identity provider), import (CSV import), link (registration or reset link), system.', {
        canonicalValues: [...auditWriters],
      }),
      attr('action', 'string', 'What was done: user.create, user.update, user.delete, user.unregister, user.unlink, user.register, user.password_reset, group.*, account.*, token.*, session.*, source.*, action.<type>[.completed|.failed|.refused], import.*.'),
      attr('targetType', 'string', 'The kind of resource changed: User, Group, Account, Token, Session, Source, Action, Import.'),
      attr('targetId', 'string', 'The id of the resource changed.'),
      attr('userId', 'string', 'The user the event is about (targetType User).'),
      attr('changedAttributes', 'string', 'The attributes the change set or cleared (URN-qualified for extension attributes).', { multiValued: true }),
      attr('details', 'complex', 'What else the event recorded (an action\'s targets and summary, attributes a source could not set, …).'),
    ],
  },
};
