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
  async outbox(db: Executor, now: Date): Promise<OutboxState> {
    const rows = await selectRows<{ status: string; n: number | string; oldest: Date | string | null }>(
      db,
      `select status, count(*) as n, min(created_at) filter (where status in ('pending', 'sending')) as oldest from outbox group by status`,
      [],
    );
    const byStatus = new Map(rows.map((r) => [r.status, Number(r.n)]));
    const oldest = rows.map((r) => (r.oldest === null ? undefined : new Date(r.oldest).getTime())).filter((t): t is number => t !== undefined);
    const oldestPendingSeconds = oldest.length > 0 ? Math.max(0, (now.getTime() - Math.min(...oldest)) / 1000) : 0;
    return { byStatus, oldestPendingSeconds };
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
