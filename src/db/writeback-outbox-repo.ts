/**
 * The write-back outbox (migrations/20261206230100_create_writeback_outbox.ts): changes Switchboard writes back to a
 * source system, enqueued in the transaction of the edit that causes them and delivered by the write-back worker.
 * One row per user and kind: enqueueing twice leaves the first row (the seed's username is applied once). Claims
 * are fenced by `attempts`, as in the mail outbox.
 */
import type { Executor } from './database.js';
import { claimDueRows, claimedRow } from './outbox-claims.js';

export type WriteBackKind = 'username';
export type WriteBackStatus = 'pending' | 'sending' | 'delivered' | 'failed';

export interface WriteBackRow {
  accountId: string;
  id: string;
  sourceId: string;
  userId: string;
  kind: WriteBackKind;
  payload: Record<string, unknown>;
  status: WriteBackStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  target: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

interface DbRow {
  account_id: string;
  id: string;
  source_id: string;
  user_id: string;
  kind: WriteBackKind;
  payload: Record<string, unknown> | string;
  status: WriteBackStatus;
  attempts: number;
  next_attempt_at: Date | string;
  last_error: string | null;
  target: string | null;
  created_at: Date | string;
  delivered_at: Date | string | null;
}

const TABLE = 'writeback_outbox';
const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function toRow(r: DbRow): WriteBackRow {
  return {
    accountId: r.account_id,
    id: r.id,
    sourceId: r.source_id,
    userId: r.user_id,
    kind: r.kind,
    payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: toDate(r.next_attempt_at),
    lastError: r.last_error,
    target: r.target,
    createdAt: toDate(r.created_at),
    deliveredAt: r.delivered_at === null ? null : toDate(r.delivered_at),
  };
}

type Claim = Pick<WriteBackRow, 'accountId' | 'id' | 'attempts'>;

export const writeBackOutboxRepo = {
  /** Enqueues in the caller's transaction; false when the user already has a row of this kind (applied once). */
  async enqueue(trx: Executor, row: { accountId: string; sourceId: string; userId: string; kind: WriteBackKind; payload: Record<string, unknown>; at: Date }): Promise<boolean> {
    const inserted = (await trx(TABLE)
      .insert({ account_id: row.accountId, source_id: row.sourceId, user_id: row.userId, kind: row.kind, payload: JSON.stringify(row.payload), next_attempt_at: row.at, created_at: row.at })
      .onConflict(['account_id', 'user_id', 'kind'])
      .ignore()
      .returning('id')) as unknown[];
    return inserted.length === 1;
  },

  /** Claims due rows for `leaseMs` (outbox-claims.ts), oldest first. */
  async claimDue(db: Executor, limit: number, now: Date, leaseMs: number): Promise<WriteBackRow[]> {
    return (await claimDueRows<DbRow>(db, TABLE, limit, now, leaseMs)).map(toRow).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  },

  async markDelivered(db: Executor, row: Claim, target: string, now: Date): Promise<boolean> {
    const n = await claimedRow(db, TABLE, row).update({ status: 'delivered', target, delivered_at: now, lease_until: null, last_error: null });
    return n === 1;
  },

  /** Back to pending at `retryAt`, or failed for good when `retryAt` is null. */
  async markFailed(db: Executor, row: Claim, error: string, retryAt: Date | null): Promise<boolean> {
    const n = await claimedRow(db, TABLE, row).update(retryAt ? { status: 'pending', next_attempt_at: retryAt, lease_until: null, last_error: error.slice(0, 2000) } : { status: 'failed', lease_until: null, last_error: error.slice(0, 2000) });
    return n === 1;
  },

  async forUser(db: Executor, accountId: string, userId: string): Promise<WriteBackRow[]> {
    return ((await db(TABLE).where({ account_id: accountId, user_id: userId }).orderBy('created_at')) as DbRow[]).map(toRow);
  },

  /** The source a user's write-back goes to: the MiVB source linking the user, else the account's first MiVB source. */
  async mivbSourceFor(db: Executor, accountId: string, userId: string): Promise<string | undefined> {
    const linked = (await db('user_source_links').where({ account_id: accountId, user_id: userId, source_kind: 'mivb' }).first('source_id')) as { source_id: string } | undefined;
    if (linked) return linked.source_id;
    const first = (await db('sources').where({ account_id: accountId, kind: 'mivb' }).orderBy('created_at').first('id')) as { id: string } | undefined;
    return first?.id;
  },
};
