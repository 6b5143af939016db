import { randomUUID } from 'node:crypto';
import type { Executor } from './database.js';
import type { SourceKind } from '../domain/ownership.js';

/** The writable columns of a source (what an admin sets). */
export interface SourceWrite {
  name: string;
  config: Record<string, unknown>;
  schedule: string | null;
  enabled: boolean;
  softMatch: boolean;
  deleteThresholdCount: number;
  deleteThresholdPercent: number;
  gracePeriodDays: number;
}

/** A stored source: what an admin sets, and what the platform keeps (its run state, status, version). */
export interface SourceRecord extends SourceWrite {
  accountId: string;
  id: string;
  kind: SourceKind;
  state: unknown;
  status: string;
  consecutiveFailures: number;
  nextRetryAt: Date | null;
  lastError: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

type Row = Record<string, unknown>;
export const toSource = (r: Row): SourceRecord => ({
  accountId: r.account_id as string,
  id: r.id as string,
  name: r.name as string,
  kind: r.kind as SourceKind,
  config: (r.config as Record<string, unknown>) ?? {},
  schedule: (r.schedule as string | null) ?? null,
  enabled: r.enabled as boolean,
  softMatch: r.soft_match as boolean,
  deleteThresholdCount: r.delete_threshold_count as number,
  deleteThresholdPercent: r.delete_threshold_percent as number,
  gracePeriodDays: r.grace_period_days as number,
  state: r.state ?? null,
  status: r.status as string,
  consecutiveFailures: r.consecutive_failures as number,
  nextRetryAt: r.next_retry_at ? new Date(r.next_retry_at as string) : null,
  lastError: (r.last_error as string | null) ?? null,
  version: r.version as number,
  createdAt: new Date(r.created_at as string),
  updatedAt: new Date(r.updated_at as string),
});

const toWriteRow = (input: SourceWrite) => ({
  name: input.name,
  config: JSON.stringify(input.config),
  schedule: input.schedule,
  enabled: input.enabled,
  soft_match: input.softMatch,
  delete_threshold_count: input.deleteThresholdCount,
  delete_threshold_percent: input.deleteThresholdPercent,
  grace_period_days: input.gracePeriodDays,
});

/** A source scheduled to run: enabled, with a cron schedule. */
export interface ScheduledSource {
  accountId: string;
  id: string;
  schedule: string;
}

/** The name the account's `scim` source is created with. */
const SCIM_SOURCE_NAME = 'SCIM push';

export const sourcesRepo = {
  /** id → name of the given sources of the account. */
  async namesOf(db: Executor, accountId: string, ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = (await db('sources').where('account_id', accountId).whereIn('id', [...ids]).select('id', 'name')) as { id: string; name: string }[];
    return new Map(rows.map((r) => [r.id, r.name]));
  },

  /** The account's `scim` source (the identity provider's push), if it has been created. */
  async findScimSource(db: Executor, accountId: string): Promise<SourceRecord | undefined> {
    const existing = await db('sources').where({ account_id: accountId, kind: 'scim' }).first();
    return existing ? toSource(existing as Row) : undefined;
  },

  /** The account's `scim` source, created on first use; `created` when this call inserted it (its transaction may still roll back). */
  async scimSource(db: Executor, accountId: string): Promise<{ source: SourceRecord; created: boolean }> {
    const existing = await sourcesRepo.findScimSource(db, accountId);
    if (existing) return { source: existing, created: false };
    // Every unique index arbitrates, not only the scim one: two first pushes at once (an identity provider starts
    // with several connections) otherwise met on the name index, checked first, and one answered 409.
    const [row] = await db('sources').insert({ account_id: accountId, name: SCIM_SOURCE_NAME, kind: 'scim' }).onConflict().ignore().returning('*');
    if (row) return { source: toSource(row as Row), created: true };
    // Another transaction created it first (and has committed: the conflict waited for it) …
    const raced = await sourcesRepo.findScimSource(db, accountId);
    if (raced) return { source: raced, created: false };
    // … or an admin's source of another kind holds the name: the scim source takes one of its own.
    const [named] = await db('sources')
      .insert({ account_id: accountId, name: `${SCIM_SOURCE_NAME} (${randomUUID().slice(0, 8)})`, kind: 'scim' })
      .onConflict(db.raw("(account_id) where kind = 'scim'"))
      .ignore()
      .returning('*');
    if (named) return { source: toSource(named as Row), created: true };
    return { source: (await sourcesRepo.findScimSource(db, accountId))!, created: false };
  },

  async findById(db: Executor, accountId: string, id: string): Promise<SourceRecord | undefined> {
    const row = await db('sources').where({ account_id: accountId, id }).first();
    return row ? toSource(row as Row) : undefined;
  },

  /** The sources an admin manages (every kind but the identity provider's `scim` push). */
  async findManaged(db: Executor, accountId: string, id: string): Promise<SourceRecord | undefined> {
    const row = await db('sources').where({ account_id: accountId, id }).whereNot('kind', 'scim').first();
    return row ? toSource(row as Row) : undefined;
  },

  async listManaged(db: Executor, accountId: string, offset: number, limit: number): Promise<{ sources: SourceRecord[]; total: number }> {
    const base = () => db('sources').where('account_id', accountId).whereNot('kind', 'scim');
    const [{ n }] = (await base().count({ n: '*' })) as { n: number | string }[];
    const rows = (await base().orderBy([{ column: 'created_at' }, { column: 'id' }]).offset(offset).limit(limit)) as Row[];
    return { sources: rows.map(toSource), total: Number(n) };
  },

  async insert(db: Executor, accountId: string, kind: string, input: SourceWrite, at: Date): Promise<SourceRecord> {
    const [row] = (await db('sources').insert({ account_id: accountId, kind, ...toWriteRow(input), created_at: at, updated_at: at }).returning('*')) as Row[];
    return toSource(row!);
  },

  /** Writes the change when the source is still at `version`; undefined when another writer got there first. */
  async update(db: Executor, accountId: string, id: string, version: number, input: SourceWrite, at: Date): Promise<SourceRecord | undefined> {
    const [row] = (await db('sources')
      .where({ account_id: accountId, id, version })
      .update({ ...toWriteRow(input), version: version + 1, updated_at: at })
      .returning('*')) as Row[];
    return row ? toSource(row) : undefined;
  },

  /** Every source's configuration, across accounts (start-up checks of the secret key, key rotation). */
  async allConfigs(db: Executor): Promise<{ accountId: string; id: string; kind: string; config: Record<string, unknown> }[]> {
    const rows = (await db('sources').select('account_id', 'id', 'kind', 'config').orderBy('id')) as { account_id: string; id: string; kind: string; config: Record<string, unknown> | null }[];
    return rows.map((r) => ({ accountId: r.account_id, id: r.id, kind: r.kind, config: r.config ?? {} }));
  },

  /** Replaces a configuration as it is (its secrets sealed again), without a version change: same meaning. */
  async replaceConfig(db: Executor, accountId: string, id: string, config: Record<string, unknown>): Promise<void> {
    await db('sources').where({ account_id: accountId, id }).update({ config: JSON.stringify(config) });
  },

  async delete(db: Executor, accountId: string, id: string): Promise<void> {
    await db('sources').where({ account_id: accountId, id }).delete();
  },

  /** Enabled sources of the given kinds with a schedule, across accounts (the scheduler's view). */
  async scheduled(db: Executor, kinds: readonly string[]): Promise<ScheduledSource[]> {
    const rows = (await db('sources').where('enabled', true).whereNotNull('schedule').whereIn('kind', [...kinds]).select('account_id', 'id', 'schedule')) as Row[];
    return rows.map((r) => ({ accountId: r.account_id as string, id: r.id as string, schedule: r.schedule as string }));
  },

  /** What the scheduler checks before a scheduled run. */
  async scheduleState(db: Executor, accountId: string, id: string): Promise<{ enabled: boolean; nextRetryAt: Date | null } | undefined> {
    const row = (await db('sources').where({ account_id: accountId, id }).first('enabled', 'next_retry_at')) as Row | undefined;
    return row ? { enabled: row.enabled as boolean, nextRetryAt: row.next_retry_at ? new Date(row.next_retry_at as string) : null } : undefined;
  },

  /**
   * Claims a cron slot of the source for this instance: true for the one instance that moves the source's last
   * claimed slot forward to `slot`, false for every other (and for a slot not after the last one claimed).
   */
  async claimScheduledTick(db: Executor, accountId: string, id: string, slot: Date): Promise<boolean> {
    const count = await db('sources')
      .where({ account_id: accountId, id })
      .andWhere((q) => q.whereNull('last_scheduled_tick').orWhere('last_scheduled_tick', '<', slot))
      .update({ last_scheduled_tick: slot });
    return count === 1;
  },

  async saveState(db: Executor, accountId: string, sourceId: string, state: unknown, at: Date): Promise<void> {
    await db('sources').where({ account_id: accountId, id: sourceId }).update({ state: JSON.stringify(state), updated_at: at });
  },

  async markRunning(db: Executor, accountId: string, sourceId: string): Promise<void> {
    await db('sources').where({ account_id: accountId, id: sourceId }).update({ status: 'running' });
  },

  /** The source's status after a run; failures in a row grow the retry delay (1, 2, 4 … minutes, at most 6 hours). */
  async recordOutcome(db: Executor, accountId: string, sourceId: string, outcome: { failed: boolean; status: string; error: string | null; at: Date }): Promise<void> {
    if (!outcome.failed) {
      await db('sources').where({ account_id: accountId, id: sourceId }).update({ status: outcome.status, consecutive_failures: 0, next_retry_at: null, last_error: outcome.error });
      return;
    }
    const row = (await db('sources').where({ account_id: accountId, id: sourceId }).first('consecutive_failures')) as { consecutive_failures: number } | undefined;
    const failures = (row?.consecutive_failures ?? 0) + 1;
    await db('sources')
      .where({ account_id: accountId, id: sourceId })
      .update({ status: outcome.status, consecutive_failures: failures, next_retry_at: new Date(outcome.at.getTime() + retryDelayMs(failures)), last_error: outcome.error });
  },
};

export function retryDelayMs(consecutiveFailures: number): number {
  return Math.min(60_000 * 2 ** Math.max(0, consecutiveFailures - 1), 6 * 3600_000);
}
