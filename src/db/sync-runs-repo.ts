/**
 * SQL of the sync engine: run history, per-object results, and the
 * matching queries (hard and soft keys). Thin, explicit row mappers; every `where` starts with `account_id`.
 */
import type { Knex } from 'knex';
import { selectRows, type Executor } from './database.js';
import { perKeyFrom } from './key-lookup.js';
import { columnMapping } from './resource-mappings.js';
import { compileFilter } from './scim-filter-sql.js';
import type { FilterNode } from '../domain/scim-filter.js';
import { syncRunResourceType } from '../domain/sync-schema.js';
import type { StoredUser } from './users-repo.js';

export type SyncMode = 'full' | 'incremental';
export type SyncRunStatus = 'running' | 'succeeded' | 'completed_with_errors' | 'failed' | 'stopped_deletion_threshold';
export type SyncOutcome = 'created' | 'updated' | 'unchanged' | 'deactivated' | 'deleted' | 'quarantined';

export interface SyncCounts {
  created: number;
  updated: number;
  unchanged: number;
  deactivated: number;
  deleted: number;
  quarantined: number;
  /** Objects of the source that are not users (MiCloud contacts): read and left alone. */
  skipped: number;
  /** Requests the connector sent again after the source throttled or failed them (429, 503, 504, no answer). */
  retries: number;
  /** Groups the source owns (connectors that read groups). */
  groupsCreated: number;
  groupsUpdated: number;
  groupsDeleted: number;
}

export const emptyCounts = (): SyncCounts => ({
  created: 0, updated: 0, unchanged: 0, deactivated: 0, deleted: 0, quarantined: 0, skipped: 0, retries: 0, groupsCreated: 0, groupsUpdated: 0, groupsDeleted: 0,
});

export interface SyncRunRecord {
  accountId: string;
  id: string;
  sourceId: string;
  mode: SyncMode;
  trigger: string;
  dryRun: boolean;
  allowDeletes: boolean;
  status: SyncRunStatus;
  counts: SyncCounts;
  error: string | null;
  /** The source had not changed since the last run (an unchanged export): nothing was read or touched. */
  idle: boolean;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
}

/** One object's outcome; `changes` is attribute → { old, new }. */
export interface SyncResult {
  seq: number;
  anchor: string | null;
  userId: string | null;
  outcome: SyncOutcome;
  changes: Record<string, { old: unknown; new: unknown }>;
  error: string | null;
}

type Row = Record<string, unknown>;

/** What the engine's batched path keeps of a link. */
export interface BatchLink {
  userId: string;
  hash: string | null;
  missingSince: Date | null;
  ownedAttributes: string[];
}

/** Values to match unlinked records by: externalId and employeeNumber as given, email and userName lower-cased. */
export interface MatchKeys {
  externalId: readonly string[];
  employeeNumber: readonly string[];
  email: readonly string[];
  userName: readonly string[];
}

export type MatchCandidates = { [K in keyof MatchKeys]: Map<string, string[]> };

const toRun = (r: Row): SyncRunRecord => {
  const startedAt = new Date(r.started_at as string);
  const finishedAt = r.finished_at ? new Date(r.finished_at as string) : null;
  return {
    accountId: r.account_id as string,
    id: r.id as string,
    sourceId: r.source_id as string,
    mode: r.mode as SyncMode,
    trigger: r.trigger as string,
    dryRun: r.dry_run as boolean,
    allowDeletes: r.allow_deletes as boolean,
    status: r.status as SyncRunStatus,
    counts: { ...emptyCounts(), ...((r.counts as Partial<SyncCounts>) ?? {}) },
    error: (r.error as string | null) ?? null,
    idle: r.idle === true,
    startedAt,
    finishedAt,
    durationMs: finishedAt ? finishedAt.getTime() - startedAt.getTime() : null,
  };
};

const toResult = (r: Row): SyncResult => ({
  seq: r.seq as number,
  anchor: (r.anchor as string | null) ?? null,
  userId: (r.user_id as string | null) ?? null,
  outcome: r.outcome as SyncOutcome,
  changes: (r.changes as SyncResult['changes']) ?? {},
  error: (r.error as string | null) ?? null,
});

export interface RunListQuery {
  /** A SCIM filter over the SyncRun attributes below, compiled to SQL. */
  filter?: FilterNode;
  offset: number;
  limit: number;
}

/** The SyncRun attributes a list may filter on, and their columns. */
const syncRunsMapping = columnMapping(syncRunResourceType, 'r', {
  id: 'r.id',
  sourceId: { sql: 'r.source_id', type: 'uuid', nullable: false },
  mode: 'r.mode',
  trigger: 'r.trigger',
  status: 'r.status',
  dryRun: 'r.dry_run',
  allowDeletes: 'r.allow_deletes',
  error: 'r.error',
  startedAt: 'r.started_at',
  finishedAt: 'r.finished_at',
  counts: { jsonb: 'r.counts' },
  'meta.created': 'r.started_at',
});

export const syncRunsRepo = {
  async insert(
    db: Executor,
    run: { accountId: string; sourceId: string; mode: SyncMode; trigger: string; dryRun: boolean; allowDeletes: boolean; at: Date },
  ): Promise<SyncRunRecord> {
    const [row] = (await db('sync_runs')
      .insert({
        account_id: run.accountId,
        source_id: run.sourceId,
        mode: run.mode,
        trigger: run.trigger,
        dry_run: run.dryRun,
        allow_deletes: run.allowDeletes,
        status: 'running',
        counts: JSON.stringify(emptyCounts()),
        started_at: run.at,
      })
      .returning('*')) as Row[];
    return toRun(row!);
  },

  async saveCounts(db: Executor, accountId: string, id: string, counts: SyncCounts): Promise<void> {
    await db('sync_runs').where({ account_id: accountId, id }).update({ counts: JSON.stringify(counts) });
  },

  async finish(db: Executor, accountId: string, id: string, end: { status: SyncRunStatus; counts: SyncCounts; error: string | null; at: Date; idle?: boolean }): Promise<SyncRunRecord> {
    const [row] = (await db('sync_runs')
      .where({ account_id: accountId, id })
      .update({ status: end.status, counts: JSON.stringify(end.counts), error: end.error, finished_at: end.at, idle: end.idle === true })
      .returning('*')) as Row[];
    return toRun(row!);
  },

  async findById(db: Executor, accountId: string, id: string): Promise<SyncRunRecord | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const row = (await db('sync_runs').where({ account_id: accountId, id }).first()) as Row | undefined;
    return row ? toRun(row) : undefined;
  },

  async list(db: Executor, accountId: string, query: RunListQuery): Promise<{ runs: SyncRunRecord[]; total: number }> {
    const where = query.filter ? compileFilter(query.filter, syncRunsMapping) : undefined;
    const base = () => {
      const q = db('sync_runs as r').where('r.account_id', accountId);
      if (where) q.whereRaw(where.sql, where.bindings as Knex.RawBinding[]);
      return q;
    };
    const [{ n }] = (await base().count({ n: '*' })) as { n: number | string }[];
    const rows = (await base().select('r.*').orderBy([{ column: 'r.started_at', order: 'desc' }, { column: 'r.id', order: 'asc' }]).offset(query.offset).limit(query.limit)) as Row[];
    return { runs: rows.map(toRun), total: Number(n) };
  },

  /** The newest run of each of these sources (running or finished), by source id; a source never run has none. */
  async latestOfSources(db: Executor, accountId: string, sourceIds: readonly string[]): Promise<Map<string, SyncRunRecord>> {
    if (sourceIds.length === 0) return new Map();
    const rows = (await db('sync_runs')
      .distinctOn('source_id')
      .where('account_id', accountId)
      .whereIn('source_id', sourceIds)
      .orderBy([{ column: 'source_id' }, { column: 'started_at', order: 'desc' }, { column: 'id' }])) as Row[];
    return new Map(rows.map((row) => [row.source_id as string, toRun(row)]));
  },

  async insertResults(db: Executor, accountId: string, runId: string, results: readonly SyncResult[]): Promise<void> {
    if (results.length === 0) return;
    // One JSON parameter per statement (jsonb_to_recordset: parsed once, its jsonb values handed over as they are), not one bound value per column and result.
    await db.raw(
      `insert into sync_run_results (account_id, run_id, seq, anchor, user_id, outcome, changes, error)
       select ?, ?, seq, anchor, user_id, outcome, changes, error
         from jsonb_to_recordset(?::jsonb) as v(seq integer, anchor text, user_id uuid, outcome text, changes jsonb, error text)`,
      [accountId, runId, JSON.stringify(results.map((r) => ({ seq: r.seq, anchor: r.anchor, user_id: r.userId, outcome: r.outcome, changes: r.changes, error: r.error })))],
    );
  },

  async results(db: Executor, accountId: string, runId: string, limit = 1000): Promise<SyncResult[]> {
    return ((await db('sync_run_results').where({ account_id: accountId, run_id: runId }).orderBy('seq').limit(limit)) as Row[]).map(toResult);
  },

  /** Runs older than `before` (their results cascade). */
  async purge(db: Executor, accountId: string, before: Date): Promise<number> {
    return db('sync_runs').where('account_id', accountId).where('started_at', '<', before).whereNot('status', 'running').delete();
  },

  // ---- matching -------------------------------------------------------------------------------

  async usersByExternalId(db: Executor, accountId: string, value: string): Promise<string[]> {
    return ((await db('users').where({ account_id: accountId, external_id: value }).limit(2).select('id')) as { id: string }[]).map((r) => r.id);
  },

  /**
   * The hybrid hard key, both ways round: users an Active Directory source of the account links with this objectGUID
   * (for an Entra record: its onPremisesImmutableId decoded), and users an Entra link's raw record names by the
   * onPremisesImmutableId of this objectGUID (for an Active Directory record whose person Entra linked first). One
   * probe of the links' key per ldap source, one of user_source_links_account_id_immutable_id_idx.
   */
  async usersByOnPremisesObjectGuid(db: Executor, accountId: string, objectGuid: string): Promise<string[]> {
    const hex = objectGuid.replace(/-/g, '').toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) return [];
    // The immutable id is the base64 of the GUID's bytes in Microsoft's order (the first three groups little-endian).
    const swap = (from: number, length: number) => (hex.slice(from, from + length).match(/../g) ?? []).reverse().join('');
    const immutableId = Buffer.from(`${swap(0, 8)}${swap(8, 4)}${swap(12, 4)}${hex.slice(16)}`, 'hex').toString('base64');
    const rows = (await db.raw(
      `select user_id from user_source_links
        where account_id = ? and source_id in (select id from sources where account_id = ? and kind = 'ldap') and anchor = ?
       union
       select user_id from user_source_links
        where account_id = ? and raw->>'onPremisesImmutableId' = ?
          and source_id in (select id from sources where account_id = ? and kind = 'entra')
       limit 2`,
      [accountId, accountId, objectGuid.toLowerCase(), accountId, immutableId, accountId],
    )) as { rows: { user_id: string }[] };
    return rows.rows.map((r) => r.user_id);
  },

  async usersByEmployeeNumber(db: Executor, accountId: string, value: string): Promise<string[]> {
    const rows = (await db('users')
      .where('account_id', accountId)
      .whereRaw(`data->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'employeeNumber' = ?`, [value])
      .limit(2)
      .select('id')) as { id: string }[];
    return rows.map((r) => r.id);
  },

  async usersByEmailOrUserName(db: Executor, accountId: string, emails: readonly string[], userName: string | undefined): Promise<string[]> {
    const ids = new Set<string>();
    if (emails.length > 0) {
      const rows = (await db('user_emails').where('account_id', accountId).whereRaw('lower(value) = any(?)', [emails.map((e) => e.toLowerCase())]).select('user_id')) as { user_id: string }[];
      for (const r of rows) ids.add(r.user_id);
    }
    if (userName) {
      const rows = (await db('users').where('account_id', accountId).whereRaw('lower(user_name) = ?', [userName.toLowerCase()]).select('id')) as { id: string }[];
      for (const r of rows) ids.add(r.id);
    }
    return [...ids];
  },

  // ---- batched reads of the engine's fast path: one query per batch instead of one per record ----------

  /** Links of this source by anchor, without the (large) raw and attributes documents. */
  async linksByAnchors(db: Executor, accountId: string, sourceId: string, anchors: readonly string[]): Promise<Map<string, BatchLink>> {
    const out = new Map<string, BatchLink>();
    if (anchors.length === 0) return out;
    const rows = await selectRows<Row>(
      db,
      // owned_attributes as json: node-postgres parses a text[] in JavaScript (postgres-array), 34 µs a link, 0.68 s of
      // a 14.7 s profile of a 20,000-row run where every record reads its link (load average 15-19); JSON.parse is native.
      `select p.anchor, p.user_id, p.hash, p.missing_since, to_json(p.owned_attributes) as owned_attributes
         from ${perKeyFrom('?::text[]', 'select anchor, user_id, hash, missing_since, owned_attributes from user_source_links where account_id = ? and source_id = ? and anchor = k.v')}`,
      [[...anchors], accountId, sourceId],
    );
    for (const r of rows) {
      out.set(r.anchor as string, {
        userId: r.user_id as string,
        hash: (r.hash as string | null) ?? null,
        missingSince: r.missing_since ? new Date(r.missing_since as string) : null,
        ownedAttributes: (r.owned_attributes as string[] | null) ?? [],
      });
    }
    return out;
  },

  /** user id → anchor of this source's link to it, for the given users. */
  async anchorsOfUsers(db: Executor, accountId: string, sourceId: string, userIds: readonly string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map();
    const rows = await selectRows<Row>(
      db,
      `select p.user_id, p.anchor from ${perKeyFrom('?::uuid[]', 'select user_id, anchor from user_source_links where account_id = ? and user_id = k.v and source_id = ?')}`,
      [[...userIds], accountId, sourceId],
    );
    return new Map(rows.map((r) => [r.user_id as string, r.anchor as string]));
  },

  /**
   * The users a batch's unlinked records could match, in one query: by externalId and employeeNumber (hard
   * keys), and by lower-cased email and userName (soft keys). Each map is key value → user ids.
   */
  async matchCandidates(db: Executor, accountId: string, keys: MatchKeys): Promise<MatchCandidates> {
    const out: MatchCandidates = { externalId: new Map(), employeeNumber: new Map(), email: new Map(), userName: new Map() };
    const parts: string[] = [];
    const bindings: unknown[] = [];
    /** `probe` finds the user ids (`id`) whose key equals `k.v`. */
    const add = (kind: keyof MatchKeys, probe: string, values: readonly string[]) => {
      if (values.length === 0) return;
      parts.push(`select '${kind}' as kind, k.v as value, p.id from ${perKeyFrom('?::text[]', probe)}`);
      bindings.push([...values], accountId);
    };
    add('externalId', 'select id from users where account_id = ? and external_id = k.v', keys.externalId);
    add('employeeNumber', `select id from users where account_id = ? and data->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'employeeNumber' = k.v`, keys.employeeNumber);
    add('email', 'select user_id as id from user_emails where account_id = ? and lower(value) = k.v', keys.email);
    add('userName', 'select id from users where account_id = ? and lower(user_name) = k.v', keys.userName);
    if (parts.length === 0) return out;
    const result = (await db.raw(parts.join(' union all '), bindings as Knex.RawBinding[])) as { rows: { kind: keyof MatchKeys; value: string; id: string }[] };
    for (const r of result.rows) {
      const map = out[r.kind];
      const ids = map.get(r.value) ?? [];
      if (!ids.includes(r.id)) ids.push(r.id);
      map.set(r.value, ids);
    }
    return out;
  },

  /** Users by id, locked for update (the rows the batch may write). */
  async usersForUpdate(db: Executor, accountId: string, ids: readonly string[]): Promise<Map<string, StoredUser>> {
    if (ids.length === 0) return new Map();
    const rows = await selectRows<Row>(
      db,
      `select p.* from ${perKeyFrom(
        '?::uuid[]',
        'select account_id, id, data, registered, source, password_hash, version, created_at, updated_at, updated_by from users where account_id = ? and id = k.v',
        { forUpdate: true },
      )}`,
      // Locked one by one in the array's order: in id order, as the actions lock theirs, so no two writers deadlock.
      [[...ids].sort(), accountId],
    );
    return new Map(
      rows.map((r) => [
        r.id as string,
        {
          accountId: r.account_id as string,
          id: r.id as string,
          doc: r.data as Record<string, unknown>,
          registered: r.registered as boolean,
          source: r.source as string,
          passwordHash: (r.password_hash as string | null) ?? null,
          version: r.version as number,
          createdAt: new Date(r.created_at as string),
          updatedAt: new Date(r.updated_at as string),
          updatedBy: (r.updated_by as string | null) ?? null,
        },
      ]),
    );
  },

  /** Sets the hash of several links of the source in one statement. */
  async setLinkHashes(db: Executor, accountId: string, sourceId: string, hashes: ReadonlyMap<string, string>): Promise<void> {
    if (hashes.size === 0) return;
    await db.raw(
      `update user_source_links as l set hash = v.hash
         from (select unnest(?::text[]) as anchor, unnest(?::text[]) as hash) as v
        where l.account_id = ? and l.source_id = ? and l.anchor = v.anchor`,
      [[...hashes.keys()], [...hashes.values()], accountId, sourceId],
    );
  },

  async linkOfUser(db: Executor, accountId: string, sourceId: string, userId: string): Promise<{ anchor: string } | undefined> {
    return (await db('user_source_links').where({ account_id: accountId, source_id: sourceId, user_id: userId }).first('anchor')) as { anchor: string } | undefined;
  },

  async setLinkHash(db: Executor, accountId: string, sourceId: string, anchor: string, hash: string | null): Promise<void> {
    await db('user_source_links').where({ account_id: accountId, source_id: sourceId, anchor }).update({ hash });
  },

  async setMissingSince(db: Executor, accountId: string, sourceId: string, anchor: string, at: Date): Promise<void> {
    await db('user_source_links').where({ account_id: accountId, source_id: sourceId, anchor }).update({ missing_since: at, hash: null });
  },
};
