import { randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import type { Knex } from 'knex';
import type { Account } from '../domain/account.js';
import { DomainError, notFound } from '../domain/errors.js';
import { auditWriterOf, type Writer } from '../domain/ownership.js';
import { EXTENSION_URNS } from '../domain/user-document.js';
import { deleteDecision, unregisteredDocument, type JsonObject } from '../domain/user-rules.js';
import { factsNeeded, planWrites, prepareWrite, type FactNeeds, type LinkFact, type PlannedWrite, type PreparedWrite, type PlanOutcome, type WriteItem } from '../domain/write-plan.js';
import { auditRepo } from '../db/audit-repo.js';
import type { Executor, Trx } from '../db/database.js';
import { sourceLinksRepo, type SourceLink } from '../db/source-links-repo.js';
import { sourcesRepo } from '../db/sources-repo.js';
import { INDEXED_UNIQUE_ATTRIBUTES, LOST_RACE, UNIQUE_VIOLATION, usersRepo, type StoredResource, type StoredUser, type UserView, type ListQuery, type WrittenUser, type CountOptions } from '../db/users-repo.js';
import { compileListCriteria, type ListCriteria } from '../db/list-filter.js';
import { writeBackOutboxRepo } from '../db/writeback-outbox-repo.js';
import { usernameToApply } from '../domain/mivb-username.js';
import type { Clock } from '../lib/clock.js';
import { TtlCache } from '../lib/ttl-cache.js';
import { ruleFacts } from './rule-facts.js';

export { EXTENSION_URNS };

/** Attempts of retryLostRaces: a user written by more writers at once than this may answer 409 (retry). */
const MAX_ATTEMPTS = 5;

export interface WriteResult {
  /** With `resource`, its stored representation, when the write created it. */
  user: WrittenUser;
  created: boolean;
  changed: string[];
  ignored: string[];
}

/**
 * One user write for `UserService.write`: the current user (none to create, read under its row lock), its next
 * complete SCIM document, and what comes with it (see WriteItem in domain/write-plan.ts). `links`: the current
 * user's source links when the caller read them with the row; otherwise they are read for it.
 */
export type WriteRequest = Omit<WriteItem<StoredUser>, 'links'> & { links?: readonly LinkFact[] };

/** A users list request: a repository ListQuery with the SCIM filter and sortBy in place of their SQL. */
export type UserListRequest = Omit<ListQuery, 'where' | 'orderBy'> & ListCriteria;

/** What `write` answers for one item: what was stored, or why nothing was. */
export type WriteOutcome = { ok: true; result: WriteResult } | { ok: false; error: DomainError };

/** `write`'s options. */
export interface WriteOptions {
  /** The account, when the caller holds it (read in this transaction). */
  account?: Account;
  /** Users the caller's previous batch creates in a transaction that may not have committed yet (WriteFacts.uncommittedUsers). */
  uncommittedUsers?: readonly { id: string; doc: JsonObject }[];
  /**
   * Called once every item is planned, before the last statement is sent, with the writes about to be made: a
   * caller that overlaps batches starts planning its next batch then, while the database writes this one.
   */
  planned?: (writes: readonly PlannedWrite<StoredUser>[]) => void;
  /**
   * Resolved once the caller's previous batch (still running in another transaction) has made its writes: this
   * write waits for it before it writes, or locks the account row to count seats. Since the previous batch never
   * waits for this one but to commit after it, the two cannot deadlock: the previous one never needs a lock this
   * one took first (the account row's key-share lock of its inserts, a users-count shard).
   */
  after?: Promise<void>;
}

/** `apply`'s options: a WriteRequest without its current user and document, and the account when the caller holds it. */
export type ApplyOptions = Omit<WriteRequest, 'current' | 'next'> & { account?: Account };

/** The key that two items of one write may not share (one user, one source anchor): such items go one after the other. */
function groupKeys(writer: Writer, item: WriteRequest): string[] {
  const keys = item.current ? [`user:${item.current.id}`] : [];
  if (writer.type === 'source') {
    const anchor = item.anchor ?? item.links?.find((l) => l.sourceId === writer.sourceId)?.anchor ?? (typeof item.next.externalId === 'string' ? item.next.externalId : undefined);
    if (anchor !== undefined) keys.push(`anchor:${anchor}`);
  }
  return keys;
}

export class UserService {
  /**
   * accountId → id of its `scim` source. That source is never deleted or replaced (the Sources API does not touch
   * it), so an id once read from the database stays right; one created inside a transaction that may still roll
   * back is not kept.
   */
  private readonly scimSourceIds = new TtlCache<string, string>(60 * 60_000);

  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    /** Values one multi-valued attribute of a user may hold (SCIM_MAX_MULTI_VALUES). */
    private readonly maxMultiValues = 100,
  ) {}

  transaction<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  async get(accountId: string, id: string, withGroups = true, withRaw = false): Promise<UserView> {
    const user = await usersRepo.findView(this.db, accountId, id, withGroups, withRaw);
    if (!user) throw notFound(`User ${id}`);
    return user;
  }

  /** A user's stored representation (without the base URL: domain/user-resource.ts withBase completes it). */
  async getResource(accountId: string, id: string): Promise<StoredResource> {
    const found = await usersRepo.findResource(this.db, accountId, id);
    if (!found) throw notFound(`User ${id}`);
    return found;
  }

  /** `list` of the stored representations. */
  listResources(accountId: string, request: Omit<UserListRequest, 'withGroups'>) {
    const { filter, sortBy, ...query } = request;
    return usersRepo.listResources(this.db, accountId, { ...query, ...compileListCriteria('user', { filter, sortBy }, accountId) });
  }

  /** `list` of the CSV export's rows. */
  listExport(accountId: string, request: Omit<UserListRequest, 'withGroups'>) {
    const { filter, sortBy, ...query } = request;
    return usersRepo.listExport(this.db, accountId, { ...query, ...compileListCriteria('user', { filter, sortBy }, accountId) });
  }

  /** A page of users: the request's SCIM filter and sortBy are compiled to SQL here (a bad one is a DomainError). */
  list(accountId: string, request: UserListRequest) {
    const { filter, sortBy, ...query } = request;
    return usersRepo.list(this.db, accountId, { ...query, ...compileListCriteria('user', { filter, sortBy }, accountId) });
  }

  /** totalResults of a SCIM filter (all users without one). */
  count(accountId: string, filter?: string, options: CountOptions = {}) {
    return usersRepo.count(this.db, accountId, compileListCriteria('user', { filter }, accountId).where, options);
  }

  /** The account a write is checked against: read it once, pass it to write/apply (`account`) and to the rest. */
  async account(trx: Trx, accountId: string): Promise<Account> {
    const account = await ruleFacts.forWrites(trx, accountId, { account: true, lockAccount: false, licenceHolders: [], accountAdmins: false, uniqueValues: [], sourceNames: [] });
    return account.account!;
  }

  /** Writer for a SCIM push: the account's `scim` source. */
  async scimWriter(trx: Trx | undefined, accountId: string, actor: string): Promise<Writer> {
    let sourceId = this.scimSourceIds.get(accountId);
    if (sourceId === undefined) {
      const { source, created } = await sourcesRepo.scimSource(trx ?? this.db, accountId);
      // Created outside a transaction, it is committed already.
      if (!created || !trx) this.scimSourceIds.set(accountId, source.id);
      sourceId = source.id;
    }
    return { type: 'source', actor, sourceId, kind: 'scim' };
  }

  /**
   * The single write path for users: SCIM pushes, admin edits, the Users page actions, sync
   * runs and CSV imports all end here, for one user or many, in the caller's transaction. Each item is planned by
   * the pure write plan (ownership, the seed's rules, uniqueness, audit) over the facts it needs, then the items
   * that pass are written by one repository call; a refused item is left unwritten with its error and the others
   * go on. Items are planned in order, each seeing what the earlier ones take and give up; two items for one user
   * or one source anchor are written one after the other (the later one with its `current` as given).
   *
   * For connector and import authors: build one WriteRequest per record (`current` from your matching, `next` the
   * merged document, `anchor`/`raw`/`ownedAttributes`/`linkHash` for the link), call `write` once per batch inside
   * your transaction, and read each outcome: `ok` with what was stored, or the DomainError to report.
   *
   * `trx` undefined: the write is a transaction of its own, with as few round trips as it can (a SCIM request's).
   * Its `current` users may then be read without their row lock (findWithLinks): each update applies only to the
   * version it was planned on, and otherwise fails with a LostRaceError, writing nothing (see retryLostRaces).
   */
  async write(trx: Trx | undefined, accountId: string, writer: Writer, items: readonly WriteRequest[], options: WriteOptions = {}): Promise<WriteOutcome[]> {
    const groups: WriteRequest[][] = [[]];
    const keys = new Set<string>();
    for (const item of items) {
      const own = groupKeys(writer, item);
      if (own.some((k) => keys.has(k))) {
        groups.push([]);
        keys.clear();
      }
      groups[groups.length - 1]!.push(item);
      for (const k of own) keys.add(k);
    }
    const out: WriteOutcome[] = [];
    // Each group's writes as last planned: a write of its own that met a unique index is planned again.
    const planned: (readonly PlannedWrite<StoredUser>[])[] = [];
    for (let g = 0; g < groups.length; g++) {
      const last = g === groups.length - 1;
      out.push(...(await this.writeGroup(trx, accountId, writer, groups[g]!, options, (writes) => {
        planned[g] = writes;
        if (last) options.planned?.(planned.flat());
      })));
    }
    return out;
  }

  /** `write` for one item: its result, or its refusal thrown. */
  async apply(trx: Trx | undefined, accountId: string, writer: Writer, current: StoredUser | undefined, incoming: JsonObject, options: ApplyOptions = {}): Promise<WriteResult> {
    const { account, ...rest } = options;
    const [outcome] = await this.write(trx, accountId, writer, [{ ...rest, current, next: incoming }], account ? { account } : {});
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.result;
  }

  private async writeGroup(
    trx: Trx | undefined, accountId: string, writer: Writer, group: readonly WriteRequest[], options: WriteOptions,
    planned: (writes: readonly PlannedWrite<StoredUser>[]) => void,
  ): Promise<WriteOutcome[]> {
    if (group.length === 0) {
      planned([]);
      return [];
    }
    const missing = group.filter((item) => item.current && !item.links).map((item) => item.current!.id);
    const linksOf = missing.length > 0 ? await sourceLinksRepo.forUsers(trx ?? this.db, accountId, missing) : new Map<string, SourceLink[]>();
    const prepared: (PreparedWrite<StoredUser> | DomainError)[] = group.map((item) =>
      prepareWrite(writer, { ...item, links: item.links ?? (item.current ? linksOf.get(item.current.id) ?? [] : []) }, { maxMultiValues: this.maxMultiValues }),
    );
    const passed = prepared.filter((p): p is PreparedWrite<StoredUser> => !(p instanceof DomainError));
    const needs = factsNeeded(writer, passed);
    if (trx) return this.writePrepared(trx, accountId, writer, prepared, needs, options, planned);
    // A write of its own: seats are counted under the account row lock, held until the write commits, and the
    // seed's MiVB username goes to the write-back outbox with the write: those take a transaction. The rest reads
    // its facts and writes in autocommit (writePlanned: one statement, or a transaction of its own when it needs more).
    const ownTransaction = needs.lockAccount || passed.some((p) => usernameToApply(writer, p.item.current?.id ?? '', p.item.current?.doc, p.next) !== undefined);
    if (ownTransaction) return this.db.transaction((t) => this.writePrepared(t, accountId, writer, prepared, needs, options, planned));
    // Its unique values that a unique index holds are not read first: the statement meets the index when another
    // user holds one, and writes nothing; only then are the holders read, and the write planned again on them for
    // the refusal that names the value. An identity provider's POST is then one statement (measured: 2 round trips
    // to 1, as the floor writing the same rows).
    const unread = { ...needs, uniqueValues: needs.uniqueValues.filter((u) => !INDEXED_UNIQUE_ATTRIBUTES.has(u.attribute)) };
    if (unread.uniqueValues.length === needs.uniqueValues.length) return this.writePrepared(this.db, accountId, writer, prepared, needs, options, planned);
    try {
      return await this.writePrepared(this.db, accountId, writer, prepared, unread, options, planned);
    } catch (error) {
      if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
    }
    return this.writePrepared(this.db, accountId, writer, prepared, needs, options, planned);
  }

  private async writePrepared(
    db: Executor, accountId: string, writer: Writer, prepared: readonly (PreparedWrite<StoredUser> | DomainError)[], needs: FactNeeds, options: WriteOptions,
    planned: (writes: readonly PlannedWrite<StoredUser>[]) => void,
  ): Promise<WriteOutcome[]> {
    const { account } = options;
    if (needs.lockAccount) await options.after;
    const facts = await ruleFacts.forWrites(db, accountId, needs, account);
    const plan: PlanOutcome<StoredUser>[] = planWrites(writer, prepared, {
      ...facts, now: this.clock.now(), newId: randomUUID, ...(options.uncommittedUsers ? { uncommittedUsers: options.uncommittedUsers } : {}),
    });
    const writes = plan.flatMap((p) => (p.ok ? [p.write] : []));
    planned(writes);
    await options.after;
    for (const w of writes) if (w.password !== undefined) w.passwordHash = await hashPassword(w.password);
    const stored = await usersRepo.writePlanned(db, accountId, writes);
    for (const w of writes) await this.enqueueUsernameWriteBack(db, accountId, writer, w.id, w.current?.doc, w.next, w.at);
    let next = 0;
    return plan.map((p): WriteOutcome => {
      if (!p.ok) return p;
      const user = stored[next++]!;
      return { ok: true, result: { user, created: p.write.user === 'insert', changed: p.write.changed, ignored: p.write.ignored } };
    });
  }

  /** The seed's apply-once MiVB username: written to the write-back outbox in the edit's transaction. */
  private async enqueueUsernameWriteBack(trx: Executor, accountId: string, writer: Writer, userId: string, before: JsonObject | undefined, next: JsonObject, now: Date): Promise<void> {
    const message = usernameToApply(writer, userId, before, next);
    if (!message) return;
    // No MiVB source in the account: there is no PBX to write to.
    const sourceId = await writeBackOutboxRepo.mivbSourceFor(trx, accountId, userId);
    if (sourceId) await writeBackOutboxRepo.enqueue(trx, { accountId, sourceId, userId, kind: 'username', payload: { ...message }, at: now });
  }

  /**
   * Runs `attempt` (a read of the user, then a write of its own planned on it: `write` without a transaction)
   * again while it loses the race to another write of the user, at most MAX_ATTEMPTS times. Every losing attempt
   * means another write of the user landed, so N writers of one user at once all land within N attempts; past
   * the bound the client is told to retry (409).
   */
  async retryLostRaces<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        if (n >= MAX_ATTEMPTS || (error as { code?: unknown }).code !== LOST_RACE) throw error;
      }
    }
  }

  /** The user with its source links, without a lock, for a write of its own (`write` without a transaction, in retryLostRaces). */
  async findWithLinks(accountId: string, id: string): Promise<{ user: StoredUser; links: LinkFact[] }> {
    const found = await usersRepo.findWithLinks(this.db, accountId, id, false);
    if (!found) throw notFound(`User ${id}`);
    return found;
  }

  /** The user under a row lock with its source links (pass them to write/apply as `links`): one round trip. */
  async findForUpdateWithLinks(trx: Trx, accountId: string, id: string): Promise<{ user: StoredUser; links: LinkFact[] }> {
    const found = await usersRepo.findWithLinks(trx, accountId, id, true);
    if (!found) throw notFound(`User ${id}`);
    return found;
  }

  async findForUpdate(trx: Trx, accountId: string, id: string): Promise<StoredUser> {
    const user = await usersRepo.findById(trx, accountId, id, { forUpdate: true });
    if (!user) throw notFound(`User ${id}`);
    return user;
  }

  /**
   * DELETE by the seed's rules (deleteDecision in domain/user-rules.ts): a local user is deleted; a synced one, by
   * its source kind's policy, loses only its platform account (through the write path) or cannot be deleted; a
   * source deleting its own user removes it, or only its link while other sources feed it.
   */
  /**
   * `deleteOnly`: a caller whose answer can only say "deleted" (an admin's DELETE /Users/{id}: 204) refuses a user
   * that would only lose its platform account with 409 and the reason, changing nothing; the deleteUsers action
   * does it and reports it per user.
   */
  async delete(accountId: string, writer: Writer, id: string, ifMatch?: number, deleteOnly = false): Promise<'deleted' | 'unregistered'> {
    return this.db.transaction(async (trx) => {
      const { user, links } = await this.findForUpdateWithLinks(trx, accountId, id);
      if (ifMatch !== undefined && ifMatch !== user.version) throw new DomainError('preconditionFailed', `User ${id} is at version W/"${user.version}", not W/"${ifMatch}"`);
      const now = this.clock.now();
      const decision = deleteDecision(await ruleFacts.forDelete(trx, accountId, writer, user, links));
      if (decision instanceof DomainError) throw decision;
      switch (decision) {
        case 'delete':
          await usersRepo.delete(trx, accountId, id);
          await auditRepo.record(trx, { accountId, actor: writer.actor, writer: auditWriterOf(writer), action: 'user.delete', targetType: 'User', targetId: id }, now);
          return 'deleted';
        case 'unlink':
          if (writer.type !== 'source') throw new Error('only a source unlinks');
          await sourceLinksRepo.deleteForUser(trx, accountId, id, writer.sourceId);
          await usersRepo.refreshResources(trx, accountId, [id]);
          await auditRepo.record(trx, { accountId, actor: writer.actor, writer: auditWriterOf(writer), action: 'user.unlink', targetType: 'User', targetId: id, details: { sourceId: writer.sourceId } }, now);
          return 'unregistered';
        case 'unregister': {
          if (deleteOnly) {
            throw new DomainError(
              'conflict',
              `User ${id} is synced from ${[...new Set(links.map((l) => l.sourceKind))].join(', ')}: deleting it here would only remove its platform account (the source would bring it back). ` +
                'Remove it at the source, or run the deleteUsers action (POST /Actions) to remove its platform account; it reports the outcome per user',
            );
          }
          const [outcome] = await this.write(trx, accountId, writer, [{ current: user, next: unregisteredDocument(user.doc), links, unregister: true }]);
          if (!outcome!.ok) throw outcome!.error;
          return 'unregistered';
        }
      }
    });
  }
}

export function hashPassword(password: string): Promise<string> {
  if (password.length < 8) throw new DomainError('invalidValue', 'password must be at least 8 characters long');
  return argon2.hash(password, { type: argon2.argon2id });
}
