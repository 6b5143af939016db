/**
 * The state /metrics reads from the database at scrape time: the same answer from every instance, whichever did
 * the work (services/metrics.ts).
 */
import { selectRows, type Executor } from './database.js';

export interface OutboxState {
  /** Messages by status (pending, sending, sent, failed); a status with none is absent. */
  byStatus: Map<string, number>;
  /** Seconds the oldest pending (or sending) message has waited since it was queued; 0 with none. */
  oldestPendingSeconds: number;
}

export interface SourceLastSuccess {
  accountId: string;
  sourceId: string;
  kind: string;
  /** When its last run that succeeded ended (dry runs and failed runs do not count). */
  at: Date;
}

export const metricsRepo = {
  /** The age is the database's own: created_at is its now() when the message was queued. */
  async outbox(db: Executor): Promise<OutboxState> {
    const rows = await selectRows<{ status: string; n: number | string; age: number | string | null }>(
      db,
      `select status, count(*) as n, extract(epoch from now() - min(created_at) filter (where status in ('pending', 'sending'))) as age from outbox group by status`,
      [],
    );
    const byStatus = new Map(rows.map((r) => [r.status, Number(r.n)]));
    const ages = rows.filter((r) => r.age !== null).map((r) => Number(r.age));
    return { byStatus, oldestPendingSeconds: ages.length > 0 ? Math.max(0, ...ages) : 0 };
  },

  /** Sources that have had a successful run within the run history kept (sync_runs: 30 days). */
  async sourcesLastSuccess(db: Executor): Promise<SourceLastSuccess[]> {
    const rows = await selectRows<{ account_id: string; id: string; kind: string; at: Date | string }>(
      db,
      `select s.account_id, s.id, s.kind, r.at
         from sources as s
         join lateral (select max(finished_at) as at from sync_runs
                        where account_id = s.account_id and source_id = s.id and status in ('succeeded', 'completed_with_errors') and not dry_run) as r on r.at is not null`,
      [],
    );
    return rows.map((r) => ({ accountId: r.account_id, sourceId: r.id, kind: r.kind, at: new Date(r.at) }));
  },
};
