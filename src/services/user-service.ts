import { randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import type { Knex } from 'knex';
import type { Account } from '../domain/account.js';
import { checkResourceLimits, emailLengthViolation, repeatedEmail, withoutRepeatedEmails } from '../domain/attribute-limits.js';
import { DomainError, notFound, uniquenessError } from '../domain/errors.js';
import { fieldOwners, ownableAttributes, resolveWrite, changedAttributes, type FieldOwner, type SourceKind, type Writer } from '../domain/ownership.js';
import {
  adminEntryViolation, computedExtensionAttributes, extensionOf, licenseRuleViolation, licensesOf, normaliseMobile, seatsOf, smsNumberRuleViolation,
  SWITCHBOARD_URN, type JsonObject,
} from '../domain/user-rules.js';
import { accountsRepo } from '../db/accounts-repo.js';
import { auditRepo } from '../db/audit-repo.js';
import { licencesRepo } from '../db/licences-repo.js';
import type { Trx } from '../db/database.js';
import { sourceLinksRepo, type SourceLink } from '../db/source-links-repo.js';
import { sourcesRepo } from '../db/sources-repo.js';
import { runAsOne, type Statement } from '../db/statement.js';
import { runUserWrite, uniqueKeysOf, usersRepo, type StoredUser, type UniqueHolder, type UserView, type ListQuery, type UserWrite } from '../db/users-repo.js';
import { writeBackOutboxRepo } from '../db/writeback-outbox-repo.js';
import { usernameToApply } from '../domain/mivb-username.js';
import type { Clock } from '../lib/clock.js';
import { TtlCache } from '../lib/ttl-cache.js';

export const EXTENSION_URNS = ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', SWITCHBOARD_URN] as const;

export interface WriteResult {
  user: StoredUser;
  created: boolean;
  changed: string[];
  ignored: string[];
}

export interface ApplyOptions {
  /** The account, when the caller already holds it (the sync engine reads it once per batch, not per record). */
  account?: Account;
  /** A plain-text password to hash and store (SCIM `password`, write-only). */
  password?: string;
  /** For source writers: the anchor of the record, and its raw form (the admin's "advanced" data). */
  anchor?: string;
  raw?: JsonObject;
  /** Expected version (If-Match), checked under the row lock. */
  ifMatch?: number;
  /** Source-writer attribute claims: defaults to the attributes of its kind present in the document. */
  ownedAttributes?: string[];
  /**
   * A partial write (a PATCH): the attributes it wrote. A source then claims those (of its kind) beside what its
   * link already owned, not every attribute the patched document holds.
   */
  wrote?: readonly string[];
  /** For source writers: the hash of the record, kept on the link (the sync engine's "unchanged" check); default none. */
  linkHash?: string;
  /** The current user's source links, when the caller read them with the row (findForUpdateWithLinks). */
  links?: SourceLink[];
  /** For source writers in applyMany: no link of this source holds `anchor` (the sync engine looked, under the source's lock). */
  anchorUnlinked?: boolean;
}

/** One write of `applyMany`: what `apply` takes after the writer. */
export interface ApplyItem {
  current: StoredUser | undefined;
  next: JsonObject;
  options?: ApplyOptions;
}

/** What `applyMany` answers for one item: what `apply` would have returned, or the error it would have thrown. */
export type ApplyManyResult = { ok: true; result: WriteResult } | { ok: false; error: DomainError };

/** An item of `applyMany` past its checks that need no query of their own, ready to be written with others. */
interface PreparedWrite {
  index: number;
  current: StoredUser | undefined;
  /** The user's id: the current one, or the one chosen for the user to create. */
  id: string;
  now: Date;
  next: JsonObject;
  changed: string[];
  ignored: string[];
  /** Source writers: the link to upsert. */
  link?: { anchor: string; ownedAttributes: string[]; raw: JsonObject; hash: string | null; anchorUnlinked: boolean };
}

function cleanDocument(doc: JsonObject): JsonObject {
  const out = JSON.parse(JSON.stringify(doc)) as JsonObject; // scimmy hands back Proxy-wrapped arrays that structuredClone refuses
  delete out.id;
  delete out.meta;
  delete out.groups;
  delete out.password;
  const ext = out[SWITCHBOARD_URN] as JsonObject | undefined;
  if (ext) {
    for (const key of computedExtensionAttributes) delete ext[key];
    if (Object.keys(ext).length === 0) delete out[SWITCHBOARD_URN];
  }
  // At most one primary per multi-valued attribute (RFC 7643 §2.4): the first one flagged wins.
  for (const attribute of ['emails', 'phoneNumbers', 'addresses', 'ims', 'photos', 'roles', 'entitlements']) {
    const list = out[attribute];
    if (!Array.isArray(list)) continue;
    let seen = false;
    for (const item of list as JsonObject[]) {
      if (item && item.primary === true) {
        if (seen) item.primary = false;
        seen = true;
      }
    }
  }
  const schemas = new Set(['urn:ietf:params:scim:schemas:core:2.0:User']);
  for (const urn of EXTENSION_URNS) if (out[urn] && Object.keys(out[urn] as JsonObject).length > 0) schemas.add(urn);
  out.schemas = [...schemas];
  return out;
}

function checkVersion(current: StoredUser | undefined, ifMatch: number | undefined): void {
  if (current && ifMatch !== undefined && ifMatch !== current.version) {
    throw new DomainError('preconditionFailed', `User ${current.id} is at version W/"${current.version}", not W/"${ifMatch}". Read it again and retry.`);
  }
}

/**
 * The query-free first steps of every user write (apply and applyMany): the If-Match check, the cleaned
 * document, the required userName, admins never overwriting the source-fed contactCenter, E.164 mobile, and the
 * seed's New User form for admin writers (First Name, Last Name and a valid Email; extension numbers). Sources
 * are not held to the form: RFC 7643 requires only userName of what an identity provider or directory sends.
 */
function prepareDocument(writer: Writer, current: StoredUser | undefined, incoming: JsonObject, ifMatch: number | undefined, maxValues: number): JsonObject {
  checkVersion(current, ifMatch);
  const next = cleanDocument(incoming);
  if (typeof next.userName !== 'string' || next.userName.trim() === '') throw new DomainError('invalidValue', 'userName is required and must not be empty');
  for (const email of Array.isArray(next.emails) ? (next.emails as JsonObject[]) : []) {
    const violation = typeof email?.value === 'string' ? emailLengthViolation(email.value) : undefined;
    if (violation) throw new DomainError('invalidValue', `emails: ${violation}`);
  }
  // One address once per user, whatever its case: a pulled directory record is cleaned, a SCIM client is told.
  if (writer.type === 'source' && writer.kind !== 'scim') withoutRepeatedEmails(next);
  const repeated = repeatedEmail(next);
  if (repeated !== undefined) throw new DomainError('invalidValue', `emails lists ${repeated} more than once (addresses compare case-insensitively): keep one`);
  // Lengths and counts every writer is held to (SCIM, Bulk, sync, import all arrive here).
  checkResourceLimits('User', next, { maxValues });
  const before = current?.doc[SWITCHBOARD_URN] as JsonObject | undefined;
  if (before && before.contactCenter !== undefined && writer.type === 'admin') {
    next[SWITCHBOARD_URN] = { ...extensionOf(next), contactCenter: before.contactCenter };
  }
  normaliseMobile(next);
  if (writer.type === 'admin') {
    const violation = adminEntryViolation(current?.doc, next);
    if (violation) throw new DomainError('invalidValue', violation);
  }
  return next;
}

/**
 * What a source writer's link records: its anchor (given, the existing link's, the externalId, or the user's id)
 * and the attributes it claims (given, or those of its kind the document holds; the scim source always claims active).
 */
function sourceClaim(
  writer: Writer & { type: 'source' }, options: ApplyOptions, next: JsonObject, links: readonly SourceLink[], id: string,
): { anchor: string; owned: string[] } {
  const kind = writer.kind as SourceKind;
  const existing = links.find((l) => l.sourceId === writer.sourceId);
  const owned =
    options.ownedAttributes ??
    (options.wrote
      ? [...new Set([...(existing?.ownedAttributes ?? []), ...ownableAttributes[kind].filter((a) => options.wrote!.includes(a))])]
      : ownableAttributes[kind].filter((a) => present(next, a) || (kind === 'scim' && a === 'active')));
  return { anchor: options.anchor ?? existing?.anchor ?? (typeof next.externalId === 'string' ? next.externalId : id), owned };
}

/**
 * Who owns what once this write is made: the links' claims, a writing source's own replaced by what this write
 * claims, so that precedence decides from a source's first write on (a hybrid user joined by a second source takes
 * that source's values where it comes first, without waiting for a later change).
 */
function ownersAfter(links: readonly SourceLink[], writer: Writer, options: ApplyOptions, next: JsonObject): ReturnType<typeof fieldOwners> {
  const claims = links.filter((l) => writer.type !== 'source' || l.sourceId !== writer.sourceId).map((l) => ({ sourceId: l.sourceId, kind: l.sourceKind, ownedAttributes: l.ownedAttributes }));
  if (writer.type === 'source') claims.push({ sourceId: writer.sourceId, kind: writer.kind as SourceKind, ownedAttributes: sourceClaim(writer, options, next, links, '').owned });
  return fieldOwners(claims);
}

function present(doc: JsonObject, attribute: string): boolean {
  const split = attribute.lastIndexOf(':');
  const value = attribute.startsWith('urn:') ? (doc[attribute.slice(0, split)] as JsonObject | undefined)?.[attribute.slice(split + 1)] : doc[attribute];
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

/**
 * The single write path for users: SCIM pushes, admin edits, CSV rows and connector records all end in
 * apply(), which enforces ownership, the seed's rules, uniqueness and the audit log in the caller's transaction.
 */
/**
 * The 400 mutability for an admin writing source-owned attributes, naming each owner by name, kind and id (two
 * LDAP sources must be told apart). Read only on this error path.
 */
async function ownedAttributesRefusal(trx: Trx, accountId: string, refused: readonly { attribute: string; owner: FieldOwner }[]): Promise<DomainError> {
  const names = await sourcesRepo.namesOf(trx, accountId, [...new Set(refused.map((r) => r.owner.sourceId))]);
  const list = refused.map((r) => `${r.attribute} (owned by source "${names.get(r.owner.sourceId) ?? r.owner.kind}", ${r.owner.kind}, id ${r.owner.sourceId})`).join(', ');
  return new DomainError('mutability', `Cannot change ${list}: it is synced from its source and would be overwritten on the next sync; change it there`);
}

/** Whether two documents hold the same values for everything unique per account (compared as findConflict does). */
function sameUniqueValues(a: JsonObject, b: JsonObject): boolean {
  const x = uniqueKeysOf(a);
  const y = uniqueKeysOf(b);
  const sorted = (values: string[]) => [...values].sort().join('\u0000');
  return (
    x.userName === y.userName &&
    x.smsNumber === y.smsNumber &&
    sorted(x.emails.map((e) => e.key)) === sorted(y.emails.map((e) => e.key)) &&
    sorted(x.extensions) === sorted(y.extensions)
  );
}

const PARTNER_DELETE_REASON = 'A Mitel Partner cannot be deleted';

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

  list(accountId: string, query: ListQuery) {
    return usersRepo.list(this.db, accountId, query);
  }

  count(accountId: string, where?: { sql: string; bindings: readonly unknown[] }) {
    return usersRepo.count(this.db, accountId, where);
  }

  /** The account a write is checked against: read it once, pass it to apply (`options.account`) and to the rest. */
  async account(trx: Trx, accountId: string): Promise<Account> {
    const account = await accountsRepo.findById(trx, accountId);
    if (!account) throw notFound(`Account ${accountId}`);
    return account;
  }

  /** Writer for a SCIM push: the account's `scim` source. */
  async scimWriter(trx: Trx, accountId: string, actor: string): Promise<Writer> {
    let sourceId = this.scimSourceIds.get(accountId);
    if (sourceId === undefined) {
      const { source, created } = await sourcesRepo.scimSource(trx, accountId);
      if (!created) this.scimSourceIds.set(accountId, source.id);
      sourceId = source.id;
    }
    return { type: 'source', actor, sourceId, kind: 'scim' };
  }

  /**
   * Creates (current undefined) or changes a user to `incoming`, the complete next SCIM document.
   */
  async apply(trx: Trx, accountId: string, writer: Writer, current: StoredUser | undefined, incoming: JsonObject, options: ApplyOptions = {}): Promise<WriteResult> {
    const now = this.clock.now();
    let next = prepareDocument(writer, current, incoming, options.ifMatch, this.maxMultiValues);

    const links = current ? (options.links ?? (await sourceLinksRepo.forUser(trx, accountId, current.id))) : [];
    const owners = ownersAfter(links, writer, options, next);
    let ignored: string[] = [];
    if (current) {
      const resolved = resolveWrite(owners, writer, current.doc, next, EXTENSION_URNS);
      if (resolved.refused.length > 0) throw await ownedAttributesRefusal(trx, accountId, resolved.refused);
      next = cleanDocument(resolved.next);
      ignored = resolved.ignored;
    }

    // Read only when a rule needs it (licences, an SMS number): most writes, a title or a new user, need no account.
    const given = options.account?.id === accountId ? options.account : undefined;
    let read: Promise<Account> | undefined;
    const account = (): Promise<Account> =>
      given ? Promise.resolve(given) : (read ??= accountsRepo.findById(trx, accountId).then((found) => found ?? Promise.reject(notFound(`Account ${accountId}`))));
    await this.enforceRules(trx, accountId, account, current, next, writer);

    // A change that keeps every unique value (most PATCHes: a title, active) cannot create a conflict: no query.
    if (!current || !sameUniqueValues(current.doc, next)) {
      const conflict = await usersRepo.findConflict(trx, accountId, next, current?.id);
      if (conflict) throw uniquenessError(conflict);
    }

    const passwordHash = options.password !== undefined ? await hashPassword(options.password) : undefined;
    const id = current?.id ?? randomUUID();
    const changed = changedAttributes(current?.doc ?? {}, next, EXTENSION_URNS);
    let write: UserWrite | undefined;
    if (!current) {
      write = usersRepo.insertWrite(trx, accountId, next, { id, source: writer.type === 'source' ? writer.kind : 'local', updatedBy: writer.actor, passwordHash: passwordHash ?? null, at: now });
    } else if (changed.length > 0 || passwordHash !== undefined) {
      write = usersRepo.updateWrite(trx, current, next, { updatedBy: writer.actor, at: now, ...(passwordHash !== undefined ? { passwordHash } : {}) });
    }
    // The link and the audit entry go in the user's own statement: one round trip (runAsOne).
    const alongside: Statement[] = [];
    if (writer.type === 'source') {
      const { anchor, owned } = sourceClaim(writer, options, next, links, id);
      alongside.push(
        ...sourceLinksRepo.upsertStatements([
          { accountId, userId: id, sourceId: writer.sourceId, sourceKind: writer.kind as SourceKind, anchor, ownedAttributes: owned, attributes: next, raw: options.raw ?? next, hash: options.linkHash ?? null, at: now },
        ]),
      );
    }
    if (write) {
      alongside.push(
        auditRepo.recordStatement(
          trx,
          { accountId, actor: writer.actor, action: current ? 'user.update' : 'user.create', targetType: 'User', targetId: id, details: { changed, ...(ignored.length ? { ignored } : {}) } },
          now,
        ),
      );
    }
    if (!write) {
      await runAsOne(trx, alongside);
      return { user: current!, created: false, changed, ignored };
    }
    const user = await runUserWrite(trx, write, alongside);
    await this.enqueueUsernameWriteBack(trx, accountId, writer, id, current?.doc, next, now);
    return { user, created: !current, changed, ignored };
  }

  /** The seed's apply-once MiVB username: written to the write-back outbox in the edit's transaction. */
  private async enqueueUsernameWriteBack(trx: Trx, accountId: string, writer: Writer, userId: string, before: JsonObject | undefined, next: JsonObject, now: Date): Promise<void> {
    const message = usernameToApply(writer, userId, before, next);
    if (!message) return;
    // No MiVB source in the account: there is no PBX to write to.
    const sourceId = await writeBackOutboxRepo.mivbSourceFor(trx, accountId, userId);
    if (sourceId) await writeBackOutboxRepo.enqueue(trx, { accountId, sourceId, userId, kind: 'username', payload: { ...message }, at: now });
  }

  /**
   * `apply` for several items, in order, in the caller's transaction, with the same outcome as calling `apply`
   * for each in turn and catching its DomainError (the item is then left unwritten and the others go on): same
   * checks, same stored users, rows, links and audit entries, in the same order. Items whose checks need a query
   * of their own (a password to hash, a licence added, an admin losing the last admin right) go through `apply`
   * itself; the others are written together: one query for the links of the current users, one uniqueness query
   * (which also sees the values that earlier items of the batch take or give up), one statement per table.
   * Two items for the same user (or the same source anchor) are written one after the other, the later one
   * with the caller's `current` as given.
   */
  async applyMany(trx: Trx, accountId: string, writer: Writer, items: readonly ApplyItem[]): Promise<ApplyManyResult[]> {
    const out: ApplyManyResult[] = new Array<ApplyManyResult>(items.length);
    let account = items.find((item) => item.options?.account?.id === accountId)?.options?.account;
    let accountRead = account !== undefined;
    let links = new Map<string, SourceLink[]>();
    let linksStale = true;
    let group: PreparedWrite[] = [];
    const groupUsers = new Set<string>();
    const groupAnchors = new Set<string>();
    const flush = async () => {
      if (group.length === 0) return;
      await this.writeGroup(trx, accountId, writer, group, out);
      group = [];
      groupUsers.clear();
      groupAnchors.clear();
      linksStale = true;
    };
    const failed = (index: number, error: unknown) => {
      if (!(error instanceof DomainError)) throw error;
      out[index] = { ok: false, error };
    };
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item.current && groupUsers.has(item.current.id)) await flush();
      if (linksStale) {
        const ids = items.slice(i).flatMap((it) => (it.current ? [it.current.id] : []));
        links = await sourceLinksRepo.forUsers(trx, accountId, ids);
        linksStale = false;
      }
      if (!accountRead) {
        account = await accountsRepo.findById(trx, accountId);
        accountRead = true;
      }
      let prepared: PreparedWrite | 'alone';
      try {
        prepared = await this.prepare(trx, i, writer, item, (item.current && links.get(item.current.id)) ?? [], account, accountId);
      } catch (error) {
        failed(i, error);
        continue;
      }
      if (prepared === 'alone') {
        await flush();
        try {
          out[i] = { ok: true, result: await this.apply(trx, accountId, writer, item.current, item.next, { ...item.options, ...(account ? { account } : {}) }) };
        } catch (error) {
          failed(i, error);
        }
        linksStale = true;
        continue;
      }
      if (prepared.link && groupAnchors.has(prepared.link.anchor)) {
        // The same link twice: write what comes before, then prepare this one again over it.
        await flush();
        i--;
        continue;
      }
      group.push(prepared);
      groupUsers.add(prepared.id);
      if (prepared.link) groupAnchors.add(prepared.link.anchor);
    }
    await flush();
    return out;
  }

  /** `apply`'s checks that need no query, for one item of `applyMany`; 'alone' when it must go through `apply`. */
  private async prepare(
    trx: Trx, index: number, writer: Writer, item: ApplyItem, links: readonly SourceLink[], account: Account | undefined, accountId: string,
  ): Promise<PreparedWrite | 'alone'> {
    const { current } = item;
    const options = item.options ?? {};
    if (options.password !== undefined) {
      checkVersion(current, options.ifMatch);
      return 'alone';
    }
    let next = prepareDocument(writer, current, item.next, options.ifMatch, this.maxMultiValues);
    let ignored: string[] = [];
    if (current) {
      const owners = ownersAfter(links, writer, options, next);
      const resolved = resolveWrite(owners, writer, current.doc, next, EXTENSION_URNS);
      if (resolved.refused.length > 0) throw await ownedAttributesRefusal(trx, accountId, resolved.refused);
      next = cleanDocument(resolved.next);
      ignored = resolved.ignored;
    }
    if (!account) throw notFound(`Account ${accountId}`);
    if (this.rulesNeedQueries(current, next, writer)) return 'alone';
    const known = account;
    await this.enforceRules(trx, accountId, () => Promise.resolve(known), current, next, writer); // no query: see rulesNeedQueries
    const id = current?.id ?? randomUUID();
    const prepared: PreparedWrite = {
      index, current, id, now: this.clock.now(), next, ignored, changed: changedAttributes(current?.doc ?? {}, next, EXTENSION_URNS),
    };
    if (writer.type === 'source') {
      const { anchor, owned } = sourceClaim(writer, options, next, links, id);
      prepared.link = { anchor, ownedAttributes: owned, raw: options.raw ?? next, hash: options.linkHash ?? null, anchorUnlinked: options.anchorUnlinked === true };
    }
    return prepared;
  }

  /** Whether enforceRules would query: a licence added (seats), an admin taking away an account admin right, a MiVB username to write back. */
  private rulesNeedQueries(current: StoredUser | undefined, next: JsonObject, writer: Writer): boolean {
    const before = current?.doc ?? {};
    if (licensesOf(next).some((l) => !licensesOf(before).some((b) => b.toLowerCase() === l.toLowerCase()))) return true;
    // The MiVB username's write-back is enqueued by `apply` (a query for the source, a row in the outbox).
    if (usernameToApply(writer, current?.id ?? '', current?.doc, next)) return true;
    return !!current && extensionOf(before).accountAdmin === true && extensionOf(next).accountAdmin !== true && writer.type === 'admin';
  }

  /**
   * Writes prepared items of `applyMany` (no two for one user or one link): the uniqueness check of all of them
   * in one query, judged in order as `apply` one after the other would (a value an earlier item gives up is free,
   * one it takes is not), then one statement per table for those that pass.
   */
  private async writeGroup(trx: Trx, accountId: string, writer: Writer, group: readonly PreparedWrite[], out: ApplyManyResult[]): Promise<void> {
    type Attribute = UniqueHolder['attribute'];
    const keys = group.map((p) => {
      const k = uniqueKeysOf(p.next);
      const list: [Attribute, string, string][] = [['userName', k.userName, k.userName]];
      for (const e of k.emails) list.push(['emails', e.key, e.value]);
      for (const n of k.extensions) list.push(['extensions', n, n]);
      if (k.smsNumber !== null) list.push(['smsNumber', k.smsNumber, k.smsNumber]);
      return list;
    });
    const wanted = { userNames: new Set<string>(), emails: new Set<string>(), extensions: new Set<string>(), smsNumbers: new Set<string>() };
    const setOf: Record<Attribute, Set<string>> = { userName: wanted.userNames, emails: wanted.emails, extensions: wanted.extensions, smsNumber: wanted.smsNumbers };
    for (const list of keys) for (const [attribute, key] of list) setOf[attribute].add(key);
    const holders = new Map<string, UniqueHolder[]>();
    for (const h of await usersRepo.uniqueHolders(trx, accountId, {
      userNames: [...wanted.userNames], emails: [...wanted.emails], extensions: [...wanted.extensions], smsNumbers: [...wanted.smsNumbers],
    })) {
      const key = `${h.attribute}:${h.key}`;
      holders.set(key, [...(holders.get(key) ?? []), h]);
    }
    const label = (attribute: Attribute, value: string) => (attribute === 'userName' ? attribute : `${attribute} (${value})`);
    /** Users written by an earlier item of the group: their stored values no longer count, `taken` has their new ones. */
    const written = new Set<string>();
    const taken = new Map<string, { userId: string; value: string }>();
    const passed: PreparedWrite[] = [];
    /** Updates that take a users-table unique value an earlier update of the group gives up: a new statement. */
    const barrier = new Set<PreparedWrite>();
    group.forEach((p, i) => {
      let conflict: string | undefined;
      let takesReleased = false;
      for (const [attribute, key, value] of keys[i]!) {
        const inBatch = taken.get(`${attribute}:${key}`);
        if (inBatch && inBatch.userId !== p.id) conflict = label(attribute, inBatch.value);
        for (const h of conflict ? [] : holders.get(`${attribute}:${key}`) ?? []) {
          if (h.userId === p.id) continue;
          if (written.has(h.userId)) {
            if (attribute === 'userName' || attribute === 'smsNumber') takesReleased = true;
            continue;
          }
          conflict = label(attribute, h.value);
          break;
        }
        if (conflict) break;
      }
      if (conflict) {
        out[p.index] = { ok: false, error: uniquenessError(conflict) };
        return;
      }
      if (takesReleased) barrier.add(p);
      passed.push(p);
      written.add(p.id);
      for (const [attribute, key, value] of keys[i]!) taken.set(`${attribute}:${key}`, { userId: p.id, value });
    });

    const stored = new Map<string, StoredUser>();
    const updates = passed.filter((p) => p.current && p.changed.length > 0);
    let chunk: PreparedWrite[] = [];
    const writeUpdates = async () => {
      const users = await usersRepo.updateMany(trx, accountId, chunk.map((p) => ({ current: p.current!, doc: p.next, updatedBy: writer.actor, at: p.now })));
      for (const user of users) stored.set(user.id, user);
      chunk = [];
    };
    for (const p of updates) {
      if (barrier.has(p) && chunk.length > 0) await writeUpdates();
      chunk.push(p);
    }
    if (chunk.length > 0) await writeUpdates();
    const inserts = passed.filter((p) => !p.current);
    const source = writer.type === 'source' ? writer.kind : 'local';
    for (const user of await usersRepo.insertMany(trx, accountId, inserts.map((p) => ({ id: p.id, doc: p.next, source, updatedBy: writer.actor, at: p.now })))) {
      stored.set(user.id, user);
    }
    if (writer.type === 'source') {
      await sourceLinksRepo.upsertMany(
        trx,
        passed.map((p) => ({
          accountId, userId: p.id, sourceId: writer.sourceId, sourceKind: writer.kind as SourceKind, anchor: p.link!.anchor, ownedAttributes: p.link!.ownedAttributes,
          attributes: p.next, raw: p.link!.raw, hash: p.link!.hash, at: p.now, anchorUnlinked: p.link!.anchorUnlinked,
        })),
      );
    }
    await auditRepo.recordMany(
      trx,
      passed
        .filter((p) => !p.current || p.changed.length > 0)
        .map((p) => ({
          accountId, actor: writer.actor, action: p.current ? 'user.update' : 'user.create', targetType: 'User', targetId: p.id,
          details: { changed: p.changed, ...(p.ignored.length ? { ignored: p.ignored } : {}) }, at: p.now,
        })),
    );
    for (const p of passed) {
      out[p.index] = { ok: true, result: { user: stored.get(p.id) ?? p.current!, created: !p.current, changed: p.changed, ignored: p.ignored } };
    }
  }

  /** The seed's rules that hold whoever writes: licences, SMS numbers, the last account admin. */
  private async enforceRules(
    trx: Trx, accountId: string, loadAccount: () => Promise<Account>, current: StoredUser | undefined, next: JsonObject, writer: Writer,
  ): Promise<void> {
    // Called only where a rule needs the account; after the seat lock, the locked row.
    let accountOf = loadAccount;
    const before = current?.doc ?? {};
    const has = (doc: JsonObject, product: string) => licensesOf(doc).some((l) => l.toLowerCase() === product.toLowerCase());
    const added = licensesOf(next).filter((l, i, all) => !has(before, l) && all.findIndex((o) => o.toLowerCase() === l.toLowerCase()) === i);
    const removed = licensesOf(before).filter((l) => !has(next, l));
    if (added.length > 0) {
      // Seats are counted under the account row lock, as the assignLicense action counts them: two edits racing for
      // the last seat cannot both see it free. Every writer locks its users before the account, so none deadlock.
      const locked = await accountsRepo.findForUpdate(trx, accountId);
      if (!locked) throw notFound(`Account ${accountId}`);
      accountOf = () => Promise.resolve(locked);
    }
    for (const product of [...added, ...removed]) {
      const violation = licenseRuleViolation(await accountOf(), product);
      if (violation) throw new DomainError('invalidValue', violation);
    }
    for (const product of added) {
      const seats = seatsOf(await accountOf(), product);
      if ((await licencesRepo.holders(trx, accountId, product)) + 1 > seats) {
        throw new DomainError('invalidValue', `No ${product} seat left: all ${seats} are assigned`);
      }
    }
    // The seed: the MiVB username field is enabled only once the MiVoice Business service is added to the user.
    const username = extensionOf(next).username;
    if (username !== undefined && username !== extensionOf(before).username && extensionOf(next).mivbService !== true && writer.type === 'admin') {
      throw new DomainError('invalidValue', 'username (MiVB) can be set only when the MiVoice Business service (mivbService) is applied to the user');
    }
    const sms = extensionOf(next).smsNumber;
    if (typeof sms === 'string' && sms !== '' && sms !== extensionOf(before).smsNumber) {
      const violation = smsNumberRuleViolation(await accountOf(), sms);
      if (violation) throw new DomainError('invalidValue', violation);
    }
    if (current && extensionOf(before).accountAdmin === true && extensionOf(next).accountAdmin !== true && writer.type === 'admin') {
      const others = await trx('users').where({ account_id: accountId, account_admin: true }).whereNot('id', current.id).count({ n: '*' }).first();
      if (Number((others as { n: number | string }).n) === 0) {
        throw new DomainError('invalidValue', 'This is the last account admin of the account; make another user an account admin first');
      }
    }
  }

  /** The user under a row lock with its source links (pass them to apply as `links`): one round trip. */
  async findForUpdateWithLinks(trx: Trx, accountId: string, id: string): Promise<{ user: StoredUser; links: SourceLink[] }> {
    const found = await usersRepo.findForUpdateWithLinks(trx, accountId, id);
    if (!found) throw notFound(`User ${id}`);
    return found;
  }

  async findForUpdate(trx: Trx, accountId: string, id: string): Promise<StoredUser> {
    const user = await usersRepo.findById(trx, accountId, id, { forUpdate: true });
    if (!user) throw notFound(`User ${id}`);
    return user;
  }

  /**
   * DELETE by the seed's rules: a local user is deleted; a user synced from a PBX or pushed by an identity
   * provider loses only its platform account (and licences) and stays listed; a MiCloud Connect user and a Mitel
   * Partner (a user of a partner account) cannot be deleted. An identity provider deleting its own user
   * (provisioning token) removes it.
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
      if (writer.type === 'source') {
        const others = links.filter((l) => l.sourceId !== writer.sourceId);
        if (others.length === 0) {
          await usersRepo.delete(trx, accountId, id);
          await auditRepo.record(trx, { accountId, actor: writer.actor, action: 'user.delete', targetType: 'User', targetId: id }, now);
          return 'deleted';
        }
        await sourceLinksRepo.deleteForUser(trx, accountId, id, writer.sourceId);
        await auditRepo.record(trx, { accountId, actor: writer.actor, action: 'user.unlink', targetType: 'User', targetId: id, details: { sourceId: writer.sourceId } }, now);
        return 'unregistered';
      }
      if (links.some((l) => l.sourceKind === 'micloud')) {
        throw new DomainError('conflict', 'A user synced from MiCloud Connect cannot be deleted here');
      }
      // The seed: "You cannot delete a Mitel Partner": the users of a partner account are not deleted by an admin.
      const account = await accountsRepo.findById(trx, accountId);
      if (account?.type === 'partner') throw new DomainError('conflict', PARTNER_DELETE_REASON);
      if (extensionOf(user.doc).accountAdmin === true) {
        const others = await trx('users').where({ account_id: accountId, account_admin: true }).whereNot('id', id).count({ n: '*' }).first();
        if (Number((others as { n: number | string }).n) === 0) throw new DomainError('invalidValue', 'This is the last account admin of the account; make another user an account admin first');
      }
      const feeding = links.filter((l) => ['mivb', 'scim', 'entra', 'ldap'].includes(l.sourceKind));
      if (feeding.length > 0) {
        if (deleteOnly) {
          throw new DomainError(
            'conflict',
            `User ${id} is synced from ${[...new Set(feeding.map((l) => l.sourceKind))].join(', ')}: deleting it here would only remove its platform account (the source would bring it back). ` +
              'Remove it at the source, or run the deleteUsers action (POST /Actions) to remove its platform account; it reports the outcome per user',
          );
        }
        const next = JSON.parse(JSON.stringify(user.doc)) as JsonObject;
        const ext = { ...extensionOf(next) };
        delete ext.licenses;
        delete ext.smsNumber;
        if (Object.keys(ext).length > 0) next[SWITCHBOARD_URN] = ext;
        else delete next[SWITCHBOARD_URN];
        await usersRepo.update(trx, user, cleanDocument(next), { updatedBy: writer.actor, at: now, passwordHash: null, registered: false });
        await auditRepo.record(trx, { accountId, actor: writer.actor, action: 'user.unregister', targetType: 'User', targetId: id, details: { reason: 'synced from a source: only the platform account is removed' } }, now);
        return 'unregistered';
      }
      await usersRepo.delete(trx, accountId, id);
      await auditRepo.record(trx, { accountId, actor: writer.actor, action: 'user.delete', targetType: 'User', targetId: id }, now);
      return 'deleted';
    });
  }
}

export function hashPassword(password: string): Promise<string> {
  if (password.length < 8) throw new DomainError('invalidValue', 'password must be at least 8 characters long');
  return argon2.hash(password, { type: argon2.argon2id });
}
