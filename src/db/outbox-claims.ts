/**
 * Claiming rows of an outbox table (the mail outbox, the write-back outbox), one rule for both. Claims are fenced by
 * `attempts`: claiming increments it, and an outcome only changes a row that is still `sending` with the attempt
 * number of its claim, so a worker that lost its lease cannot overwrite the outcome of the worker that took the row
 * over. Both tables have account_id, id, status ('pending' | 'sending' | …), attempts, next_attempt_at, lease_until.
 */
import type { Executor } from './database.js';

/**
 * Claims up to `limit` due rows of `table` for `leaseMs`: pending rows whose next_attempt_at has come, and sending rows
 * whose lease expired (their worker died). Claimed rows become `sending` with `attempts` incremented; a sending row's
 * next_attempt_at is its lease expiry, so one index serves both. SKIP LOCKED keeps concurrent claimers apart.
 */
export async function claimDueRows<Row>(db: Executor, table: string, limit: number, now: Date, leaseMs: number): Promise<Row[]> {
  if (limit <= 0) return [];
  const leaseUntil = new Date(now.getTime() + leaseMs);
  const { rows } = (await db.raw(
    `update ${table}
        set status = 'sending', attempts = attempts + 1, lease_until = :leaseUntil, next_attempt_at = :leaseUntil
      where (account_id, id) in (
        select account_id, id from ${table}
         where status in ('pending', 'sending') and next_attempt_at <= :now
         order by next_attempt_at
         limit :limit
         for update skip locked
      )
      returning *`,
    { now, leaseUntil, limit },
  )) as { rows: Row[] };
  return rows;
}

/** The claimed row of `table` while the claim holds: still `sending`, with the attempt number of the claim. */
export function claimedRow(db: Executor, table: string, row: { accountId: string; id: string; attempts: number }) {
  return db(table).where({ account_id: row.accountId, id: row.id, status: 'sending', attempts: row.attempts });
}
