import type { SecretBox } from '../lib/secret-box.js';
/**
 * The sync engine's runner (README, design decisions): runs one source. The connector only extracts; the runner takes the
 * source's lock, records the run, streams the connector's read into batches, and finishes the run; the jobs of a
 * run live in their own modules:
 *
 * - batch-applier.ts: one batch in one transaction (match, merge, the one write path `UserService.write`); the
 *   batch's checkpoint is saved in that transaction, so the cursor moves only with the data it covers, a killed
 *   run resumes from the last saved state, and re-applying a record is idempotent (link by anchor, a hash of the
 *   record on the link makes an identical record `unchanged` without a write).
 * - matcher.ts: records without a link to existing users, by hard keys, then soft keys.
 * - manager-phase.ts: managers a report named before they were linked, set once the whole read is applied.
 * - group-sync.ts: the source's groups, after its users.
 * - deletion-phase.ts: deletions only after a complete read (`state.complete`) or on explicit `delete` items,
 *   guarded by the threshold; the final checkpoint is saved in that phase's transaction.
 * - domain/sync-record.ts: the pure parts (merge, hash, present keys, diff, threshold arithmetic).
 *
 * Reading, planning and writing overlap: the database writes batch n while the connector fetches batch n+1 and
 * the engine plans it (startBatch); batches commit in read order. A bad record is quarantined (a result row
 * keeps the error) and the run goes on, until `maxErrors` (or more than half the records, past 10) fails it.
 * One run per source at a time: a PostgreSQL advisory lock held by a dedicated transaction for the whole run
 * (several instances), plus an in-process set (PGlite is single-process, its only connection must not be held).
 * Result rows are written for every object that is not `unchanged` (unchanged ones are only counted).
 */
import type { Knex } from 'knex';
import type { Connector, JsonValue, SessionPolicy, SourceItem, SourceRecord as ConnectorRecord, SourceRejected } from '../../connectors/sdk/index.js';
import { isConnectorError } from '../../connectors/sdk/index.js';
import { tryTransactionLock } from '../db/advisory-locks.js';
import type { Database, Trx } from '../db/database.js';
import { sourcesRepo, type SourceRecord } from '../db/sources-repo.js';
import { DomainError, notFound } from '../domain/errors.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { noTelemetry, type Telemetry } from '../lib/telemetry.js';
import type { UserService } from '../services/user-service.js';
import { BatchApplier, type BatchOverlap } from './batch-applier.js';
import { batchKeys, readsBatchKeys } from '../domain/sync-record.js';
import type { JsonObject } from '../domain/user-rules.js';
import { deletionPhase } from './deletion-phase.js';
import { seenAnchorsRepo, type SeenObject } from '../db/seen-anchors-repo.js';
import { runManagersRepo } from '../db/run-managers-repo.js';
import { applySourceGroups } from './group-sync.js';
import { resolveManagers } from './manager-phase.js';
import { messageOf, type RunContext, type SyncRunOptions } from './run-context.js';
import { emptyCounts, syncRunsRepo, type SyncCounts, type SyncResult, type SyncRunRecord, type SyncRunStatus } from '../db/sync-runs-repo.js';

export type { SyncRunRecord, SyncCounts, SyncResult, SyncRunStatus, SyncMode } from '../db/sync-runs-repo.js';
export type { SyncRunOptions } from './run-context.js';

const RETENTION_MS = 30 * 24 * 3600_000;

export interface SyncEngineOptions {
  db: Pick<Database, 'knex' | 'kind'>;
  users: UserService;
  clock: Clock;
  logger: Logger;
  connectors: ReadonlyMap<string, Connector>;
  /** Opens the sealed secrets of a source's configuration (src/lib/secret-box.ts); without it, configs are read as stored. */
  secrets?: SecretBox;
  batchSize?: number;
  /** Quarantined records that fail the run. */
  maxErrors?: number;
  /** Connections kept open between a source's runs (connectors/sdk SftpSessionPool): an unchanged export then costs no handshake. */
  sessions?: SessionPolicy;
  /** Where ended runs are reported (/metrics). */
  telemetry?: Telemetry;
}

/** What a batch about to commit tells the next one (startBatch). */
interface BatchWrites {
  /** The users it creates. */
  uncommitted: readonly { id: string; doc: JsonObject }[];
  /** What its records and writes touch (batchKeys). */
  keys: ReadonlySet<string>;
}

/** A batch whose transaction is running (startBatch). */
interface InFlight {
  /** Resolved once its writes are planned: what the next batch must know of them, or 'wait' for it to end. */
  planned: Promise<BatchWrites | 'wait'>;
  /** Settled when it has committed, or failed. */
  committed: Promise<void>;
  /** The batch before it has committed (or failed). */
  before: Promise<void>;
}

/** What a batch carries besides records: objects the connector could not make records of, or that are not users. */
interface BatchExtras {
  rejected: SourceRejected[];
  skipped: number;
}

const noExtras = (): BatchExtras => ({ rejected: [], skipped: 0 });

class RollbackDryRun extends Error {}
class RunFailed extends Error {}

export class SyncEngine {
  private readonly active = new Set<string>();
  private readonly inFlight = new Set<Promise<SyncRunRecord>>();
  private readonly batchSize: number;
  private readonly maxErrors: number;

  private readonly applier: BatchApplier;

  constructor(private readonly deps: SyncEngineOptions) {
    this.batchSize = deps.batchSize ?? 1000;
    this.maxErrors = deps.maxErrors ?? 100;
    this.applier = new BatchApplier({ users: deps.users, logger: deps.logger });
  }

  /** Runs a source to the end and returns the finished run. */
  async run(accountId: string, sourceId: string, options: SyncRunOptions): Promise<SyncRunRecord> {
    const { done } = await this.start(accountId, sourceId, options);
    return done;
  }

  /**
   * Takes the source's lock and records the run (status `running`), then runs it in the background:
   * `run` is the record as started, `done` settles with the finished one (it never rejects).
   * Refused with `conflict` while a run of the source is active.
   */
  async start(accountId: string, sourceId: string, options: SyncRunOptions): Promise<{ run: SyncRunRecord; done: Promise<SyncRunRecord> }> {
    const { knex } = this.deps.db;
    const source = await sourcesRepo.findById(knex, accountId, sourceId);
    if (!source) throw notFound(`Source ${sourceId}`);
    const connector = this.deps.connectors.get(source.kind);
    if (!connector) throw new DomainError('invalidValue', `Sources of kind "${source.kind}" are not run by the sync engine`);
    const key = `${accountId}:${sourceId}`;
    if (this.active.has(key)) throw running(source);
    this.active.add(key);
    let lockTrx: Knex.Transaction | undefined;
    try {
      if (this.deps.db.kind === 'postgres') {
        lockTrx = await knex.transaction();
        if (!(await tryTransactionLock(lockTrx, `switchboard:sync:${sourceId}`))) throw running(source);
      }
      const now = this.deps.clock.now();
      await syncRunsRepo.purge(knex, accountId, new Date(now.getTime() - RETENTION_MS));
      const run = await syncRunsRepo.insert(knex, {
        accountId, sourceId, mode: options.mode, trigger: options.trigger ?? 'manual', dryRun: options.dryRun ?? false, allowDeletes: options.allowDeletes ?? false, at: now,
      });
      await sourcesRepo.markRunning(knex, accountId, sourceId);
      const held = lockTrx;
      const done = this.execute(accountId, source, connector, run, options).finally(async () => {
        this.active.delete(key);
        await held?.commit().catch(() => undefined);
      });
      this.inFlight.add(done);
      void done.finally(() => this.inFlight.delete(done));
      return { run, done };
    } catch (error) {
      this.active.delete(key);
      await lockTrx?.rollback().catch(() => undefined);
      throw error;
    }
  }

  /** Waits for the runs in progress (shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  isRunning(accountId: string, sourceId: string): boolean {
    return this.active.has(`${accountId}:${sourceId}`);
  }

  private async execute(accountId: string, source: SourceRecord, connector: Connector, run: SyncRunRecord, options: SyncRunOptions): Promise<SyncRunRecord> {
    const { knex } = this.deps.db;
    const ctx: RunContext = {
      accountId, source, run, options, counts: emptyCounts(), seq: 0, deletes: [], softDeletes: new Set(), groups: [], groupDeletes: [], processed: 0, idle: false,
      writer: { type: 'source', actor: `source:${source.id}`, sourceId: source.id, kind: source.kind },
    };
    const log = this.deps.logger.child({ accountId, sourceId: source.id, runId: run.id });
    let status: SyncRunStatus;
    let error: string | null = null;
    try {
      // What a killed run of this source read is left over; this run starts from nothing.
      await seenAnchorsRepo.clear(knex, accountId, source.id);
      await runManagersRepo.clear(knex, accountId, source.id);
      status = await this.readAndApply(ctx, connector);
    } catch (caught) {
      status = 'failed';
      error = isConnectorError(caught) ? `${caught.kind}: ${caught.message}` : messageOf(caught);
      log.warn({ err: caught }, 'sync run failed');
    }
    await seenAnchorsRepo.clear(knex, accountId, source.id).catch((e) => log.warn({ err: e }, 'could not clear the anchors a sync run read'));
    await runManagersRepo.clear(knex, accountId, source.id).catch((e) => log.warn({ err: e }, 'could not clear the managers a sync run waited for'));
    if (status === 'stopped_deletion_threshold') error = error ?? ctx.thresholdError ?? 'deletion threshold exceeded';
    const at = this.deps.clock.now();
    // Idle: the connector found nothing changed and the run touched nothing (an unchanged export).
    const idle = status === 'succeeded' && ctx.idle && ctx.processed === 0 && ctx.counts.skipped === 0;
    const finished = await syncRunsRepo.finish(knex, accountId, run.id, { status, counts: ctx.counts, error, at, idle }).catch(async (e) => {
      log.error({ err: e }, 'could not record the end of a sync run');
      return { ...run, status, counts: ctx.counts, error, idle, finishedAt: at, durationMs: at.getTime() - run.startedAt.getTime() };
    });
    await sourcesRepo
      .recordOutcome(knex, accountId, source.id, { failed: status === 'failed', status: status === 'failed' ? 'failed' : status === 'stopped_deletion_threshold' ? 'waiting_for_confirmation' : 'idle', error, at })
      .catch((e) => log.error({ err: e }, 'could not record the source status'));
    log.info({ status, counts: ctx.counts }, 'sync run finished');
    const { created, updated, unchanged, deactivated, deleted, quarantined, skipped } = ctx.counts;
    (this.deps.telemetry ?? noTelemetry).syncRunFinished({
      kind: source.kind, status, seconds: (at.getTime() - run.startedAt.getTime()) / 1000, outcomes: { created, updated, unchanged, deactivated, deleted, quarantined, skipped },
    });
    return finished;
  }

  private async readAndApply(ctx: RunContext, connector: Connector): Promise<SyncRunStatus> {
    let config: unknown;
    try {
      config = connector.parseConfig(this.deps.secrets ? this.deps.secrets.openAll(ctx.source.config) : ctx.source.config);
    } catch (error) {
      throw new RunFailed(`the source configuration is invalid: ${messageOf(error)}`);
    }
    const request = ctx.options.mode === 'incremental' && ctx.source.state !== null && ctx.source.state !== undefined
      ? { mode: 'incremental' as const, state: ctx.source.state as JsonValue }
      : { mode: 'full' as const };
    let batch: ConnectorRecord[] = [];
    let extras = noExtras();
    // The objects read since the last flush, noted in the database with their batch (seen-anchors-repo.ts).
    let seen: SeenObject[] = [];
    let previous: InFlight | undefined;
    let finalState: { state: JsonValue; complete: boolean } | undefined;
    const flush = async (state?: JsonValue) => {
      const records = batch;
      const carried = extras;
      const anchors = seen;
      batch = [];
      extras = noExtras();
      seen = [];
      if (records.length === 0 && state === undefined && carried.rejected.length === 0 && carried.skipped === 0) return;
      previous = await this.startBatch(ctx, records, state, carried, anchors, previous);
    };
    try {
      const onRetry = (): void => void ctx.counts.retries++;
      const sessions = this.deps.sessions ? { sessions: { pool: this.deps.sessions, owner: ctx.source.id } } : {};
      for await (const item of connector.read(config, request, { signal: ctx.options.signal, logger: this.deps.logger, onRetry, ...sessions }) as AsyncIterable<SourceItem>) {
        if (item.type === 'record') {
          seen.push(item);
          batch.push(item);
          if (batch.length >= this.batchSize) await flush();
        } else if (item.type === 'delete') {
          ctx.deletes.push(item.anchor);
          if (item.soft) ctx.softDeletes.add(item.anchor);
          else ctx.softDeletes.delete(item.anchor);
        } else if (item.type === 'group') {
          ctx.groups.push(item);
        } else if (item.type === 'group-delete') {
          ctx.groupDeletes.push(item.anchor);
        } else if (item.type === 'rejected' || item.type === 'skipped') {
          // A rejected object that names its anchor is still in the source: its user is not taken as gone.
          if (item.type === 'rejected') {
            if (item.anchor) seen.push({ anchor: item.anchor });
            extras.rejected.push(item);
          } else extras.skipped++;
          if (extras.rejected.length + extras.skipped >= this.batchSize) await flush();
        } else if (item.idle) {
          ctx.idle = true;
          await flush(item.state);
        } else if (ctx.deletes.length > 0 || item.complete || ctx.groups.length > 0 || ctx.groupDeletes.length > 0) {
          // Deletions or groups pending: this checkpoint is saved with them, in the deletion phase.
          await flush();
          finalState = { state: item.state, complete: item.complete === true };
        } else {
          await flush(item.state);
        }
      }
      await flush();
      await previous?.committed;
    } finally {
      // A failed batch fails the one after it: both have ended before the run says so.
      await previous?.before.catch(() => undefined);
      await previous?.committed.catch(() => undefined);
    }
    await resolveManagers({ db: this.deps.db.knex, users: this.deps.users, batchSize: this.batchSize, inTransaction: (c, fn) => this.inTransaction(c, fn) }, ctx);
    // A complete read also tells which of the source's groups are gone (none, for a source that reads no groups).
    if (ctx.groups.length > 0 || ctx.groupDeletes.length > 0 || finalState?.complete) await this.applyGroups(ctx, finalState?.complete === true);
    if (finalState || ctx.deletes.length > 0) {
      const stopped = await deletionPhase(
        { db: this.deps.db, users: this.deps.users, clock: this.deps.clock, logger: this.deps.logger, batchSize: this.batchSize, inTransaction: (c, fn) => this.inTransaction(c, fn) },
        ctx,
        finalState,
      );
      if (stopped) return 'stopped_deletion_threshold';
    }
    return ctx.counts.quarantined > 0 ? 'completed_with_errors' : 'succeeded';
  }

  /**
   * `fn` in a transaction of the run, then its results and the run's counts saved in it (a dry run rolls it back and
   * saves them after). With `before` (the batch before, still running: startBatch), `fn` calls `turn()` before it
   * counts anything, so outcomes are counted in read order, and a failure takes back only what `fn` counted.
   */
  private async inTransaction(ctx: RunContext, fn: (trx: Trx, turn: () => Promise<void>) => Promise<SyncResult[]>, before: Promise<void> = Promise.resolve()): Promise<void> {
    const { knex } = this.deps.db;
    let results: SyncResult[] = [];
    let countsBefore: SyncCounts | undefined;
    const turn = async () => {
      await before;
      countsBefore ??= { ...ctx.counts };
    };
    try {
      await knex.transaction(async (trx) => {
        results = await fn(trx, turn);
        await turn();
        if (ctx.options.dryRun) throw new RollbackDryRun();
        await syncRunsRepo.insertResults(trx, ctx.accountId, ctx.run.id, results);
        await syncRunsRepo.saveCounts(trx, ctx.accountId, ctx.run.id, ctx.counts);
      });
    } catch (error) {
      if (!(error instanceof RollbackDryRun)) {
        if (countsBefore) Object.assign(ctx.counts, countsBefore);
        throw error;
      }
      // The users a dry run "created" were rolled back: their ids name nobody.
      const reported = results.map((r) => (r.outcome === 'created' ? { ...r, userId: null } : r));
      await syncRunsRepo.insertResults(knex, ctx.accountId, ctx.run.id, reported);
      await syncRunsRepo.saveCounts(knex, ctx.accountId, ctx.run.id, ctx.counts);
    }
  }

  /**
   * A batch in one transaction, with the checkpoint that follows it: the batch applier's outcomes are counted in
   * read order; too many quarantined records fail the run.
   */
  private async applyBatch(ctx: RunContext, records: ConnectorRecord[], state: JsonValue | undefined, extras: BatchExtras, overlap: BatchOverlap): Promise<void> {
    await this.inTransaction(ctx, async (trx, turn) => {
      const outcomes = await this.applier.apply(trx, ctx, records, overlap);
      await turn();
      const results: SyncResult[] = [];
      for (const outcome of outcomes) this.count(ctx, results, outcome);
      for (const rejected of extras.rejected) {
        this.count(ctx, results, { anchor: rejected.anchor ?? null, userId: null, outcome: 'quarantined', changes: {}, error: `${rejected.ref}: ${rejected.error}` });
      }
      ctx.counts.skipped += extras.skipped;
      if (ctx.counts.quarantined > this.maxErrors || (ctx.counts.quarantined > 10 && ctx.counts.quarantined * 2 > ctx.processed)) {
        throw new RunFailed(`too many records quarantined (${ctx.counts.quarantined} of ${ctx.processed}); see the run's results`);
      }
      if (state !== undefined && !ctx.options.dryRun) await sourcesRepo.saveState(trx, ctx.accountId, ctx.source.id, state, this.deps.clock.now());
      return results;
    }, overlap.after);
  }

  /**
   * Starts one batch and answers once its writes are planned, while the database still writes them: the runner then
   * reads and plans the next batch, so Node's share of a batch (the records merged, planned and serialised) runs
   * beside the database's instead of after it, as the CSV import does (import-service.ts startBatch). At most two
   * batches are in flight, and they commit in read order: a batch takes no row lock and writes nothing before the
   * one ahead of it has committed (BatchOverlap.after), counts its outcomes after it, and rolls back when it failed.
   * It is planned before that commit only when the batch ahead only creates users (their unique values are counted
   * as taken: WriteOptions.uncommittedUsers) and none of its records reads what the batch ahead writes (an anchor,
   * a manager's anchor, a match key: batchKeys); otherwise, and in a dry run, once the batch ahead has ended.
   */
  private async startBatch(ctx: RunContext, records: ConnectorRecord[], state: JsonValue | undefined, extras: BatchExtras, anchors: SeenObject[], previous: InFlight | undefined): Promise<InFlight> {
    let uncommitted: BatchWrites['uncommitted'] = [];
    if (previous) {
      await previous.before;
      const planned = await previous.planned;
      if (planned === 'wait' || records.some((r) => readsBatchKeys(r, planned.keys, ctx.source.softMatch))) await previous.committed;
      else uncommitted = planned.uncommitted;
    }
    let signal: (writes: BatchWrites | 'wait') => void = () => undefined;
    const planned = new Promise<BatchWrites | 'wait'>((resolve) => (signal = resolve));
    const before = previous?.committed ?? Promise.resolve();
    const run = { accountId: ctx.accountId, sourceId: ctx.source.id, runId: ctx.run.id };
    const committed = (async () => {
      // The anchors outside the batch's transaction: a dry run rolls that back, and its deletion phase needs them too.
      await seenAnchorsRepo.add(this.deps.db.knex, run, anchors);
      await this.applyBatch(ctx, records, state, extras, {
        uncommitted,
        after: before,
        planned: (writes) =>
          signal(
            writes === undefined || ctx.options.dryRun || writes.some((w) => w.user !== 'insert')
              ? 'wait'
              : { uncommitted: writes.map((w) => ({ id: w.id, doc: w.next })), keys: batchKeys(records.map((r) => r.anchor), writes) },
          ),
      });
    })().finally(() => signal('wait'));
    // Awaited by the next batch, or at the end of the read; a failure is handled there.
    committed.catch(() => undefined);
    return { planned, committed, before };
  }

  /** The run's groups in one transaction, after its users (see group-sync.ts). */
  private async applyGroups(ctx: RunContext, complete: boolean): Promise<void> {
    await this.inTransaction(ctx, async (trx) => {
      const counts = await applySourceGroups(
        trx,
        { accountId: ctx.accountId, sourceId: ctx.source.id, actor: ctx.writer.actor, at: this.deps.clock.now() },
        { groups: ctx.groups, deletes: ctx.groupDeletes, complete },
      );
      ctx.counts.groupsCreated += counts.groupsCreated;
      ctx.counts.groupsUpdated += counts.groupsUpdated;
      ctx.counts.groupsDeleted += counts.groupsDeleted;
      return [];
    });
  }

  private count(ctx: RunContext, results: SyncResult[], result: Omit<SyncResult, 'seq'>): void {
    ctx.processed++;
    ctx.counts[result.outcome]++;
    if (result.outcome !== 'unchanged') results.push({ ...result, seq: ++ctx.seq });
  }

  async results(accountId: string, runId: string, limit?: number): Promise<SyncResult[]> {
    return syncRunsRepo.results(this.deps.db.knex, accountId, runId, limit);
  }
}

function running(source: SourceRecord): DomainError {
  return new DomainError('conflict', `A run of source ${source.name} (${source.id}) is already running`);
}
