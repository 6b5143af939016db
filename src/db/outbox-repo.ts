import crypto from 'node:crypto';
import type { Executor } from './database.js';
import { claimDueRows, claimedRow } from './outbox-claims.js';
import type { MailKind } from '../domain/mail-kinds.js';

// The mail outbox table (migrations/20261129000300_create_outbox.ts). Every function takes the executor it runs
// on: enqueue runs in the caller's transaction, so a message exists only if the action that caused it committed.
//
// Claims are fenced by `attempts` (outbox-claims.ts): markSent / markFailed / release only change a row that is still
// `sending` with the attempt number of the claim.

export const OUTBOX = 'outbox';

export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';
export const outboxStatuses: readonly OutboxStatus[] = ['pending', 'sending', 'sent', 'failed'];

export interface OutboxMessage {
  kind: MailKind;
  to: string;
  subject: string;
  text: string;
  html: string;
  userId?: string | null;
  actionId?: string | null;
  /** The right-hand side of the generated Message-ID (e.g. the host of PUBLIC_URL). */
  messageIdDomain?: string;
  /** When the message is first due; now by default. */
  notBefore?: Date;
}

export interface OutboxRow {
  accountId: string;
  id: string;
  kind: MailKind;
  userId: string | null;
  actionId: string | null;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: Date;
  leaseUntil: Date | null;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

interface DbRow {
  account_id: string;
  id: string;
  kind: MailKind;
  user_id: string | null;
  action_id: string | null;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string;
  message_id: string;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Date | string;
  lease_until: Date | string | null;
  last_error: string | null;
  created_at: Date | string;
  sent_at: Date | string | null;
}

const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));
const toDateOrNull = (value: Date | string | null): Date | null => (value === null ? null : toDate(value));

export function toOutboxRow(row: DbRow): OutboxRow {
  return {
    accountId: row.account_id,
    id: row.id,
    kind: row.kind,
    userId: row.user_id,
    actionId: row.action_id,
    to: row.to_address,
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    messageId: row.message_id,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: toDate(row.next_attempt_at),
    leaseUntil: toDateOrNull(row.lease_until),
    lastError: row.last_error,
    createdAt: toDate(row.created_at),
    sentAt: toDateOrNull(row.sent_at),
  };
}

/** A fresh RFC 5322 Message-ID, angle brackets included. */
export function generateMessageId(domain = 'switchboard.localhost'): string {
  return `<${crypto.randomUUID()}@${domain}>`;
}

/** Writes a message to the outbox in the caller's transaction. */
export async function enqueue(trx: Executor, accountId: string, message: OutboxMessage): Promise<{ id: string; messageId: string }> {
  const messageId = generateMessageId(message.messageIdDomain);
  const [row] = await trx(OUTBOX)
    .insert({
      account_id: accountId,
      kind: message.kind,
      user_id: message.userId ?? null,
      action_id: message.actionId ?? null,
      to_address: message.to,
      subject: message.subject,
      text_body: message.text,
      html_body: message.html,
      message_id: messageId,
      ...(message.notBefore ? { next_attempt_at: message.notBefore } : {}),
    })
    .returning('id');
  return { id: (row as { id: string }).id, messageId };
}

/** Claims up to `limit` due messages for `leaseMs` (outbox-claims.ts), oldest first. */
export async function claimDue(db: Executor, limit: number, now: Date, leaseMs: number): Promise<OutboxRow[]> {
  return (await claimDueRows<DbRow>(db, OUTBOX, limit, now, leaseMs)).map(toOutboxRow).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

function claimed(db: Executor, row: Pick<OutboxRow, 'accountId' | 'id' | 'attempts'>) {
  return claimedRow(db, OUTBOX, row);
}

/** Bodies of credential emails are not kept once the message has left: the passwords live in the mailbox only. */
function redactedBodies(row: Pick<OutboxRow, 'kind'>): Record<string, string> {
  return row.kind === 'mivb_deployment_credentials'
    ? { text_body: '[removed after delivery]', html_body: '[removed after delivery]' }
    : {};
}

/** Records that the SMTP server accepted the claimed message. False if the claim was lost to another worker. */
export async function markSent(db: Executor, row: Pick<OutboxRow, 'accountId' | 'id' | 'attempts' | 'kind'>, now: Date): Promise<boolean> {
  const count = await claimed(db, row).update({
    status: 'sent',
    sent_at: now,
    lease_until: null,
    last_error: null,
    ...redactedBodies(row),
  });
  return count === 1;
}

export interface FailureOptions {
  error: string;
  /** The server refused the message for good (5xx): no retry. */
  permanent: boolean;
  now: Date;
  maxAttempts: number;
  /** Delay before the first retry; doubled for each further attempt. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Exponential backoff: base, 2·base, 4·base, … capped at maxDelayMs. `attempts` is the number made so far (≥ 1). */
export function retryDelayMs(attempts: number, baseDelayMs = 30_000, maxDelayMs = 3_600_000): number {
  return Math.min(baseDelayMs * 2 ** Math.max(0, attempts - 1), maxDelayMs);
}

/**
 * Records a failed attempt of the claimed message: back to pending with a backoff, or failed when the error is
 * permanent or the attempts are used up. Returns the new status, or null if the claim was lost.
 */
export async function markFailed(
  db: Executor,
  row: Pick<OutboxRow, 'accountId' | 'id' | 'attempts' | 'kind'>,
  options: FailureOptions,
): Promise<'pending' | 'failed' | null> {
  const error = options.error.slice(0, 2000);
  const final = options.permanent || row.attempts >= options.maxAttempts;
  const count = await claimed(db, row).update(
    final
      ? { status: 'failed', lease_until: null, last_error: error, ...redactedBodies(row) }
      : {
          status: 'pending',
          lease_until: null,
          last_error: error,
          next_attempt_at: new Date(options.now.getTime() + retryDelayMs(row.attempts, options.baseDelayMs, options.maxDelayMs)),
        },
  );
  if (count !== 1) return null;
  return final ? 'failed' : 'pending';
}

/** Hands a claimed message that was never tried back to the outbox (the worker is stopping), due at once. */
export async function release(db: Executor, row: Pick<OutboxRow, 'accountId' | 'id' | 'attempts'>, now: Date): Promise<boolean> {
  const count = await claimed(db, row).update({
    status: 'pending',
    attempts: row.attempts - 1,
    lease_until: null,
    next_attempt_at: now,
  });
  return count === 1;
}

export async function findById(db: Executor, accountId: string, id: string): Promise<OutboxRow | undefined> {
  const row = await db(OUTBOX).where({ account_id: accountId, id }).first();
  return row ? toOutboxRow(row as DbRow) : undefined;
}

/** The messages an action caused, oldest first. */
export async function findByAction(db: Executor, accountId: string, actionId: string): Promise<OutboxRow[]> {
  const rows = await db(OUTBOX).where({ account_id: accountId, action_id: actionId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return (rows as DbRow[]).map(toOutboxRow);
}

/** Number of messages per status, over one account or the whole outbox. Every status is present. */
export async function countByStatus(db: Executor, accountId?: string): Promise<Record<OutboxStatus, number>> {
  const query = db(OUTBOX).select('status').count<Array<{ status: OutboxStatus; count: number | string }>>('* as count').groupBy('status');
  if (accountId) query.where({ account_id: accountId });
  const counts: Record<OutboxStatus, number> = { pending: 0, sending: 0, sent: 0, failed: 0 };
  for (const { status, count } of await query) counts[status] = Number(count);
  return counts;
}
