/**
 * The records of a sync run whose manager was not linked when they were written (table sync_run_managers), kept in
 * the database until the run's manager phase sets them (src/sync/manager-phase.ts): the run holds none of them in
 * memory, so its footprint does not grow with how many reports a read yields before their managers.
 */
import { selectRows, type Executor } from './database.js';
import type { RunKey } from './seen-anchors-repo.js';

/** A record waiting for its manager. */
export interface PendingManager {
  anchor: string;
  /** The manager's anchor, or with `managerBy` the reference the connector could not resolve (for LDAP: its DN). */
  managerAnchor: string;
  managerBy?: string | undefined;
  /** The record's attributes, its manager still the source's anchor. */
  attributes: Record<string, unknown>;
  /** The record as the source sent it. */
  raw: Record<string, unknown>;
  /** The link hash the record wrote. */
  hash: string;
}

export const runManagersRepo = {
  /** Notes records waiting for their manager; a record noted earlier in the run is replaced (at most one per anchor). */
  async add(db: Executor, run: RunKey, pending: readonly PendingManager[]): Promise<void> {
    if (pending.length === 0) return;
    // json, not jsonb, all the way (json_to_recordset): the phase hashes attributes and raw as read back, and jsonb
    // would hand them back in another key order, a hash the next run's record never equals.
    await db.raw(
      `insert into sync_run_managers (account_id, source_id, run_id, anchor, manager_anchor, manager_by, attributes, raw, hash)
       select ?::uuid, ?::uuid, ?::uuid, v.anchor, v.manager_anchor, v.manager_by, v.attributes, v.raw, v.hash
         from json_to_recordset(?::json) as v(anchor text, manager_anchor text, manager_by text, attributes json, raw json, hash text)
       on conflict (account_id, run_id, anchor) do update
         set manager_anchor = excluded.manager_anchor, manager_by = excluded.manager_by, attributes = excluded.attributes, raw = excluded.raw, hash = excluded.hash`,
      [
        run.accountId, run.sourceId, run.runId,
        JSON.stringify(pending.map((p) => ({ anchor: p.anchor, manager_anchor: p.managerAnchor, manager_by: p.managerBy ?? null, attributes: p.attributes, raw: p.raw, hash: p.hash }))),
      ],
    );
  },

  /**
   * Turns managers named by reference into anchors: the records the run read (sync_run_seen) whose referenceKeys
   * hold the reference. One statement for the whole run (one hash join), once its read is applied; a reference no
   * record of the read holds stays one, and its record without a manager.
   */
  async resolveReferences(db: Executor, run: RunKey): Promise<void> {
    await db.raw(
      `update sync_run_managers m set manager_anchor = s.anchor, manager_by = null
         from sync_run_seen s
        where m.account_id = ? and m.run_id = ? and m.manager_by is not null
          and s.account_id = m.account_id and s.run_id = m.run_id and s.reference_keys ->> m.manager_by = m.manager_anchor`,
      [run.accountId, run.runId],
    );
  },

  /** The next `limit` records of the run whose manager is an anchor, after the anchor `after` (keyset, in anchor order). */
  async page(db: Executor, run: RunKey, after: string | null, limit: number): Promise<PendingManager[]> {
    const rows = await selectRows<{ anchor: string; manager_anchor: string; attributes: Record<string, unknown>; raw: Record<string, unknown>; hash: string }>(
      db,
      `select anchor, manager_anchor, attributes, raw, hash from sync_run_managers
        where account_id = ? and run_id = ? and manager_by is null and (?::text is null or anchor > ?::text) order by anchor limit ?`,
      [run.accountId, run.runId, after, after, limit],
    );
    return rows.map((r) => ({ anchor: r.anchor, managerAnchor: r.manager_anchor, attributes: r.attributes, raw: r.raw, hash: r.hash }));
  },

  /** Forgets what the source's runs noted: at the end of a run, and at the start of the next one (after a killed run). */
  async clear(db: Executor, accountId: string, sourceId: string): Promise<void> {
    await db.raw('delete from sync_run_managers where account_id = ? and source_id = ?', [accountId, sourceId]);
  },
};
