import type { Executor } from './database.js';
import type { SourceKind } from '../domain/ownership.js';

export interface SourceRecord {
  accountId: string;
  id: string;
  name: string;
  kind: SourceKind;
  config: Record<string, unknown>;
  schedule: string | null;
  enabled: boolean;
  softMatch: boolean;
  deleteThresholdCount: number;
  deleteThresholdPercent: number;
  gracePeriodDays: number;
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

export const sourcesRepo = {
  /** The account's SCIM-push source, created on the first push of an identity provider. */
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
    const [row] = await db('sources')
      .insert({ account_id: accountId, name: 'SCIM push', kind: 'scim' })
      .onConflict(db.raw('(account_id) where kind = \'scim\''))
      .ignore()
      .returning('*');
    if (row) return { source: toSource(row as Row), created: true };
    // Another transaction created it first (and has committed: the conflict waited for it).
    return { source: toSource((await db('sources').where({ account_id: accountId, kind: 'scim' }).first()) as Row), created: false };
  },

  async findById(db: Executor, accountId: string, id: string): Promise<SourceRecord | undefined> {
    const row = await db('sources').where({ account_id: accountId, id }).first();
    return row ? toSource(row as Row) : undefined;
  },
};
