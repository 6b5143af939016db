import type { Knex } from 'knex';
import PQueue from 'p-queue';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { describeMailError, isPermanentMailError, type Mailer } from './mailer.js';
import { claimDue, markFailed, markSent, release, type OutboxRow } from '../../db/outbox-repo.js';

export interface MailWorkerOptions {
  db: Knex;
  mailer: Mailer;
  clock: Clock;
  logger: Logger;
  /** The From address of every message. */
  from: string;
  /** Messages sent at once. */
  concurrency?: number;
  /** Most messages claimed by one query (and held claimed, in memory, at once). */
  batchSize?: number;
  /** How often a started worker looks for due messages when nobody wakes it. */
  pollIntervalMs?: number;
  /** How long a claim lasts; a message still unsent then may be claimed by another worker. */
  leaseMs?: number;
  /** Attempts before a message that keeps failing temporarily is marked failed. */
  maxAttempts?: number;
  /** Delay before the first retry, doubled on every further attempt. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
}

/**
 * Delivers the outbox. Each message is claimed before it is sent (SKIP LOCKED and a lease, so any number of
 * workers on one database never send the same message concurrently), sent, and marked sent as soon as the server
 * accepted it. A send is not started when less than a quarter of its lease is left, and is aborted when the lease
 * ends, so a message is never sent by two workers; a worker that stops hands its unstarted claims back.
 */
export class MailWorker {
  private readonly db: Knex;
  private readonly mailer: Mailer;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly from: string;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly queue: PQueue;
  /** Claimed messages not yet settled (waiting in the queue or being sent). */
  private readonly held = new Map<string, { row: OutboxRow; started: boolean }>();
  /** Outcomes being written after the send slot was freed, so the next send need not wait for the database. */
  private readonly recording = new Set<Promise<void>>();
  private claiming: Promise<number> = Promise.resolve(0);
  private running = false;
  private stopping = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;

  constructor(options: MailWorkerOptions) {
    this.db = options.db;
    this.mailer = options.mailer;
    this.clock = options.clock;
    this.logger = options.logger;
    this.from = options.from;
    this.concurrency = options.concurrency ?? 8;
    this.batchSize = options.batchSize ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 30_000;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 3_600_000;
    this.queue = new PQueue({ concurrency: this.concurrency });
  }

  /** Starts polling the outbox in the background. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Stops polling, hands back claimed messages not yet being sent, and waits for the sends in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = undefined;
    await this.claiming.catch(() => undefined);
    this.queue.clear();
    const now = this.clock.now();
    for (const [key, entry] of this.held) {
      if (entry.started) continue;
      this.held.delete(key);
      await release(this.db, entry.row, now).catch((error: unknown) =>
        this.logger.warn({ err: error, outboxId: entry.row.id }, 'could not hand a claimed message back to the outbox'),
      );
    }
    await this.settled();
    this.stopping = false;
  }

  /** Asks a started worker to look for due messages now (call it after a transaction that enqueued mail commits). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Delivers every message due now and resolves when nothing is due any more (messages waiting for a retry are not
   * due). Works whether or not the worker is started.
   */
  async drain(): Promise<void> {
    for (;;) {
      if (this.stopping) break;
      const claimed = await this.claim();
      if (claimed > 0) {
        await this.queue.onSizeLessThan(this.concurrency);
        continue;
      }
      if (this.queue.size === 0 && this.queue.pending === 0 && this.recording.size === 0) break;
      await this.settled();
    }
    await this.settled();
  }

  /** Resolves when no send is queued or in flight and every outcome is written. */
  private async settled(): Promise<void> {
    do {
      await this.queue.onIdle();
      await Promise.all([...this.recording]);
    } while (this.queue.size > 0 || this.queue.pending > 0 || this.recording.size > 0);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const claimed = await this.claim();
        if (claimed > 0) {
          await this.queue.onSizeLessThan(this.concurrency);
          continue;
        }
      } catch (error) {
        this.logger.error({ err: error }, 'mail worker could not claim messages from the outbox');
      }
      await this.sleep(this.pollIntervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wakeUp = () => {
        this.woken = false;
        finish();
      };
    });
  }

  /** Claims what fits in the batch and queues it; one claim query at a time per worker. */
  private claim(): Promise<number> {
    const next = this.claiming.catch(() => 0).then(async () => {
      const room = this.batchSize - this.held.size;
      if (room <= 0 || this.stopping) return 0;
      const rows = await claimDue(this.db, room, this.clock.now(), this.leaseMs);
      for (const row of rows) {
        const key = `${row.accountId}/${row.id}`;
        const entry = { row, started: false };
        this.held.set(key, entry);
        void this.queue.add(() => this.deliver(key, entry)).catch((error: unknown) => {
          this.logger.error({ err: error, outboxId: row.id }, 'mail delivery task failed');
        });
      }
      return rows.length;
    });
    this.claiming = next;
    return next;
  }

  private async deliver(key: string, entry: { row: OutboxRow; started: boolean }): Promise<void> {
    if (this.stopping) return; // stop() hands the claim back
    const { row } = entry;
    let outcome: () => Promise<void>;
    try {
      const left = row.leaseUntil!.getTime() - this.clock.now().getTime();
      if (left < this.leaseMs / 4) {
        // Too close to the end of the claim: another worker could take it over while we send.
        outcome = async () => void (await release(this.db, row, this.clock.now()));
      } else {
        entry.started = true;
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(new Error('the claim on the message ran out while sending')), left * 0.9);
        try {
          await this.mailer.send(
            { from: this.from, to: row.to, subject: row.subject, text: row.text, html: row.html, messageId: row.messageId },
            { signal: abort.signal },
          );
          outcome = () => this.recordSent(row);
        } catch (error) {
          outcome = () => this.recordFailure(row, error ?? new Error('send failed'));
        } finally {
          clearTimeout(timer);
        }
      }
    } catch (error) {
      this.held.delete(key);
      throw error;
    }
    // The send slot is free from here: the outcome is written while the next message goes out.
    const recording = outcome()
      .catch((error: unknown) => this.logger.error({ err: error, outboxId: row.id }, 'could not record the outcome of an email delivery'))
      .finally(() => {
        this.held.delete(key);
        this.recording.delete(recording);
      });
    this.recording.add(recording);
  }

  private async recordFailure(row: OutboxRow, error: unknown): Promise<void> {
    const permanent = isPermanentMailError(error);
    const message = describeMailError(error);
    const status = await markFailed(this.db, row, {
      error: message,
      permanent,
      now: this.clock.now(),
      maxAttempts: this.maxAttempts,
      baseDelayMs: this.retryBaseDelayMs,
      maxDelayMs: this.retryMaxDelayMs,
    });
    const log = { outboxId: row.id, accountId: row.accountId, kind: row.kind, attempts: row.attempts, error: message };
    if (status === 'failed') this.logger.error(log, 'email could not be delivered and will not be retried');
    else if (status === 'pending') this.logger.warn(log, 'email delivery failed; it will be retried');
    else this.logger.warn(log, 'email delivery failed after its claim was taken over by another worker');
  }

  /** Marks a delivered message sent, retrying a failing database briefly: a row left `sending` would be sent again. */
  private async recordSent(row: OutboxRow): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (await markSent(this.db, row, this.clock.now())) {
          this.logger.debug({ outboxId: row.id, accountId: row.accountId, kind: row.kind }, 'email delivered');
        } else {
          this.logger.warn({ outboxId: row.id, accountId: row.accountId }, 'email was delivered after its claim was taken over');
        }
        return;
      } catch (error) {
        if (attempt >= 5) {
          this.logger.error({ err: error, outboxId: row.id }, 'email was delivered but could not be marked sent; it may be sent again');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }
}
