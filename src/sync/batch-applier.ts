/**
 * One batch of a run's records, in the batch's transaction: each record is matched to a user (its link by
 * anchor, else the matcher), merged into the user's next document, and written through the one write path
 * (`UserService.write`) together with the other records of the batch.
 *
 * Reads are batched: the links of the batch's anchors (and its managers' anchors) in one query, so an unchanged
 * record (equal hash on its link) costs no query of its own; the match candidates of its unlinked records in one
 * query; the users it may change locked in one query. Writes are collected and made together; a record that
 * depends on a collected write (its anchor, its manager's anchor, its user, a match key such a write touches) has
 * them made first, so every record sees what the earlier ones wrote. A record the plan refuses, or that matches
 * ambiguously, is quarantined with its error and the others go on.
 */
import { DomainError } from '../domain/errors.js';
import { ownableAttributes } from '../domain/ownership.js';
import { diffOf, managerAnchorOf, matchKeysOf, mergeRecord, presentKeys, recordHash, resolveManager } from '../domain/sync-record.js';
import type { JsonObject } from '../domain/user-rules.js';
import { ENTERPRISE_URN } from '../domain/user-document.js';
import type { Trx } from '../db/database.js';
import type { StoredUser } from '../db/users-repo.js';
import type { PlannedWrite } from '../domain/write-plan.js';
import type { Logger } from '../lib/logger.js';
import type { UserService, WriteOptions, WriteOutcome, WriteRequest } from '../services/user-service.js';
import type { SourceRecord as ConnectorRecord } from '../../connectors/sdk/index.js';
import { BatchMatcher } from './matcher.js';
import { messageOf, type RunContext } from './run-context.js';
import { syncRunsRepo, type BatchLink, type SyncResult } from '../db/sync-runs-repo.js';
import { runManagersRepo, type PendingManager } from '../db/run-managers-repo.js';

export type RecordOutcome = Omit<SyncResult, 'seq'>;

/** A record's write, collected until the batch's writes are made. */
interface PendingWrite {
  slot: number;
  record: ConnectorRecord;
  request: WriteRequest;
}

/**
 * A record whose manager anchor did not resolve to a linked user (see manager-phase.ts), noted in the batch's
 * transaction; a record whose manager resolved takes back what an earlier record of its anchor in the batch noted.
 */
function notePendingManager(pending: Map<string, PendingManager>, record: ConnectorRecord, resolved: JsonObject, hash: string): void {
  const managerAnchor = managerAnchorOf(record.attributes as JsonObject);
  if (managerAnchor && managerAnchorOf(resolved) === undefined && managerAnchor !== record.anchor) {
    const by = record.references?.find((r) => r.path === MANAGER_PATH && r.value === managerAnchor)?.by;
    pending.set(record.anchor, { anchor: record.anchor, managerAnchor, managerBy: by, attributes: record.attributes as JsonObject, raw: record.raw, hash });
  } else pending.delete(record.anchor);
}

const MANAGER_PATH = `${ENTERPRISE_URN}:manager`;

/**
 * What a batch knows of the batch before it, still running in another transaction (sync-engine.ts startBatch):
 * UserService.write's overlap options, as the CSV import uses them.
 */
export interface BatchOverlap {
  /** The users the batch before creates, not committed yet (WriteOptions.uncommittedUsers). */
  uncommitted: readonly { id: string; doc: JsonObject }[];
  /**
   * The batch before has committed: this batch takes no row lock and writes nothing before (WriteOptions.after).
   * The batch before never waits for this one, so a lock taken earlier could only wait for it, unseen by the
   * database: a key-share lock of its foreign keys on a row this one locked would never be granted.
   */
  after: Promise<void>;
  /**
   * Called once, when every write of this batch is planned (before its last statement is sent), with those writes;
   * undefined when a write failed and was made again record by record (what the batch writes is then not known ahead).
   */
  planned: (writes: readonly PlannedWrite<StoredUser>[] | undefined) => void;
}

/** A write's outcome, or the database's error when it failed. */
type Written = WriteOutcome | { ok: false; error: unknown };

const quarantined = (anchor: string | null, error: unknown): RecordOutcome => ({ anchor, userId: null, outcome: 'quarantined', changes: {}, error: messageOf(error) });

export class BatchApplier {
  constructor(private readonly deps: { users: UserService; logger: Logger }) {}

  /** The outcome of each record, in the batch's order. */
  async apply(trx: Trx, ctx: RunContext, records: readonly ConnectorRecord[], overlap?: BatchOverlap): Promise<RecordOutcome[]> {
    const { accountId, source } = ctx;
    const allPlanned: PlannedWrite<StoredUser>[] = [];
    const state = { reported: false, retried: false };
    const report = () => {
      if (state.reported) return;
      state.reported = true;
      overlap?.planned(state.retried ? undefined : allPlanned);
    };
    const outcomes = new Array<RecordOutcome>(records.length);
    const anchors = new Set<string>();
    for (const record of records) {
      if (!record.anchor) continue;
      anchors.add(record.anchor);
      const manager = managerAnchorOf(record.attributes as JsonObject);
      if (manager) anchors.add(manager);
    }
    const links: Map<string, BatchLink> = await syncRunsRepo.linksByAnchors(trx, accountId, source.id, [...anchors]);
    const attributesOf = (record: ConnectorRecord) => resolveManager(record.attributes as JsonObject, (anchor) => links.get(anchor)?.userId);
    // recordHash (the record's JSON through SHA-256) is most of what an unchanged record costs, and both the locking
    // pass below and resolve() ask for it: it is computed once per record, again only when the record's manager
    // resolves to another user in between (the one input of attributesOf that a write of this batch can change).
    // Measured: a changed MiVB export of 20,000 rows (1,000 changed) spent 1.24 s of its 14.7 s profile in recordHash
    // for 40,000 calls (load average 15-19).
    const hashes = new Map<ConnectorRecord, { managerId: string | undefined; hash: string }>();
    const hashOf = (record: ConnectorRecord, attributes: JsonObject): string => {
      const managerAnchor = managerAnchorOf(record.attributes as JsonObject);
      const managerId = managerAnchor === undefined ? undefined : links.get(managerAnchor)?.userId;
      const known = hashes.get(record);
      if (known && known.managerId === managerId) return known.hash;
      const hash = recordHash(attributes, record.raw);
      hashes.set(record, { managerId, hash });
      return hash;
    };
    const pendingManagers = new Map<string, PendingManager>();
    const toLock = new Set<string>();
    const unlinked: ConnectorRecord[] = [];
    for (const record of records) {
      if (!record.anchor) continue;
      const link = links.get(record.anchor);
      if (!link) unlinked.push(record);
      else if (link.missingSince !== null || link.hash !== hashOf(record, attributesOf(record))) toLock.add(link.userId);
    }
    const matcher = await BatchMatcher.load(trx, accountId, source.id, source.softMatch, unlinked);
    for (const id of matcher.singleCandidates()) toLock.add(id);
    if (toLock.size > 0) await overlap?.after;
    const users: Map<string, StoredUser> = await syncRunsRepo.usersForUpdate(trx, accountId, [...toLock]);

    let pending: PendingWrite[] = [];
    const pendingAnchors = new Set<string>();
    const pendingUsers = new Set<string>();
    const pendingKeys = new Set<string>();
    const flush = async (last = false) => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      pendingAnchors.clear();
      pendingUsers.clear();
      pendingKeys.clear();
      const written = await this.write(trx, ctx, batch, state, {
        ...(overlap ? { uncommittedUsers: overlap.uncommitted, after: overlap.after } : {}),
        planned: (writes) => {
          allPlanned.push(...writes);
          if (last) report();
        },
      });
      for (const [i, p] of batch.entries()) {
        const answer = written[i]!;
        if (!answer.ok) {
          outcomes[p.slot] = quarantined(p.record.anchor, answer.error);
          continue;
        }
        const { result } = answer;
        const before = p.request.current?.doc;
        links.set(p.record.anchor, { userId: result.user.id, hash: p.request.linkHash ?? null, missingSince: null, ownedAttributes: [...(p.request.ownedAttributes ?? [])] });
        users.set(result.user.id, result.user);
        matcher.noteWrite(result.user.id, p.record.anchor, before, result.user.doc);
        const outcome = result.created ? 'created' : result.changed.length > 0 ? 'updated' : 'unchanged';
        const warnings = [...(p.record.warnings ?? []), ...(result.ignored.length ? [`ignored (owned by another source): ${result.ignored.join(', ')}`] : [])];
        outcomes[p.slot] = { anchor: p.record.anchor, userId: result.user.id, outcome, changes: diffOf(before ?? {}, result.user.doc), error: warnings.length ? warnings.join('; ') : null };
      }
    };

    /** The record's link, user and next document, or its outcome when it needs no write. */
    const resolve = async (record: ConnectorRecord, slot: number): Promise<PendingWrite | RecordOutcome> => {
      const attributes = attributesOf(record);
      const hash = hashOf(record, attributes);
      notePendingManager(pendingManagers, record, attributes, hash);
      const link = links.get(record.anchor);
      if (link && link.hash === hash && link.missingSince === null) return { anchor: record.anchor, userId: link.userId, outcome: 'unchanged', changes: {}, error: null };
      const userId = link ? link.userId : await matcher.match(record);
      let current = userId ? users.get(userId) : undefined;
      if (userId && !current) {
        await overlap?.after;
        current = await syncRunsRepo.usersForUpdate(trx, accountId, [userId]).then((found) => found.get(userId));
        if (current) users.set(userId, current);
      }
      const owned = presentKeys(attributes).filter((k) => ownableAttributes[source.kind].includes(k));
      const next = mergeRecord(current?.doc, attributes, link?.ownedAttributes ?? []);
      if (link?.missingSince && attributes.active === undefined) {
        // Seen again after the source deactivated it: active again.
        next.active = true;
        owned.push('active');
      }
      return {
        slot, record,
        request: { current, next, anchor: record.anchor, raw: record.raw as JsonObject, ownedAttributes: owned, linkHash: hash, anchorUnlinked: link === undefined },
      };
    };

    for (const [slot, record] of records.entries()) {
      if (!record.anchor) {
        outcomes[slot] = quarantined(null, new DomainError('invalidValue', 'the record has no anchor'));
        continue;
      }
      const manager = managerAnchorOf(record.attributes as JsonObject);
      const dependsOnPending =
        pendingAnchors.has(record.anchor) ||
        (manager !== undefined && pendingAnchors.has(manager)) ||
        (!links.has(record.anchor) && matcher.keysOf(record).some((k) => pendingKeys.has(k)));
      if (dependsOnPending) await flush();
      let step: PendingWrite | RecordOutcome;
      try {
        step = await resolve(record, slot);
        // Its user has a write collected: make it, then take the record again over what it stored.
        if ('request' in step && step.request.current && pendingUsers.has(step.request.current.id)) {
          await flush();
          step = await resolve(record, slot);
        }
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        outcomes[slot] = quarantined(record.anchor, error);
        continue;
      }
      if (!('request' in step)) {
        outcomes[slot] = step;
        continue;
      }
      pending.push(step);
      pendingAnchors.add(record.anchor);
      if (step.request.current) pendingUsers.add(step.request.current.id);
      for (const key of matchKeysOf(step.request.current?.doc)) pendingKeys.add(key);
      for (const key of matchKeysOf(step.request.next)) pendingKeys.add(key);
    }
    await flush(true);
    report();
    // An earlier batch of the run that noted one of these anchors has committed (readsBatchKeys: a record of its anchors waits for it).
    await runManagersRepo.add(trx, { accountId, sourceId: source.id, runId: ctx.run.id }, [...pendingManagers.values()]);
    return outcomes;
  }

  /**
   * The collected writes, in one `UserService.write`. Should the database refuse them (a bug, or a value the plan
   * could not foresee), they are written again one by one, each in its savepoint, and only the failing ones are
   * quarantined.
   */
  private async write(trx: Trx, ctx: RunContext, batch: readonly PendingWrite[], state: { retried: boolean }, options: WriteOptions): Promise<Written[]> {
    const attempt = (part: readonly PendingWrite[], opts: WriteOptions) => trx.transaction((sp) => this.deps.users.write(sp, ctx.accountId, ctx.writer, part.map((p) => p.request), opts));
    try {
      return await attempt(batch, options);
    } catch (error) {
      // The batch before failed (this one waits for its commit): this batch fails with it, nothing to retry.
      await options.after;
      state.retried = true;
      // Made again record by record: the plan handed to the next batch (options.planned) is not called again.
      const retry: WriteOptions = { ...options };
      delete retry.planned;
      if (batch.length > 1) this.deps.logger.warn({ err: error, records: batch.length }, 'a batch write failed; writing its records one by one');
      const out: Written[] = [];
      for (const p of batch) {
        try {
          if (batch.length === 1) throw error;
          out.push(...(await attempt([p], retry)));
        } catch (single) {
          this.deps.logger.warn({ err: single, anchor: p.record.anchor }, 'record quarantined');
          out.push({ ok: false, error: single });
        }
      }
      return out;
    }
  }
}
