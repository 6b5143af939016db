/**
 * Runs enabled sources on their `schedule` (node-cron), incremental, as a worker started and stopped with the
 * server. Sources are re-read every `refreshMs` so schedule changes apply without a restart. A source whose
 * runs keep failing backs off: the engine records `consecutive_failures` and a growing `next_retry_at`, and a
 * tick before `next_retry_at` is skipped. Several instances may schedule the same source: each cron slot is
 * claimed on the source's row, so one instance runs it and the others skip it, however short the run (the engine's
 * advisory lock alone would let a second instance start once the first run ended). A run still going when the next
 * slot comes holds the lock, and that slot is skipped (`conflict`).
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Knex } from 'knex';
import { DomainError } from '../domain/errors.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { sourcesRepo } from '../db/sources-repo.js';
import type { SyncEngine } from './sync-engine.js';

interface Scheduled {
  schedule: string;
  task: ScheduledTask;
}

export class SyncScheduler {
  readonly name = 'sync-scheduler';
  private readonly tasks = new Map<string, Scheduled>();
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly deps: { db: Knex; engine: SyncEngine; clock: Clock; logger: Logger; kinds: readonly string[]; refreshMs?: number },
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch((err) => this.deps.logger.error({ err }, 'sync scheduler refresh failed')), this.deps.refreshMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const { task } of this.tasks.values()) await task.destroy();
    this.tasks.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Schedules what is enabled and scheduled, unschedules the rest. */
  async refresh(): Promise<void> {
    const rows = await sourcesRepo.scheduled(this.deps.db, this.deps.kinds);
    const wanted = new Map(rows.filter((r) => cron.validate(r.schedule)).map((r) => [`${r.accountId}:${r.id}`, r]));
    for (const [key, scheduled] of this.tasks) {
      if (wanted.get(key)?.schedule !== scheduled.schedule) {
        await scheduled.task.destroy();
        this.tasks.delete(key);
      }
    }
    for (const [key, row] of wanted) {
      if (this.tasks.has(key)) continue;
      const task = cron.schedule(row.schedule, (context) => this.track(this.tick(row.accountId, row.id, context.date)), { name: `sync:${key}`, noOverlap: true });
      this.tasks.set(key, { schedule: row.schedule, task });
    }
  }

  private track(p: Promise<unknown>): Promise<unknown> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /**
   * One scheduled run, unless the source is backing off or already running, or another instance claimed the cron
   * `slot` (the instant the tick was due; without one, as for a tick called directly, nothing is claimed).
   */
  async tick(accountId: string, sourceId: string, slot?: Date): Promise<void> {
    const source = await sourcesRepo.scheduleState(this.deps.db, accountId, sourceId);
    if (!source?.enabled) return;
    if (source.nextRetryAt && source.nextRetryAt.getTime() > this.deps.clock.now().getTime()) {
      this.deps.logger.info({ accountId, sourceId, nextRetryAt: source.nextRetryAt }, 'scheduled run skipped: backing off after failures');
      return;
    }
    if (slot && !(await sourcesRepo.claimScheduledTick(this.deps.db, accountId, sourceId, slot))) {
      this.deps.logger.debug({ accountId, sourceId, slot }, 'scheduled run skipped: another instance took this tick');
      return;
    }
    try {
      await this.deps.engine.run(accountId, sourceId, { mode: 'incremental', trigger: 'schedule' });
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'conflict') return;
      this.deps.logger.error({ err: error, accountId, sourceId }, 'scheduled run could not start');
    }
  }

  scheduledKeys(): string[] {
    return [...this.tasks.keys()];
  }
}
