import type { SecretBox } from '../lib/secret-box.js';
import { accountsRepo } from '../db/accounts-repo.js';
import { tryTransactionLock } from '../db/advisory-locks.js';
import type { Account } from '../domain/account.js';
/**
 * The sync engine (ARCHITECTURE §5): runs one source. The connector only extracts; the engine matches
 * records to users, merges them into the next SCIM document and writes through `UserService.apply` (the
 * single write path: ownership, uniqueness, audit), decides deletions under a threshold, and keeps run
 * history.
 *
 * - Batches of `batchSize` items are each applied in ONE transaction, which also saves the connector's
 *   state checkpoint when the batch ends with one: the cursor moves only with the data it covers, so a
 *   killed run resumes from the last saved state; re-applying a record is idempotent (link by anchor,
 *   a hash of the record on the link makes an identical record `unchanged` without a write).
 * - A batch is first applied at once: the links of its anchors in one query (an unchanged record, equal hash,
 *   costs no query of its own), the users to change locked in one query, the match candidates of its unlinked
 *   records in one query; no savepoint per record. The writes are then made together through
 *   `UserService.applyMany` (one statement per table, the record's hash stored with its link), deferred until
 *   a record depends on one of them (same anchor, same user, a match key it touches), so every record still
 *   sees what the earlier ones wrote.
 * - If a record of that attempt fails, the attempt is rolled back (one savepoint) and the batch is applied
 *   again record by record: a bad record is quarantined (its savepoint is rolled back, a result row keeps the
 *   error) and the run goes on, until `maxErrors` (or more than half the records, past 10) fails the run.
 * - Deletions happen only after a complete read (`state.complete`) or on explicit `delete` items, all in a
 *   final phase guarded by the threshold; the final checkpoint is saved in that phase's transaction.
 * - Reading and writing overlap: a p-queue of concurrency 1 writes batch n while the connector fetches
 *   batch n+1 (at most one batch waits), so the write order stays the read order.
 * - One run per source at a time: a PostgreSQL advisory lock held by a dedicated transaction for the whole
 *   run (several instances), plus an in-process set (PGlite is single-process, its only connection must
 *   not be held).
 * - Result rows are written for every object that is not `unchanged` (unchanged ones are only counted).
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import PQueue from 'p-queue';
import type { Connector, JsonValue, SourceGroup, SourceItem, SourceRecord as ConnectorRecord, SourceRejected } from '../../connectors/sdk/index.js';
import { isConnectorError } from '../../connectors/sdk/index.js';
import type { Database, Trx } from '../db/database.js';
import { sourceLinksRepo } from '../db/source-links-repo.js';
import { sourcesRepo, type SourceRecord } from '../db/sources-repo.js';
import { usersRepo, type StoredUser } from '../db/users-repo.js';
import { DomainError, notFound } from '../domain/errors.js';
import { changedAttributes, ownableAttributes, type Writer } from '../domain/ownership.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { EXTENSION_URNS, type UserService } from '../services/user-service.js';
import { applySourceGroups } from './group-sync.js';
import {
  emptyCounts, syncRunsRepo, type BatchLink, type MatchCandidates, type SyncCounts, type SyncMode, type SyncResult, type SyncRunRecord, type SyncRunStatus,
} from '../db/sync-runs-repo.js';

export type { SyncRunRecord, SyncCounts, SyncResult, SyncRunStatus, SyncMode } from '../db/sync-runs-repo.js';

type JsonObject = Record<string, unknown>;
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const RETENTION_MS = 30 * 24 * 3600_000;

export interface SyncRunOptions {
  mode: SyncMode;
  dryRun?: boolean;
  allowDeletes?: boolean;
  trigger?: string;
  /** Aborts the read; what earlier batches committed stays, the run is `failed`. */
  signal?: AbortSignal;
}

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
}

class RollbackDryRun extends Error {}
class RunFailed extends Error {}

/** A hash of what the record would write: equal hash on the link ⇒ the record is unchanged. */
function hashOf(attributes: JsonObject, raw: unknown): string {
  return createHash('sha256').update(JSON.stringify([attributes, raw])).digest('hex').slice(0, 32);
}

function readAttr(doc: JsonObject, key: string): unknown {
  const split = key.lastIndexOf(':');
  if (key.startsWith('urn:') && split > 0) return (doc[key.slice(0, split)] as JsonObject | undefined)?.[key.slice(split + 1)];
  return doc[key];
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0) && value !== '';
}

/** Top-level attribute keys (URN-qualified for extension attributes) a record states a value for. */
function presentKeys(attributes: JsonObject): string[] {
  const keys: string[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    if ((EXTENSION_URNS as readonly string[]).includes(key) && value && typeof value === 'object') {
      for (const [sub, v] of Object.entries(value as JsonObject)) if (isPresent(v)) keys.push(`${key}:${sub}`);
    } else if (isPresent(value)) keys.push(key);
  }
  return keys;
}

function removeAttr(doc: JsonObject, key: string): void {
  const split = key.lastIndexOf(':');
  if (key.startsWith('urn:') && split > 0) {
    const urn = key.slice(0, split);
    const ext = doc[urn] as JsonObject | undefined;
    if (!ext) return;
    const copy = { ...ext };
    delete copy[key.slice(split + 1)];
    if (Object.keys(copy).length === 0) delete doc[urn];
    else doc[urn] = copy;
    return;
  }
  delete doc[key];
}

/**
 * The next document: the record's attributes over the current user's document (extensions merged one level
 * deeper); attributes this source stated last time and no longer states are removed.
 */
export function mergeRecord(current: JsonObject | undefined, attributes: JsonObject, previouslyOwned: readonly string[]): JsonObject {
  const next: JsonObject = structuredClone(current ?? { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] });
  // A value equal to the stored one keeps the stored form: jsonb reorders object keys, and the write path's diff
  // (ownership, audit, run results) compares JSON text, so `{value, type}` against a stored `{type, value}` would
  // count as a change.
  const put = (target: JsonObject, key: string, value: unknown) => {
    if (!isDeepStrictEqual(target[key], value)) target[key] = structuredClone(value);
  };
  for (const [key, value] of Object.entries(attributes)) {
    if ((EXTENSION_URNS as readonly string[]).includes(key) && value && typeof value === 'object') {
      const ext: JsonObject = { ...((next[key] as JsonObject | undefined) ?? {}) };
      for (const [sub, v] of Object.entries(value as JsonObject)) put(ext, sub, v);
      next[key] = ext;
    } else put(next, key, value);
  }
  const stated = new Set(presentKeys(attributes));
  for (const key of previouslyOwned) if (!stated.has(key) && key !== 'active') removeAttr(next, key);
  return next;
}

function diffOf(before: JsonObject, after: JsonObject): SyncResult['changes'] {
  const changes: SyncResult['changes'] = {};
  for (const key of changedAttributes(before, after, EXTENSION_URNS)) {
    if (key === 'meta' || key === 'id') continue;
    changes[key] = { old: readAttr(before, key) ?? null, new: readAttr(after, key) ?? null };
  }
  return changes;
}

function messageOf(error: unknown): string {
  if (error instanceof DomainError) return `${error.kind}: ${error.detail}`;
  return error instanceof Error ? error.message : String(error);
}

/** The caches of one batch on the fast path (see `applyBatched`). */
interface BatchCache {
  /** anchor → this source's link, for the batch's anchors and its managers' anchors; updated on every write. */
  links: Map<string, BatchLink>;
  /** Users locked for this batch, replaced by what each write stored. */
  users: Map<string, StoredUser>;
  candidates?: MatchCandidates;
  /** user → this source's anchor, exact for the users in `anchorsKnownFor`. */
  anchorOfUser: Map<string, string>;
  anchorsKnownFor?: Set<string>;
  /** `kind:value` match keys that a write of this batch added or removed. */
  dirtyKeys: Set<string>;
  /** Writes decided but not yet made: made together by `flushPending` (UserService.applyMany). */
  pending: PendingWrite[];
  /** Anchors, users and match keys (as `dirtyKeys`) that the pending writes touch. */
  pendingAnchors: Set<string>;
  pendingUsers: Set<string>;
  pendingKeys: Set<string>;
}

/** A record of the fast path whose write waits for the batch's next `flushPending`. */
interface PendingWrite {
  /** Its place in the batch (results are counted in read order). */
  slot: number;
  record: ConnectorRecord;
  current: StoredUser | undefined;
  next: JsonObject;
  owned: string[];
  hash: string;
  /** The batch's links hold no link of this source with the record's anchor. */
  anchorUnlinked: boolean;
}

/**
 * Thrown on the fast path when a record depends on what a pending write will store (its anchor, its user, a
 * match key): the pending writes are made, then the record is taken again.
 */
class NeedsFlush extends Error {}

function managerAnchorOf(attributes: JsonObject): string | undefined {
  const manager = (attributes[ENTERPRISE] as JsonObject | undefined)?.manager as { value?: string } | undefined;
  return manager?.value || undefined;
}

/** `resolveReferences` over the batch's links. */
function resolveWith(links: Map<string, BatchLink>, attributes: JsonObject): JsonObject {
  const managerAnchor = managerAnchorOf(attributes);
  if (!managerAnchor) return attributes;
  const enterprise = { ...(attributes[ENTERPRISE] as JsonObject) };
  const link = links.get(managerAnchor);
  if (link) enterprise.manager = { value: link.userId };
  else delete enterprise.manager;
  return { ...attributes, [ENTERPRISE]: enterprise };
}

/** Remembers a record whose manager anchor did not resolve to a linked user (see `resolveManagers`). */
function noteUnresolvedManager(ctx: RunContext, record: ConnectorRecord, resolved: JsonObject): void {
  const managerAnchor = managerAnchorOf(record.attributes as JsonObject);
  if (managerAnchor && managerAnchorOf(resolved) === undefined && managerAnchor !== record.anchor) {
    ctx.unresolvedManagers.set(record.anchor, { managerAnchor, attributes: record.attributes as JsonObject, raw: record.raw });
  } else ctx.unresolvedManagers.delete(record.anchor);
}

function emailsOf(record: ConnectorRecord): string[] {
  return (record.attributes.emails ?? []).map((e) => e.value).filter((v): v is string => typeof v === 'string' && v !== '');
}

/** The match keys (as in `MatchCandidates`) a stored document answers to. */
function matchKeysOf(doc: JsonObject | undefined): string[] {
  if (!doc) return [];
  const keys: string[] = [];
  if (typeof doc.externalId === 'string') keys.push(`externalId:${doc.externalId}`);
  const employeeNumber = (doc[ENTERPRISE] as JsonObject | undefined)?.employeeNumber;
  if (employeeNumber !== undefined && employeeNumber !== null && typeof employeeNumber !== 'object') keys.push(`employeeNumber:${String(employeeNumber)}`);
  if (typeof doc.userName === 'string') keys.push(`userName:${doc.userName.toLowerCase()}`);
  for (const email of Array.isArray(doc.emails) ? (doc.emails as JsonObject[]) : []) if (typeof email?.value === 'string') keys.push(`email:${email.value.toLowerCase()}`);
  return keys;
}

interface RunContext {
  accountId: string;
  source: SourceRecord;
  writer: Writer & { type: 'source' };
  run: SyncRunRecord;
  options: SyncRunOptions;
  counts: SyncCounts;
  seq: number;
  seen: Set<string>;
  deletes: string[];
  /** Anchors deleted softly (still at the source, restorable): deactivated without starting the grace period. */
  softDeletes: Set<string>;
  /**
   * Records whose manager (an anchor of this source) was not linked yet when they were written: resolved once the
   * whole read is applied (`resolveManagers`), whatever order the source sent users in.
   */
  unresolvedManagers: Map<string, { managerAnchor: string; attributes: JsonObject; raw: unknown }>;
  /** Groups the read yielded, applied once its users are written (`applySourceGroups`). */
  groups: SourceGroup[];
  groupDeletes: string[];
  processed: number;
  /** The account, read once per transaction (batch) and handed to UserService.apply. */
  account?: { trx: unknown; value: Account };
  /** Why the deletion threshold stopped the run, with its numbers. */
  thresholdError?: string;
  /** The connector found its source unchanged since the saved state (`SourceState.idle`). */
  idle: boolean;
}

/** What a batch carries besides records: objects the connector could not make records of, or that are not users. */
interface BatchExtras {
  rejected: SourceRejected[];
  skipped: number;
}

const noExtras = (): BatchExtras => ({ rejected: [], skipped: 0 });

/** The account as seen in this transaction: read once per batch, not once per record. */
async function accountIn(trx: Trx, ctx: RunContext): Promise<Account | undefined> {
  if (ctx.account?.trx !== trx) {
    const value = await accountsRepo.findById(trx, ctx.accountId);
    if (!value) return undefined;
    ctx.account = { trx, value };
  }
  return ctx.account.value;
}

export class SyncEngine {
  private readonly active = new Set<string>();
  private readonly inFlight = new Set<Promise<SyncRunRecord>>();
  private readonly batchSize: number;
  private readonly maxErrors: number;

  constructor(private readonly deps: SyncEngineOptions) {
    this.batchSize = deps.batchSize ?? 1000;
    this.maxErrors = deps.maxErrors ?? 100;
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
      accountId, source, run, options, counts: emptyCounts(), seq: 0, seen: new Set(), deletes: [], softDeletes: new Set(), unresolvedManagers: new Map(), groups: [], groupDeletes: [], processed: 0, idle: false,
      writer: { type: 'source', actor: `source:${source.id}`, sourceId: source.id, kind: source.kind },
    };
    const log = this.deps.logger.child({ accountId, sourceId: source.id, runId: run.id });
    let status: SyncRunStatus;
    let error: string | null = null;
    try {
      status = await this.readAndApply(ctx, connector);
    } catch (caught) {
      status = 'failed';
      error = isConnectorError(caught) ? `${caught.kind}: ${caught.message}` : messageOf(caught);
      log.warn({ err: caught }, 'sync run failed');
    }
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
    const queue = new PQueue({ concurrency: 1 });
    let writeError: unknown;
    queue.on('error', (e) => (writeError ??= e));
    let batch: ConnectorRecord[] = [];
    let extras = noExtras();
    let finalState: { state: JsonValue; complete: boolean } | undefined;
    const flush = async (state?: JsonValue) => {
      const records = batch;
      const carried = extras;
      batch = [];
      extras = noExtras();
      if (records.length === 0 && state === undefined && carried.rejected.length === 0 && carried.skipped === 0) return;
      await queue.onSizeLessThan(1);
      if (writeError) throw writeError;
      void queue.add(() => this.applyBatch(ctx, records, state, carried)).catch((e) => (writeError ??= e));
    };
    try {
      const onRetry = (): void => void ctx.counts.retries++;
      for await (const item of connector.read(config, request, { signal: ctx.options.signal, logger: this.deps.logger, onRetry }) as AsyncIterable<SourceItem>) {
        if (writeError) throw writeError;
        if (item.type === 'record') {
          ctx.seen.add(item.anchor);
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
            if (item.anchor) ctx.seen.add(item.anchor);
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
    } finally {
      await queue.onIdle();
    }
    if (writeError) throw writeError;
    await this.resolveManagers(ctx);
    // A complete read also tells which of the source's groups are gone (none, for a source that reads no groups).
    if (ctx.groups.length > 0 || ctx.groupDeletes.length > 0 || finalState?.complete) await this.applyGroups(ctx, finalState?.complete === true);
    if (finalState || ctx.deletes.length > 0) {
      const stopped = await this.deletionPhase(ctx, finalState);
      if (stopped) return 'stopped_deletion_threshold';
    }
    return ctx.counts.quarantined > 0 ? 'completed_with_errors' : 'succeeded';
  }

  private async inTransaction(ctx: RunContext, fn: (trx: Trx) => Promise<SyncResult[]>): Promise<void> {
    const { knex } = this.deps.db;
    let results: SyncResult[] = [];
    const countsBefore = { ...ctx.counts };
    try {
      await knex.transaction(async (trx) => {
        results = await fn(trx);
        if (ctx.options.dryRun) throw new RollbackDryRun();
        await syncRunsRepo.insertResults(trx, ctx.accountId, ctx.run.id, results);
        await syncRunsRepo.saveCounts(trx, ctx.accountId, ctx.run.id, ctx.counts);
      });
    } catch (error) {
      if (!(error instanceof RollbackDryRun)) {
        Object.assign(ctx.counts, countsBefore);
        throw error;
      }
      // The users a dry run "created" were rolled back: their ids name nobody.
      const reported = results.map((r) => (r.outcome === 'created' ? { ...r, userId: null } : r));
      await syncRunsRepo.insertResults(knex, ctx.accountId, ctx.run.id, reported);
      await syncRunsRepo.saveCounts(knex, ctx.accountId, ctx.run.id, ctx.counts);
    }
  }

  /**
   * A batch in one transaction. First all records at once, without a savepoint per record and with the
   * matching reads batched (see `applyBatched`); if any record fails, that attempt is rolled back (one
   * savepoint) and the batch is applied again record by record, each in its savepoint, so only the bad ones
   * are quarantined.
   */
  private async applyBatch(ctx: RunContext, records: ConnectorRecord[], state: JsonValue | undefined, extras: BatchExtras = noExtras()): Promise<void> {
    await this.inTransaction(ctx, async (trx) => {
      const before = { counts: { ...ctx.counts }, seq: ctx.seq, processed: ctx.processed };
      let results: SyncResult[];
      try {
        results = await trx.transaction(async (sp) => this.applyBatched(sp, ctx, records));
      } catch (error) {
        if (error instanceof RunFailed) throw error;
        Object.assign(ctx.counts, before.counts);
        ctx.seq = before.seq;
        ctx.processed = before.processed;
        results = [];
        for (const record of records) this.count(ctx, results, await this.applyRecord(trx, ctx, record));
      }
      for (const rejected of extras.rejected) {
        this.count(ctx, results, { anchor: rejected.anchor ?? null, userId: null, outcome: 'quarantined', changes: {}, error: `${rejected.ref}: ${rejected.error}` });
      }
      ctx.counts.skipped += extras.skipped;
      if (ctx.counts.quarantined > this.maxErrors || (ctx.counts.quarantined > 10 && ctx.counts.quarantined * 2 > ctx.processed)) {
        throw new RunFailed(`too many records quarantined (${ctx.counts.quarantined} of ${ctx.processed}); see the run's results`);
      }
      if (state !== undefined && !ctx.options.dryRun) await sourcesRepo.saveState(trx, ctx.accountId, ctx.source.id, state, this.deps.clock.now());
      return results;
    });
  }

  private count(ctx: RunContext, results: SyncResult[], result: Omit<SyncResult, 'seq'>): void {
    ctx.processed++;
    ctx.counts[result.outcome]++;
    if (result.outcome !== 'unchanged') results.push({ ...result, seq: ++ctx.seq });
  }

  /**
   * The fast path of a batch: the links of its anchors (and of its managers' anchors) in one query, so an
   * unchanged record costs no query of its own; the users to change in one locking query; the match
   * candidates of its unlinked records in one query. Every write updates these caches, and a match key that
   * a write of this batch touched is looked up again, so each record sees what earlier ones wrote, as in the
   * record-by-record path. The writes are deferred and made together (`flushPending`, `UserService.applyMany`)
   * at the end of the batch, or earlier when a record depends on one of them. Any error throws (the caller
   * retries record by record).
   */
  private async applyBatched(trx: Trx, ctx: RunContext, records: ConnectorRecord[]): Promise<SyncResult[]> {
    const { accountId, source } = ctx;
    const anchors = new Set<string>();
    for (const record of records) {
      if (!record.anchor) throw new DomainError('invalidValue', 'the record has no anchor');
      anchors.add(record.anchor);
      const manager = managerAnchorOf(record.attributes as JsonObject);
      if (manager) anchors.add(manager);
    }
    const cache: BatchCache = {
      links: await syncRunsRepo.linksByAnchors(trx, accountId, source.id, [...anchors]),
      users: new Map(),
      anchorOfUser: new Map(),
      dirtyKeys: new Set(),
      pending: [],
      pendingAnchors: new Set(),
      pendingUsers: new Set(),
      pendingKeys: new Set(),
    };
    const toLock = new Set<string>();
    const unlinked: ConnectorRecord[] = [];
    for (const record of records) {
      const link = cache.links.get(record.anchor);
      if (!link) unlinked.push(record);
      else if (link.missingSince !== null || link.hash !== hashOf(resolveWith(cache.links, record.attributes as JsonObject), record.raw)) toLock.add(link.userId);
    }
    if (unlinked.length > 0) {
      const keys = { externalId: new Set<string>(), employeeNumber: new Set<string>(), email: new Set<string>(), userName: new Set<string>() };
      for (const record of unlinked) {
        if (record.hardKeys?.externalId) keys.externalId.add(record.hardKeys.externalId);
        if (record.hardKeys?.employeeNumber) keys.employeeNumber.add(record.hardKeys.employeeNumber);
        if (!source.softMatch) continue;
        for (const email of emailsOf(record)) keys.email.add(email.toLowerCase());
        if (record.attributes.userName) keys.userName.add(record.attributes.userName.toLowerCase());
      }
      cache.candidates = await syncRunsRepo.matchCandidates(trx, accountId, {
        externalId: [...keys.externalId], employeeNumber: [...keys.employeeNumber], email: [...keys.email], userName: [...keys.userName],
      });
      const candidateIds = new Set<string>();
      for (const map of Object.values(cache.candidates)) for (const ids of map.values()) for (const id of ids) candidateIds.add(id);
      cache.anchorOfUser = await syncRunsRepo.anchorsOfUsers(trx, accountId, source.id, [...candidateIds]);
      cache.anchorsKnownFor = candidateIds;
      // Only a single candidate can be claimed.
      for (const map of Object.values(cache.candidates)) for (const ids of map.values()) if (ids.length === 1) toLock.add(ids[0]!);
    }
    cache.users = await syncRunsRepo.usersForUpdate(trx, accountId, [...toLock]);

    const outcomes: Omit<SyncResult, 'seq'>[] = new Array<Omit<SyncResult, 'seq'>>(records.length);
    for (let i = 0; i < records.length; i++) {
      try {
        const outcome = await this.applyCached(trx, ctx, cache, records[i]!, i);
        if (outcome) outcomes[i] = outcome;
      } catch (error) {
        if (!(error instanceof NeedsFlush)) throw error;
        await this.flushPending(trx, ctx, cache, outcomes);
        i--;
      }
    }
    await this.flushPending(trx, ctx, cache, outcomes);
    const results: SyncResult[] = [];
    for (const outcome of outcomes) this.count(ctx, results, outcome);
    return results;
  }

  /**
   * One record of the fast path: its outcome when it is unchanged, or undefined when its write is pending (the
   * outcome is set by `flushPending`). Throws NeedsFlush when it depends on a pending write.
   */
  private async applyCached(trx: Trx, ctx: RunContext, cache: BatchCache, record: ConnectorRecord, slot: number): Promise<Omit<SyncResult, 'seq'> | undefined> {
    const { accountId, source } = ctx;
    const managerAnchor = managerAnchorOf(record.attributes as JsonObject);
    if (cache.pendingAnchors.has(record.anchor) || (managerAnchor !== undefined && cache.pendingAnchors.has(managerAnchor))) throw new NeedsFlush();
    const attributes = resolveWith(cache.links, record.attributes as JsonObject);
    noteUnresolvedManager(ctx, record, attributes);
    const hash = hashOf(attributes, record.raw);
    const link = cache.links.get(record.anchor);
    if (link && link.hash === hash && link.missingSince === null) return { anchor: record.anchor, userId: link.userId, outcome: 'unchanged', changes: {}, error: null };

    const userById = async (id: string) => {
      if (cache.pendingUsers.has(id)) throw new NeedsFlush();
      if (cache.users.has(id)) return cache.users.get(id);
      const user = await usersRepo.findById(trx, accountId, id, { forUpdate: true });
      if (user) cache.users.set(id, user);
      return user;
    };
    let current: StoredUser | undefined;
    if (link) current = await userById(link.userId);
    else {
      const userId = await this.match(trx, ctx, record, cache);
      if (userId) current = await userById(userId);
    }
    const owned = presentKeys(attributes).filter((k) => ownableAttributes[source.kind].includes(k));
    const next = mergeRecord(current?.doc, attributes, link?.ownedAttributes ?? []);
    if (link?.missingSince && attributes.active === undefined) {
      next.active = true;
      owned.push('active');
    }
    cache.pending.push({ slot, record, current, next, owned, hash, anchorUnlinked: link === undefined });
    cache.pendingAnchors.add(record.anchor);
    if (current) cache.pendingUsers.add(current.id);
    for (const key of matchKeysOf(current?.doc)) cache.pendingKeys.add(key);
    for (const key of matchKeysOf(next)) cache.pendingKeys.add(key);
    return undefined;
  }

  /**
   * Makes the pending writes of the fast path in one `UserService.applyMany` and updates the batch's caches as
   * each write would have. A record that fails throws its error (the caller retries the batch record by record).
   */
  private async flushPending(trx: Trx, ctx: RunContext, cache: BatchCache, outcomes: Omit<SyncResult, 'seq'>[]): Promise<void> {
    const pending = cache.pending;
    if (pending.length === 0) return;
    cache.pending = [];
    cache.pendingAnchors.clear();
    cache.pendingUsers.clear();
    const account = await accountIn(trx, ctx);
    const written = await this.deps.users.applyMany(
      trx,
      ctx.accountId,
      ctx.writer,
      pending.map((p) => ({
        current: p.current,
        next: p.next,
        options: { anchor: p.record.anchor, raw: p.record.raw as JsonObject, ownedAttributes: p.owned, linkHash: p.hash, account, anchorUnlinked: p.anchorUnlinked },
      })),
    );
    for (const [i, p] of pending.entries()) {
      const answer = written[i]!;
      if (!answer.ok) throw answer.error;
      const { result } = answer;
      const { record, current, owned, hash } = p;
      cache.links.set(record.anchor, { userId: result.user.id, hash, missingSince: null, ownedAttributes: owned });
      cache.users.set(result.user.id, result.user);
      cache.anchorOfUser.set(result.user.id, record.anchor);
      cache.anchorsKnownFor?.add(result.user.id);
      for (const key of matchKeysOf(current?.doc)) cache.dirtyKeys.add(key);
      for (const key of matchKeysOf(result.user.doc)) cache.dirtyKeys.add(key);
      const changes = diffOf(current?.doc ?? {}, result.user.doc);
      const outcome = result.created ? 'created' : result.changed.length > 0 ? 'updated' : 'unchanged';
      const warnings = [...(record.warnings ?? []), ...(result.ignored.length ? [`ignored (owned by another source): ${result.ignored.join(', ')}`] : [])];
      outcomes[p.slot] = { anchor: record.anchor, userId: result.user.id, outcome, changes, error: warnings.length ? warnings.join('; ') : null };
    }
    for (const key of cache.pendingKeys) cache.dirtyKeys.add(key);
    cache.pendingKeys.clear();
  }

  /** One record in a savepoint: a failure rolls back only this record and quarantines it. */
  private async applyRecord(trx: Trx, ctx: RunContext, record: ConnectorRecord): Promise<Omit<SyncResult, 'seq'>> {
    try {
      return await trx.transaction(async (sp) => this.applyRecordIn(sp, ctx, record));
    } catch (error) {
      if (error instanceof RunFailed) throw error;
      if (!(error instanceof DomainError)) this.deps.logger.warn({ err: error, anchor: record.anchor }, 'record quarantined');
      return { anchor: record.anchor, userId: null, outcome: 'quarantined', changes: {}, error: messageOf(error) };
    }
  }

  private async applyRecordIn(trx: Trx, ctx: RunContext, record: ConnectorRecord): Promise<Omit<SyncResult, 'seq'>> {
    const { accountId, source } = ctx;
    if (!record.anchor) throw new DomainError('invalidValue', 'the record has no anchor');
    const attributes = await this.resolveReferences(trx, ctx, record.attributes as JsonObject);
    noteUnresolvedManager(ctx, record, attributes);
    const hash = hashOf(attributes, record.raw);
    const link = await sourceLinksRepo.byAnchor(trx, accountId, source.id, record.anchor);
    if (link && link.hash === hash && link.missingSince === null) return { anchor: record.anchor, userId: link.userId, outcome: 'unchanged', changes: {}, error: null };

    let current: StoredUser | undefined;
    if (link) {
      current = await usersRepo.findById(trx, accountId, link.userId, { forUpdate: true });
    } else {
      const userId = await this.match(trx, ctx, record);
      if (userId) current = await usersRepo.findById(trx, accountId, userId, { forUpdate: true });
    }
    const owned = presentKeys(attributes).filter((k) => ownableAttributes[source.kind].includes(k));
    const next = mergeRecord(current?.doc, attributes, link?.ownedAttributes ?? []);
    if (link?.missingSince && attributes.active === undefined) {
      // Seen again after the source deactivated it: active again.
      next.active = true;
      owned.push('active');
    }
    const result = await this.deps.users.apply(trx, accountId, ctx.writer, current, next, {
      anchor: record.anchor,
      raw: record.raw as JsonObject,
      ownedAttributes: owned,
      account: await accountIn(trx, ctx),
    });
    await syncRunsRepo.setLinkHash(trx, accountId, source.id, record.anchor, hash);
    const changes = diffOf(current?.doc ?? {}, result.user.doc);
    const outcome = result.created ? 'created' : result.changed.length > 0 ? 'updated' : 'unchanged';
    const warnings = [...(record.warnings ?? []), ...(result.ignored.length ? [`ignored (owned by another source): ${result.ignored.join(', ')}`] : [])];
    return { anchor: record.anchor, userId: result.user.id, outcome, changes, error: warnings.length ? warnings.join('; ') : null };
  }

  /** A manager given as an anchor of this source becomes the linked user's id; one that is not linked (yet) is left out. */
  private async resolveReferences(trx: Trx, ctx: RunContext, attributes: JsonObject): Promise<JsonObject> {
    const enterprise = attributes[ENTERPRISE] as JsonObject | undefined;
    const manager = enterprise?.manager as { value?: string } | undefined;
    if (!manager?.value) return attributes;
    const link = await sourceLinksRepo.byAnchor(trx, ctx.accountId, ctx.source.id, manager.value);
    const copy = { ...enterprise };
    if (link) copy.manager = { value: link.userId };
    else delete copy.manager;
    return { ...attributes, [ENTERPRISE]: copy };
  }

  /**
   * No link by anchor: hard keys (externalId, employeeNumber), then, when the source allows it, soft keys
   * (emails, userName). Only exactly one user matches; several are an error on the record, never a merge.
   */
  private async match(trx: Trx, ctx: RunContext, record: ConnectorRecord, cache?: BatchCache): Promise<string | undefined> {
    const { accountId, source } = ctx;
    /** The batch's candidates, unless a write of this batch touched the key (then the database is asked). */
    const cached = async (kind: keyof MatchCandidates, value: string, query: () => Promise<string[]>): Promise<string[]> => {
      if (cache?.pendingKeys.has(`${kind}:${value}`)) throw new NeedsFlush();
      return cache?.candidates && !cache.dirtyKeys.has(`${kind}:${value}`) ? [...(cache.candidates[kind].get(value) ?? [])] : query();
    };
    const claim = async (userId: string, how: string): Promise<string> => {
      if (cache?.pendingUsers.has(userId)) throw new NeedsFlush();
      const existing = cache?.anchorsKnownFor?.has(userId)
        ? (cache.anchorOfUser.has(userId) ? { anchor: cache.anchorOfUser.get(userId)! } : undefined)
        : await syncRunsRepo.linkOfUser(trx, accountId, source.id, userId);
      if (existing) throw new DomainError('conflict', `matched user ${userId} by ${how}, but it is already linked to record ${existing.anchor} of this source`);
      return userId;
    };
    const hard: [keyof MatchCandidates, string | undefined, (v: string) => Promise<string[]>][] = [
      ['externalId', record.hardKeys?.externalId, (v) => cached('externalId', v, () => syncRunsRepo.usersByExternalId(trx, accountId, v))],
      ['employeeNumber', record.hardKeys?.employeeNumber, (v) => cached('employeeNumber', v, () => syncRunsRepo.usersByEmployeeNumber(trx, accountId, v))],
    ];
    // Hybrid identity first: the person an Active Directory source of the account already links by this objectGUID.
    // No batch cache: the key is found only on links of other sources, which this run does not write.
    const objectGuid = record.hardKeys?.onPremisesObjectGuid;
    if (objectGuid) {
      const ids = await syncRunsRepo.usersByOnPremisesObjectGuid(trx, accountId, objectGuid);
      if (ids.length > 1) throw new DomainError('conflict', `ambiguous match: several users are linked to objectGUID ${objectGuid} by Active Directory sources`);
      if (ids.length === 1) return claim(ids[0]!, `onPremisesImmutableId (objectGUID ${objectGuid})`);
    }
    for (const [name, value, find] of hard) {
      if (!value) continue;
      const ids = await find(value);
      if (ids.length > 1) throw new DomainError('conflict', `ambiguous match: several users have ${name} "${value}"`);
      if (ids.length === 1) return claim(ids[0]!, name);
    }
    if (!source.softMatch) return undefined;
    const emails = emailsOf(record);
    const userName = record.attributes.userName;
    let ids: string[];
    if (cache?.candidates) {
      const set = new Set<string>();
      for (const email of emails) for (const id of await cached('email', email.toLowerCase(), () => syncRunsRepo.usersByEmailOrUserName(trx, accountId, [email], undefined))) set.add(id);
      if (userName) for (const id of await cached('userName', userName.toLowerCase(), () => syncRunsRepo.usersByEmailOrUserName(trx, accountId, [], userName))) set.add(id);
      ids = [...set];
    } else {
      ids = await syncRunsRepo.usersByEmailOrUserName(trx, accountId, emails, userName);
    }
    if (ids.length > 1) throw new DomainError('conflict', `ambiguous match: ${ids.length} users match the record's emails or userName (${ids.join(', ')}); link one by hand or correct the data`);
    if (ids.length === 1) return claim(ids[0]!, 'email or userName');
    return undefined;
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

  /**
   * Managers that were not linked when their reports were written (the report came first): now that the whole read
   * is applied, each is set on its report, in batches, and the report's link hash becomes that of the resolved
   * record, so the next run finds it unchanged. A manager that is still not linked (outside the source's scope)
   * stays unset.
   */
  private async resolveManagers(ctx: RunContext): Promise<void> {
    if (ctx.unresolvedManagers.size === 0 || ctx.options.dryRun) return;
    const { accountId, source } = ctx;
    const pending = [...ctx.unresolvedManagers];
    ctx.unresolvedManagers.clear();
    for (let i = 0; i < pending.length; i += this.batchSize) {
      const slice = pending.slice(i, i + this.batchSize);
      await this.inTransaction(ctx, async (trx) => {
        const anchors = new Set<string>();
        for (const [anchor, { managerAnchor }] of slice) anchors.add(anchor).add(managerAnchor);
        const links = await syncRunsRepo.linksByAnchors(trx, accountId, source.id, [...anchors]);
        const results: SyncResult[] = [];
        for (const [anchor, { managerAnchor, attributes, raw }] of slice) {
          const link = links.get(anchor);
          const manager = links.get(managerAnchor);
          if (!link || !manager) continue;
          const current = await usersRepo.findById(trx, accountId, link.userId, { forUpdate: true });
          if (!current) continue;
          const enterprise = { ...((current.doc[ENTERPRISE] as JsonObject | undefined) ?? {}), manager: { value: manager.userId } };
          const owned = [...new Set([...link.ownedAttributes, `${ENTERPRISE}:manager`])];
          const stored = await sourceLinksRepo.byAnchor(trx, accountId, source.id, anchor);
          const result = await this.deps.users.apply(trx, accountId, ctx.writer, current, { ...current.doc, [ENTERPRISE]: enterprise }, {
            anchor, raw: (stored?.raw ?? raw) as JsonObject, ownedAttributes: owned, account: await accountIn(trx, ctx),
          });
          await syncRunsRepo.setLinkHash(trx, accountId, source.id, anchor, hashOf(resolveWith(links, attributes), raw));
          // A result row shows the manager's arrival; the object was already counted by its own outcome in this run.
          if (result.changed.length > 0) {
            results.push({ seq: ++ctx.seq, anchor, userId: current.id, outcome: 'updated', changes: diffOf(current.doc, result.user.doc), error: null });
          }
        }
        return results;
      });
    }
  }

  /**
   * Deletions: the linked users whose anchor a complete read did not see, plus explicit deletes, are
   * deactivated (active:false, link missing_since) unless that is more than the threshold; users missing
   * longer than the grace period are deleted. Returns true when the threshold stopped the run.
   */
  private async deletionPhase(ctx: RunContext, finalState: { state: JsonValue; complete: boolean } | undefined): Promise<boolean> {
    const { knex } = this.deps.db;
    const { accountId, source } = ctx;
    const links = await syncRunsRepo.linksOfSource(knex, accountId, source.id);
    const byAnchor = new Map(links.map((l) => [l.anchor, l]));
    const toDeactivate = new Set<string>();
    for (const anchor of ctx.deletes) if (byAnchor.get(anchor) && !byAnchor.get(anchor)!.missingSince) toDeactivate.add(anchor);
    if (finalState?.complete) for (const l of links) if (!l.missingSince && !ctx.seen.has(l.anchor)) toDeactivate.add(l.anchor);
    const linked = links.filter((l) => !l.missingSince).length;
    const limit = Math.min(source.deleteThresholdCount, Math.floor((source.deleteThresholdPercent * linked) / 100));
    if (toDeactivate.size > limit && !ctx.options.allowDeletes) {
      this.deps.logger.warn({ accountId, sourceId: source.id, deactivations: toDeactivate.size, limit }, 'deletion threshold exceeded: run stopped before deactivating');
      ctx.counts.deactivated = 0;
      await syncRunsRepo.saveCounts(knex, accountId, ctx.run.id, ctx.counts);
      ctx.thresholdError =
        `deletion threshold exceeded: ${toDeactivate.size} of ${linked} linked users would be deactivated, more than the limit of ${limit} ` +
        `(the smaller of ${source.deleteThresholdCount} users and ${source.deleteThresholdPercent} %); nothing was deactivated (re-run with allowDeletes to confirm)`;
      return true;
    }
    const now = this.deps.clock.now();
    const graceMs = source.gracePeriodDays * 24 * 3600_000;
    // The seed: a user synced from MiCloud Connect cannot be deleted; gone from the export, it stays deactivated.
    const expired = source.kind === 'micloud' ? [] : links.filter((l) => l.missingSince && now.getTime() - l.missingSince.getTime() >= graceMs && !ctx.seen.has(l.anchor));

    const anchors = [...toDeactivate];
    for (let i = 0; i === 0 || i < anchors.length; i += this.batchSize) {
      const slice = anchors.slice(i, i + this.batchSize);
      const last = i + this.batchSize >= anchors.length;
      await this.inTransaction(ctx, async (trx) => {
        const results: SyncResult[] = [];
        for (const anchor of slice) {
          const link = byAnchor.get(anchor)!;
          const current = await usersRepo.findById(trx, accountId, link.userId, { forUpdate: true });
          if (!current) continue;
          const stored = await sourceLinksRepo.byAnchor(trx, accountId, source.id, anchor);
          const next = { ...current.doc, active: false };
          const result = await this.deps.users.apply(trx, accountId, ctx.writer, current, next, {
            anchor, raw: (stored?.raw ?? {}) as JsonObject, ownedAttributes: [...new Set([...(stored?.ownedAttributes ?? []), 'active'])], account: await accountIn(trx, ctx),
          });
          // A soft delete leaves the grace period unstarted; clearing the hash makes the record's return (a restore) a change.
          if (ctx.softDeletes.has(anchor)) await syncRunsRepo.setLinkHash(trx, accountId, source.id, anchor, null);
          else await syncRunsRepo.setMissingSince(trx, accountId, source.id, anchor, now);
          ctx.counts.deactivated++;
          results.push({ seq: ++ctx.seq, anchor, userId: current.id, outcome: 'deactivated', changes: diffOf(current.doc, result.user.doc), error: null });
        }
        if (last && finalState && !ctx.options.dryRun) await sourcesRepo.saveState(trx, accountId, source.id, finalState.state, now);
        return results;
      });
    }

    for (const link of expired) {
      if (ctx.options.dryRun) {
        ctx.counts.deleted++;
        await syncRunsRepo.insertResults(knex, accountId, ctx.run.id, [{ seq: ++ctx.seq, anchor: link.anchor, userId: link.userId, outcome: 'deleted', changes: {}, error: null }]);
        continue;
      }
      try {
        const outcome = await this.deps.users.delete(accountId, ctx.writer, link.userId);
        ctx.counts.deleted++;
        await syncRunsRepo.insertResults(knex, accountId, ctx.run.id, [
          { seq: ++ctx.seq, anchor: link.anchor, userId: link.userId, outcome: 'deleted', changes: {}, error: outcome === 'deleted' ? null : 'unlinked: other sources still feed this user' },
        ]);
      } catch (error) {
        ctx.counts.quarantined++;
        await syncRunsRepo.insertResults(knex, accountId, ctx.run.id, [
          { seq: ++ctx.seq, anchor: link.anchor, userId: link.userId, outcome: 'quarantined', changes: {}, error: `delete after the grace period failed: ${messageOf(error)}` },
        ]);
      }
    }
    await syncRunsRepo.saveCounts(knex, accountId, ctx.run.id, ctx.counts);
    return false;
  }

  async results(accountId: string, runId: string, limit?: number): Promise<SyncResult[]> {
    return syncRunsRepo.results(this.deps.db.knex, accountId, runId, limit);
  }
}

function running(source: SourceRecord): DomainError {
  return new DomainError('conflict', `A run of source ${source.name} (${source.id}) is already running`);
}
