import type { SecretBox } from '../lib/secret-box.js';
/**
 * Delivers the write-back outbox (src/db/writeback-outbox-repo.ts): each due row is claimed (SKIP LOCKED and a
 * lease, so several instances never deliver one row at once), handed to its source's connector (`deliver`, which is
 * idempotent by file name: a redelivery after a crash finds the file there), and marked delivered. Any connector
 * error, a missing writeBack location included, is retried with backoff (30 s doubling to an hour, 10 attempts:
 * about three and a half hours for an operator to fix the source); a source that is gone or of a kind that cannot
 * write back fails the row at once. `last_error` keeps the reason.
 */
import type { Knex } from 'knex';
import type { Connector, WriteBackMessage } from '../../connectors/sdk/index.js';
import { isConnectorError } from '../../connectors/sdk/index.js';
import { sourcesRepo } from '../db/sources-repo.js';
import { writeBackOutboxRepo, type WriteBackRow } from '../db/writeback-outbox-repo.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { retryDelayMs } from '../db/outbox-repo.js';

export interface WriteBackWorkerOptions {
  db: Knex;
  clock: Clock;
  logger: Logger;
  connectors: ReadonlyMap<string, Connector>;
  /** Opens the sealed secrets of a source's configuration; without it, configs are read as stored. */
  secrets?: SecretBox;
  pollIntervalMs?: number;
  leaseMs?: number;
  maxAttempts?: number;
  retryBaseDelayMs?: number;
}

export class WriteBackWorker {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;

  constructor(private readonly options: WriteBackWorkerOptions) {
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.maxAttempts = options.maxAttempts ?? 10;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 30_000;
  }

  start(): void {
    const every = this.options.pollIntervalMs ?? 10_000;
    this.timer = setInterval(() => void this.runOnce().catch((e: unknown) => this.options.logger.error({ err: e }, 'write-back delivery failed')), every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Delivers what is due now; returns how many rows were delivered. One pass at a time. */
  runOnce(): Promise<number> {
    this.running ??= this.deliverDue().finally(() => (this.running = undefined));
    return this.running;
  }

  private async deliverDue(): Promise<number> {
    const { db, clock } = this.options;
    let delivered = 0;
    for (const row of await writeBackOutboxRepo.claimDue(db, 20, clock.now(), this.leaseMs)) {
      if (await this.deliver(row)) delivered++;
    }
    return delivered;
  }

  private async deliver(row: WriteBackRow): Promise<boolean> {
    const { db, clock, logger, connectors } = this.options;
    const log = logger.child({ accountId: row.accountId, writeBackId: row.id, userId: row.userId, sourceId: row.sourceId });
    const fail = async (error: string, permanent: boolean) => {
      const final = permanent || row.attempts >= this.maxAttempts;
      const retryAt = final ? null : new Date(clock.now().getTime() + retryDelayMs(row.attempts, this.retryBaseDelayMs));
      await writeBackOutboxRepo.markFailed(db, row, error, retryAt);
      log.warn({ error, final }, 'write-back not delivered');
      return false;
    };
    const source = await sourcesRepo.findById(db, row.accountId, row.sourceId);
    if (!source) return fail('the source no longer exists', true);
    const connector = connectors.get(source.kind);
    if (!connector?.deliver) return fail(`sources of kind ${source.kind} cannot write back`, true);
    let config: unknown;
    try {
      config = connector.parseConfig(this.options.secrets ? this.options.secrets.openAll(source.config) : source.config);
    } catch (error) {
      return fail(`the source configuration is invalid: ${(error as Error).message}`, false);
    }
    try {
      const { target, outcome } = await connector.deliver(config, row.payload as unknown as WriteBackMessage);
      await writeBackOutboxRepo.markDelivered(db, row, target, clock.now());
      log.info({ target, outcome }, 'write-back delivered');
      return true;
    } catch (error) {
      return fail(isConnectorError(error) ? `${error.kind}: ${error.message}` : (error as Error).message, false);
    }
  }
}
