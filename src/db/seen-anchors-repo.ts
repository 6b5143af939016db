/**
 * The anchors a sync run's read yielded (table sync_run_seen), and the deletion phase's questions about the source's
 * links that are answered against them in SQL: which live links a run deactivates, and which missing ones expired.
 * The run holds none of it in memory, so its footprint does not grow with the source.
 */
import { selectRows, type Executor } from './database.js';

export interface RunKey {
  accountId: string;
  sourceId: string;
  runId: string;
}

/** An object the read yielded: its anchor, and how other records may refer to it (SourceRecord.referenceKeys). */
export interface SeenObject {
  anchor: string;
  referenceKeys?: Readonly<Record<string, string>> | undefined;
}

export interface DeactivationQuery {
  /** Anchors the read reported deleted: deactivated when their link is live. */
  deletes: readonly string[];
  /** A complete read: every live link it did not see is deactivated too. */
  complete: boolean;
}

/** `l` is a link of the run's source; bindings: the run's key (account, run). */
const NOT_SEEN = 'not exists (select 1 from sync_run_seen s where s.account_id = l.account_id and s.run_id = ? and s.anchor = l.anchor)';

/** The links a run deactivates (bindings after those of the statement's head: account, source, deletes, complete, run). */
const TO_DEACTIVATE = `from user_source_links l
 where l.account_id = ? and l.source_id = ? and l.missing_since is null
   and (l.anchor = any(?::text[]) or (?::boolean and ${NOT_SEEN}))`;

export const seenAnchorsRepo = {
  /** Notes anchors the run read, with the keys other records may refer to them by (repeats are harmless). */
  async add(db: Executor, run: RunKey, seen: readonly SeenObject[]): Promise<void> {
    if (seen.length === 0) return;
    await db.raw(
      `insert into sync_run_seen (account_id, source_id, run_id, anchor, reference_keys)
       select ?::uuid, ?::uuid, ?::uuid, v.anchor, v.keys from jsonb_to_recordset(?::jsonb) as v(anchor text, keys jsonb)`,
      [run.accountId, run.sourceId, run.runId, JSON.stringify(seen.map((s) => (s.referenceKeys ? { anchor: s.anchor, keys: s.referenceKeys } : { anchor: s.anchor })))],
    );
  },

  /** Forgets what the source's runs read: at the end of a run, and at the start of the next one (after a killed run). */
  async clear(db: Executor, accountId: string, sourceId: string): Promise<void> {
    await db.raw('delete from sync_run_seen where account_id = ? and source_id = ?', [accountId, sourceId]);
  },

  /** The source's live links (not missing): what the deletion threshold is a share of. */
  async liveLinks(db: Executor, accountId: string, sourceId: string): Promise<number> {
    const rows = await selectRows<{ n: number | string }>(db, 'select count(*) as n from user_source_links where account_id = ? and source_id = ? and missing_since is null', [accountId, sourceId]);
    return Number(rows[0]?.n ?? 0);
  },

  /** How many links the run deactivates. */
  async countToDeactivate(db: Executor, run: RunKey, query: DeactivationQuery): Promise<number> {
    const rows = await selectRows<{ n: number | string }>(db, `select count(*) as n ${TO_DEACTIVATE}`, [run.accountId, run.sourceId, [...query.deletes], query.complete, run.runId]);
    return Number(rows[0]?.n ?? 0);
  },

  /** The next `limit` links the run deactivates after the anchor `after` (keyset, in anchor order). */
  async toDeactivate(db: Executor, run: RunKey, query: DeactivationQuery, after: string | null, limit: number): Promise<{ anchor: string; userId: string }[]> {
    const rows = await selectRows<{ anchor: string; user_id: string }>(
      db,
      `select l.anchor, l.user_id ${TO_DEACTIVATE} and (?::text is null or l.anchor > ?::text) order by l.anchor limit ?`,
      [run.accountId, run.sourceId, [...query.deletes], query.complete, run.runId, after, after, limit],
    );
    return rows.map((r) => ({ anchor: r.anchor, userId: r.user_id }));
  },

  /** Links missing since `before` or earlier (past the grace period) that the run did not read again. */
  async expired(db: Executor, run: RunKey, before: Date): Promise<{ anchor: string; userId: string }[]> {
    const rows = await selectRows<{ anchor: string; user_id: string }>(
      db,
      `select l.anchor, l.user_id from user_source_links l
        where l.account_id = ? and l.source_id = ? and l.missing_since is not null and l.missing_since <= ? and ${NOT_SEEN}
        order by l.anchor`,
      [run.accountId, run.sourceId, before.toISOString(), run.runId],
    );
    return rows.map((r) => ({ anchor: r.anchor, userId: r.user_id }));
  },
};
