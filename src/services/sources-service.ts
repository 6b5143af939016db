/**
 * Sources of an account (kinds run by the sync engine): create, read, change, delete. The connector's
 * `parseConfig` validates configuration; write-only (secret) properties are kept when a change omits them
 * and are never returned.
 */
import { sourceLinksRepo } from '../db/source-links-repo.js';
import { usersRepo } from '../db/users-repo.js';
import { isDeepStrictEqual } from 'node:util';
import cron from 'node-cron';
import type { Connector, ConfigProperty } from '../../connectors/sdk/index.js';
import { isConnectorError } from '../../connectors/sdk/index.js';
import type { Executor } from '../db/database.js';
import { sourcesRepo, type SourceRecord, type SourceWrite } from '../db/sources-repo.js';
import { syncRunsRepo, type SyncRunRecord } from '../db/sync-runs-repo.js';
import { isUuid } from '../db/accounts-repo.js';
import { auditRepo } from '../db/audit-repo.js';
import { changedAttributes } from '../domain/ownership.js';
import { auditActorOf, type Principal } from '../domain/principal.js';
import { DomainError, notFound } from '../domain/errors.js';
import type { Clock } from '../lib/clock.js';
import { nextScheduledRun } from '../domain/schedule.js';
import { SecretBox } from '../lib/secret-box.js';

/** What `health` tells of a source beside its stored status. */
export interface SourceHealth {
  lastRun?: SyncRunRecord;
  nextRunAt?: Date;
  /** Scheduled runs are skipped until then, after consecutive failures. */
  backoffUntil?: Date;
}

/** What an admin gives for a source: its writable columns (secrets in plain text) and, on create, its kind. */
export type SourceInput = SourceWrite & { kind: string };


/** Names of write-only properties of a schema, as dotted paths. */
function secretPaths(props: Record<string, ConfigProperty>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [name, prop] of Object.entries(props)) {
    if (prop.writeOnly) out.push(prefix + name);
    if (prop.properties) out.push(...secretPaths(prop.properties, `${prefix}${name}.`));
  }
  return out;
}

function propertyAt(props: Record<string, ConfigProperty>, path: string): ConfigProperty | undefined {
  const [head, ...rest] = path.split('.');
  const prop = props[head!];
  return rest.length === 0 ? prop : prop?.properties ? propertyAt(prop.properties, rest.join('.')) : undefined;
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/** Sets (or, with undefined, removes) the property at a dotted path; removing one under an absent object changes nothing. */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (!o[k] || typeof o[k] !== 'object') {
      // An entra source with a clientSecret has no clientCertificate: redacting its privateKeyPem must not add an empty
      // one, which the output showed and every PATCH sent back (refused: certificatePem and privateKeyPem required).
      if (value === undefined) return;
      o[k] = {};
    }
    o = o[k] as Record<string, unknown>;
  }
  if (value === undefined) delete o[keys[keys.length - 1]!];
  else o[keys[keys.length - 1]!] = value;
}

export class SourcesService {
  constructor(
    private readonly db: Executor,
    private readonly clock: Clock,
    private readonly connectors: ReadonlyMap<string, Connector>,
    private readonly secrets: SecretBox,
  ) {}

  /** When the scheduler will next start a run of this source (undefined: not scheduled). */
  nextRunAt(source: SourceRecord): Date | undefined {
    return nextScheduledRun(source, this.clock.now());
  }

  /** How each source is doing: its newest run, its next scheduled run, and the back-off still in force after failures. */
  async health(accountId: string, sources: readonly SourceRecord[]): Promise<Map<string, SourceHealth>> {
    const lastRuns = await syncRunsRepo.latestOfSources(this.db, accountId, sources.map((s) => s.id));
    const now = this.clock.now();
    return new Map(sources.map((source) => {
      const lastRun = lastRuns.get(source.id);
      const nextRunAt = nextScheduledRun(source, now);
      const backoffUntil = source.nextRetryAt && source.nextRetryAt > now ? source.nextRetryAt : undefined;
      return [source.id, { ...(lastRun ? { lastRun } : {}), ...(nextRunAt ? { nextRunAt } : {}), ...(backoffUntil ? { backoffUntil } : {}) }];
    }));
  }

  /** The configuration a connector reads: its secrets opened. */
  plainConfig(source: SourceRecord): Record<string, unknown> {
    return this.secrets.openAll(source.config);
  }

  /** The configuration as stored: every secret (write-only property) sealed. */
  private sealed(kind: string, config: Record<string, unknown>): Record<string, unknown> {
    const out = structuredClone(config);
    for (const path of secretPaths(this.connectorOf(kind).configSchema.properties)) {
      const value = getPath(out, path);
      if (typeof value === 'string' && !SecretBox.isSealed(value)) setPath(out, path, this.secrets.seal(value));
    }
    return out;
  }

  /**
   * At start: every stored secret opens with the configured key (a wrong key stops the start with a clear
   * message, never a silent empty secret), and secrets stored before encryption existed, or under a previous
   * key, are sealed under the current one.
   */
  async sealStoredSecrets(): Promise<number> {
    let sealed = 0;
    for (const source of await sourcesRepo.allConfigs(this.db)) {
      this.secrets.openAll(source.config);
      if (!this.connectors.has(source.kind)) continue;
      const plain = secretPaths(this.connectorOf(source.kind).configSchema.properties).some((path) => {
        const value = getPath(source.config, path);
        return typeof value === 'string' && !SecretBox.isSealed(value);
      });
      if (!plain && this.secrets.isCurrent(source.config)) continue;
      await sourcesRepo.replaceConfig(this.db, source.accountId, source.id, this.sealed(source.kind, this.secrets.resealAll(source.config)));
      sealed++;
    }
    return sealed;
  }

  connectorOf(kind: string): Connector {
    const connector = this.connectors.get(kind);
    if (!connector) throw new DomainError('invalidValue', `kind must be one of: ${[...this.connectors.keys()].join(', ')}`);
    return connector;
  }

  /** The configuration without its secrets, for output. */
  redacted(source: SourceRecord): Record<string, unknown> {
    const connector = this.connectors.get(source.kind);
    const config = structuredClone(source.config);
    if (connector) for (const path of secretPaths(connector.configSchema.properties)) setPath(config, path, undefined);
    return config;
  }

  private validate(input: SourceInput): void {
    const connector = this.connectorOf(input.kind);
    if (typeof input.name !== 'string' || input.name.trim() === '') throw new DomainError('invalidValue', 'name is required');
    try {
      connector.parseConfig(this.secrets.openAll(input.config));
    } catch (error) {
      if (isConnectorError(error)) throw new DomainError('invalidValue', `config: ${error.message}`);
      throw error;
    }
    if (input.schedule !== null && !cron.validate(input.schedule)) throw new DomainError('invalidValue', `schedule "${input.schedule}" is not a valid cron expression`);
    for (const [name, value, max] of [
      ['deleteThreshold.count', input.deleteThresholdCount, 1e9],
      ['deleteThreshold.percent', input.deleteThresholdPercent, 100],
      ['gracePeriodDays', input.gracePeriodDays, 3650],
    ] as const) {
      if (!Number.isInteger(value) || value < 0 || value > max) throw new DomainError('invalidValue', `${name} must be an integer from 0 to ${max}`);
    }
  }

  private write({ kind, ...input }: SourceInput): SourceWrite {
    return { ...input, name: input.name.trim(), config: this.sealed(kind, input.config) };
  }

  /**
   * The attributes a change sets or clears, as the audit trail names them (`config.<property>` for the connector's
   * configuration): names only, never a value: a new secret shows as `config.bindPassword` and nothing more, the same one given again not at all.
   */
  private changedOf(before: SourceRecord, after: SourceRecord): string[] {
    const documentOf = (source: SourceRecord): Record<string, unknown> => ({
      name: source.name, schedule: source.schedule, enabled: source.enabled, softMatch: source.softMatch,
      deleteThreshold: { count: source.deleteThresholdCount, percent: source.deleteThresholdPercent }, gracePeriodDays: source.gracePeriodDays,
      ...Object.fromEntries(Object.entries(this.secrets.openAll(source.config)).map(([key, value]) => [`config.${key}`, value])),
    });
    return changedAttributes(documentOf(before), documentOf(after), []);
  }

  async create(accountId: string, input: SourceInput, principal: Principal): Promise<SourceRecord> {
    this.validate(input);
    const now = this.clock.now();
    try {
      return await this.db.transaction(async (trx) => {
        const source = await sourcesRepo.insert(trx, accountId, input.kind, this.write(input), now);
        await auditRepo.record(trx, { accountId, ...auditActorOf(principal), action: 'source.create', targetType: 'Source', targetId: source.id, details: { name: source.name, kind: source.kind } });
        return source;
      });
    } catch (error) {
      throw uniqueName(error, input.name);
    }
  }

  async get(accountId: string, id: string): Promise<SourceRecord> {
    const source = isUuid(id) ? await sourcesRepo.findManaged(this.db, accountId, id) : undefined;
    if (!source) throw notFound(`Source ${id}`);
    return source;
  }

  async list(accountId: string, offset: number, limit: number): Promise<{ sources: SourceRecord[]; total: number }> {
    return sourcesRepo.listManaged(this.db, accountId, offset, limit);
  }

  /** Replaces the writable attributes; secrets the change omits keep their stored value. */
  async update(accountId: string, id: string, change: (current: SourceRecord) => SourceInput, principal: Principal, ifMatch?: number): Promise<SourceRecord> {
    const current = await this.get(accountId, id);
    if (ifMatch !== undefined && ifMatch !== current.version) throw new DomainError('preconditionFailed', `Source ${id} is at version W/"${current.version}", not W/"${ifMatch}"`);
    const input = change(current);
    if (input.kind !== current.kind) throw new DomainError('mutability', 'kind is immutable');
    const connector = this.connectorOf(current.kind);
    for (const path of secretPaths(connector.configSchema.properties)) {
      if (getPath(input.config, path) !== undefined || getPath(current.config, path) === undefined) continue;
      const moved = (propertyAt(connector.configSchema.properties, path)?.sentTo ?? []).filter((field) => !isDeepStrictEqual(input.config[field], current.config[field]));
      if (moved.length > 0) {
        throw new DomainError('invalidValue', `config.${path} is required again when ${moved.map((f) => `config.${f}`).join(', ')} change${moved.length === 1 ? 's' : ''}: the stored secret is not sent to a new place`);
      }
      setPath(input.config, path, getPath(current.config, path));
    }
    this.validate(input);
    try {
      return await this.db.transaction(async (trx) => {
        const updated = await sourcesRepo.update(trx, accountId, id, current.version, this.write(input), this.clock.now());
        if (!updated) throw new DomainError('preconditionFailed', `Source ${id} changed meanwhile; read it again and retry`);
        const changed = this.changedOf(current, updated);
        // Turning a source on or off and nothing else is its own event (sources enable|disable), to filter on.
        const action = changed.length === 1 && changed[0] === 'enabled' ? (updated.enabled ? 'source.enable' : 'source.disable') : 'source.update';
        if (changed.length > 0) await auditRepo.record(trx, { accountId, ...auditActorOf(principal), action, targetType: 'Source', targetId: id, details: { changed } });
        return updated;
      });
    } catch (error) {
      throw uniqueName(error, input.name);
    }
  }

  async delete(accountId: string, id: string, principal: Principal, ifMatch?: number): Promise<void> {
    const current = await this.get(accountId, id);
    if (ifMatch !== undefined && ifMatch !== current.version) throw new DomainError('preconditionFailed', `Source ${id} is at version W/"${current.version}", not W/"${ifMatch}"`);
    await this.db.transaction(async (trx) => {
      // Its links go with it (on delete cascade): its users' representations no longer show what it owned.
      const linked = await sourceLinksRepo.userIdsOfSource(trx, accountId, id);
      await sourcesRepo.delete(trx, accountId, id);
      await usersRepo.refreshResources(trx, accountId, linked);
      await auditRepo.record(trx, { accountId, ...auditActorOf(principal), action: 'source.delete', targetType: 'Source', targetId: id, details: { name: current.name, kind: current.kind } });
    });
  }
}

function uniqueName(error: unknown, name: string): unknown {
  if ((error as { code?: string }).code === '23505' || /unique|duplicate key/i.test(String((error as Error).message))) {
    return new DomainError('uniqueness', `A source named "${name}" already exists in this account`);
  }
  return error;
}

