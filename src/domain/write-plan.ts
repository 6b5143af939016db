/**
 * The one write plan: every user write, whoever makes it (SCIM push, admin edit, Users page
 * action, sync engine, CSV import), is planned here, then written by one repository call (usersRepo.writePlanned).
 * Pure: no query, no clock, no random id. It runs in three steps, so that the caller asks the database only for
 * the facts the items in hand need:
 *
 *   prepareWrite(writer, item)            → the next document, or a refusal (version, form, mobile, ownership)
 *   factsNeeded(writer, prepared[])       → which facts to gather (account, seats, admins, unique values, names)
 *   planWrites(writer, prepared[], facts) → per item, the planned write or its refusal
 *
 * A batch is planned in order as if each item were written before the next is planned: a seat, an admin right or
 * a unique value that an earlier item takes or gives up counts for the later ones, and a refused item changes
 * nothing. One item is a batch of one: there is no other path.
 */
import type { Account } from './account.js';
import { checkResourceLimits, emailLengthViolation, repeatedEmail, withoutRepeatedEmails } from './attribute-limits.js';
import { DomainError, uniquenessError } from './errors.js';
import type { AuditWriter } from './audit.js';
import { auditWriterOf, changedAttributes, fieldOwners, ownableAttributes, resolveWrite, type FieldOwner, type SourceKind, type Writer } from './ownership.js';
import { cleanDocument, EXTENSION_URNS, holdsAttribute, sameUniqueValues, uniqueValuesOf, type UniqueHolder, type UniqueValue } from './user-document.js';
import {
  adminEntryViolation, extensionOf, isAccountAdmin, lastAdminViolation, licenceChanges, licenseRuleViolation, mivbUsernameViolation, normaliseMobile,
  removesAdminRight, seatViolation, smsNumberOf, smsNumberRuleViolation, SWITCHBOARD_URN, type JsonObject,
} from './user-rules.js';

/** The user as stored, as far as a plan reads it. */
export interface CurrentUser {
  id: string;
  doc: JsonObject;
  version: number;
}

/** A source link of the current user, as far as a plan reads it. */
export interface LinkFact {
  sourceId: string;
  sourceKind: SourceKind;
  anchor: string;
  ownedAttributes: readonly string[];
}

/** One write to plan: the current user (none to create), its next complete SCIM document, and what comes with it. */
export interface WriteItem<C extends CurrentUser = CurrentUser> {
  current: C | undefined;
  next: JsonObject;
  /** The current user's source links (empty for a new user). */
  links: readonly LinkFact[];
  /** Expected version (If-Match), checked against `current`, which the caller read under its row lock. */
  ifMatch?: number;
  /** A plain-text password to set (SCIM `password`, write-only): the caller hashes it once the plan passes. */
  password?: string;
  /** Source writers: the anchor of the record (default: the link's, the externalId, or the user's id). */
  anchor?: string;
  /** Source writers: the raw record kept on the link (the admin's "advanced" data); default the document. */
  raw?: JsonObject;
  /** Source writers: the attributes the link claims (default: those of its kind the document holds). */
  ownedAttributes?: readonly string[];
  /**
   * A partial write (a PATCH): the attributes it wrote. A source then claims those (of its kind) beside what its
   * link already owned, not every attribute the patched document holds.
   */
  wrote?: readonly string[];
  /** Source writers: the record's hash, kept on the link (the sync engine's "unchanged" check). */
  linkHash?: string;
  /** Source writers: the caller knows no link of this source holds the anchor (a plain insert of the link). */
  anchorUnlinked?: boolean;
  /**
   * The seed's delete of a synced user (deleteDecision's `unregister`): it loses its platform account (registration,
   * password) and, in `next`, its licences and SMS number; no licence rule stands in the way of giving them up.
   */
  unregister?: true;
}

/** An item past the checks that need no fact. */
export interface PreparedWrite<C extends CurrentUser = CurrentUser> {
  item: WriteItem<C>;
  /** The next document, cleaned, normalised, and with what another source owns kept as it is. */
  next: JsonObject;
  /** Attributes another source owns that a source writer sent: left as they are, and counted. */
  ignored: string[];
  /** Attributes an admin may not change (source-owned): a refusal once the owners' names are known. */
  refused: { attribute: string; owner: FieldOwner }[];
}

/** What the facts gatherer is asked to read, for a batch. */
export interface FactNeeds {
  /** The account (licence rules, SMS pool). */
  account: boolean;
  /** Seats are counted under the account row lock: two writers racing for the last seat cannot both see it free. */
  lockAccount: boolean;
  /** Products whose holders to count. */
  licenceHolders: string[];
  /** The number of account admins. */
  accountAdmins: boolean;
  /** Unique values whose holders to find. */
  uniqueValues: UniqueValue[];
  /** Sources to name in a refusal. */
  sourceNames: string[];
}

/** The facts a plan is made on (what factsNeeded asked for; the rest may be absent). */
export interface WriteFacts {
  account?: Account;
  /** Lower-cased product → the users of the account holding it. */
  licenceHolders?: ReadonlyMap<string, number>;
  accountAdmins?: number;
  /** The users holding the unique values asked for. */
  uniqueHolders?: readonly UniqueHolder[];
  sourceNames?: ReadonlyMap<string, string>;
  /** When the write happens. */
  now: Date;
  /** Ids for new users, in the order the plan asks (the caller's random source). */
  newId: () => string;
  /**
   * Users an earlier batch of the caller creates in a transaction that may not have committed when these facts
   * were read (a CSV import plans its next batch while the database writes the one before): they count as written
   * items before this batch, whether the facts show them or not. New users only: they give up no unique value,
   * and an admin among them is counted once (see planWrites). Seats need nothing here: they are counted under the
   * account row lock, which the earlier batch holds until it commits when it hands out a licence.
   */
  uncommittedUsers?: readonly { id: string; doc: JsonObject }[];
}

/** A write that passed: what usersRepo.writePlanned stores. */
export interface PlannedWrite<C extends CurrentUser = CurrentUser> {
  /** The user's id: the current one, or the one chosen for the new user. */
  id: string;
  current: C | undefined;
  /** What the users row becomes: `insert` a new user, `update` a changed one, `none` (only the link and nothing else moves). */
  user: 'insert' | 'update' | 'none';
  next: JsonObject;
  changed: string[];
  ignored: string[];
  /** A password to hash and store (the caller sets `passwordHash` before writing). */
  password?: string;
  passwordHash?: string | null;
  /** A registration change (a user losing its platform account). */
  registered?: boolean;
  /** The users row's `source` column for a new user: the writer's kind, or `local`. */
  source: string;
  updatedBy: string;
  at: Date;
  /** The current user's source links (as the item gave them): with `link`, what the representation's lockedAttributes come from. */
  links: readonly LinkFact[];
  /** Source writers: the link to write. */
  /**
   * `anchorUnlinked`: no link of the source holds the anchor (the caller looked); `anchorHeld`: the user's own link
   * of the source already holds it. When neither, another user's link may hold the anchor and move to this user.
   */
  link?: { sourceId: string; sourceKind: SourceKind; anchor: string; ownedAttributes: string[]; raw: JsonObject; hash: string | null; anchorUnlinked: boolean; anchorHeld: boolean };
  /** The audit entry, when the users row changes: written with the row, its `updatedBy` and `at` (Modified By / On). */
  audit?: { action: string; writer: AuditWriter; details: JsonObject };
}

export type PlanOutcome<C extends CurrentUser = CurrentUser> = { ok: true; write: PlannedWrite<C> } | { ok: false; error: DomainError };

function check(violation: string | undefined, kind: 'invalidValue' = 'invalidValue'): void {
  if (violation) throw new DomainError(kind, violation);
}

/**
 * The checks that need no fact: If-Match, the cleaned document, the required userName, admins never overwriting
 * the source-fed contactCenter, E.164 mobile, the seed's New User form for admin writers (sources are held to
 * RFC 7643's userName only), and ownership.
 */
/** Limits every writer is held to (configuration: SCIM_MAX_MULTI_VALUES). */
export interface WriteLimits {
  /** Values one multi-valued attribute of a user may hold. */
  maxMultiValues: number;
}

export function prepareWrite<C extends CurrentUser>(writer: Writer, item: WriteItem<C>, limits: WriteLimits = { maxMultiValues: 100 }): PreparedWrite<C> | DomainError {
  try {
    const { current } = item;
    if (current && item.ifMatch !== undefined && item.ifMatch !== current.version) {
      return new DomainError('preconditionFailed', `User ${current.id} is at version W/"${current.version}", not W/"${item.ifMatch}". Read it again and retry.`);
    }
    let next = cleanDocument(item.next);
    if (typeof next.userName !== 'string' || next.userName.trim() === '') return new DomainError('invalidValue', 'userName is required and must not be empty');
    for (const email of Array.isArray(next.emails) ? (next.emails as JsonObject[]) : []) {
      const violation = typeof email?.value === 'string' ? emailLengthViolation(email.value) : undefined;
      if (violation) return new DomainError('invalidValue', `emails: ${violation}`);
    }
    // One address once per user, whatever its case: a pulled directory record is cleaned, a SCIM client is told.
    if (writer.type === 'source' && writer.kind !== 'scim') withoutRepeatedEmails(next);
    const repeated = repeatedEmail(next);
    if (repeated !== undefined) return new DomainError('invalidValue', `emails lists ${repeated} more than once (addresses compare case-insensitively): keep one`);
    // Lengths and counts every writer is held to (SCIM, Bulk, sync, import all arrive here).
    checkResourceLimits('User', next, { maxValues: limits.maxMultiValues });
    const before = current?.doc[SWITCHBOARD_URN] as JsonObject | undefined;
    if (before && before.contactCenter !== undefined && writer.type === 'admin') {
      next[SWITCHBOARD_URN] = { ...extensionOf(next), contactCenter: before.contactCenter };
    }
    normaliseMobile(next);
    if (writer.type === 'admin' && !item.unregister) check(adminEntryViolation(current?.doc, next));
    if (!current) return { item, next, ignored: [], refused: [] };
    // Who owns what once this write is made: a writing source's own claim is this write's, so that precedence
    // decides from a source's first write on (a hybrid user joined by a second source takes that source's values
    // where it comes first, without waiting for a later change).
    const claims = item.links
      .filter((l) => writer.type !== 'source' || l.sourceId !== writer.sourceId)
      .map((l) => ({ sourceId: l.sourceId, kind: l.sourceKind, ownedAttributes: l.ownedAttributes }));
    if (writer.type === 'source') claims.push({ sourceId: writer.sourceId, kind: writer.kind, ownedAttributes: claimedAttributes(writer, item, next) });
    const owners = fieldOwners(claims);
    const resolved = resolveWrite(owners, writer, current.doc, next, EXTENSION_URNS);
    next = cleanDocument(resolved.next);
    return { item, next, ignored: resolved.ignored, refused: resolved.refused };
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
}

/** The attributes a source writer's link claims: those given, or those of its kind the document holds (the scim source always claims active). */
function claimedAttributes(writer: Writer & { type: 'source' }, item: WriteItem<CurrentUser>, doc: JsonObject): string[] {
  if (item.ownedAttributes) return [...item.ownedAttributes];
  if (item.wrote) {
    const existing = item.links.find((l) => l.sourceId === writer.sourceId);
    return [...new Set([...(existing?.ownedAttributes ?? []), ...ownableAttributes[writer.kind].filter((a) => item.wrote!.includes(a))])];
  }
  return ownableAttributes[writer.kind].filter((a) => holdsAttribute(doc, a) || (writer.kind === 'scim' && a === 'active'));
}

/** The facts the prepared items need: most writes (a title, a new user without licences) need only their unique values' holders. */
export function factsNeeded(writer: Writer, prepared: readonly PreparedWrite[]): FactNeeds {
  const needs: FactNeeds = { account: false, lockAccount: false, licenceHolders: [], accountAdmins: false, uniqueValues: [], sourceNames: [] };
  const products = new Map<string, string>();
  const names = new Set<string>();
  for (const p of prepared) {
    if (p.refused.length > 0) {
      for (const r of p.refused) names.add(r.owner.sourceId);
      continue;
    }
    const before = p.item.current?.doc ?? {};
    const { added, removed } = licenceChanges(before, p.next);
    if (added.length > 0 || (removed.length > 0 && !p.item.unregister)) needs.account = true;
    if (added.length > 0) needs.lockAccount = true;
    for (const product of added) products.set(product.toLowerCase(), product);
    const sms = smsNumberOf(p.next);
    if (sms !== undefined && sms !== smsNumberOf(before)) needs.account = true;
    if (removesAdminRight(writer, p.item.current?.doc, p.next)) needs.accountAdmins = true;
    if (!p.item.current || !sameUniqueValues(p.item.current.doc, p.next)) needs.uniqueValues.push(...uniqueValuesOf(p.next));
  }
  needs.licenceHolders = [...products.values()];
  needs.sourceNames = [...names];
  return needs;
}

/** The 400 mutability for an admin writing source-owned attributes, naming each owner by name, kind and id. */
function ownedAttributesRefusal(refused: PreparedWrite['refused'], names: ReadonlyMap<string, string> | undefined): DomainError {
  const list = refused.map((r) => `${r.attribute} (owned by source "${names?.get(r.owner.sourceId) ?? r.owner.kind}", ${r.owner.kind}, id ${r.owner.sourceId})`).join(', ');
  return new DomainError('mutability', `Cannot change ${list}: it is synced from its source and would be overwritten on the next sync; change it there`);
}

const uniqueLabel = (attribute: UniqueValue['attribute'], value: string) => (attribute === 'userName' ? attribute : `${attribute} (${value})`);

/**
 * Plans the prepared items in order over the facts (see the module header). Items for one user or one source
 * anchor must not come twice: the caller splits such a batch (UserService.write does).
 */
export function planWrites<C extends CurrentUser>(writer: Writer, prepared: readonly (PreparedWrite<C> | DomainError)[], facts: WriteFacts): PlanOutcome<C>[] {
  const holdersOf = new Map<string, UniqueHolder[]>();
  for (const h of facts.uniqueHolders ?? []) {
    const key = `${h.attribute}:${h.key}`;
    holdersOf.set(key, [...(holdersOf.get(key) ?? []), h]);
  }
  const licenceHolders = new Map(facts.licenceHolders ?? []);
  let admins = facts.accountAdmins;
  /** Users written by an earlier item: their stored unique values no longer count, `taken` has their new ones. */
  const written = new Set<string>();
  const taken = new Map<string, { userId: string; value: string }>();
  for (const user of facts.uncommittedUsers ?? []) {
    written.add(user.id);
    for (const u of uniqueValuesOf(user.doc)) taken.set(`${u.attribute}:${u.key}`, { userId: user.id, value: u.value });
    // Counted twice when the count was read after the earlier batch committed; that only matters to the last-admin
    // rule, which then decides alike: the new admin is one of the others either way.
    if (admins !== undefined && isAccountAdmin(user.doc)) admins++;
  }

  return prepared.map((p): PlanOutcome<C> => {
    if (p instanceof DomainError) return { ok: false, error: p };
    try {
      const write = planOne(writer, p, facts, { holdersOf, licenceHolders, admins, written, taken });
      // The item passes: what it takes and gives up counts for the next ones.
      const before = p.item.current?.doc ?? {};
      const { added, removed } = licenceChanges(before, write.next);
      for (const product of added) licenceHolders.set(product.toLowerCase(), (licenceHolders.get(product.toLowerCase()) ?? 0) + 1);
      for (const product of removed) licenceHolders.set(product.toLowerCase(), (licenceHolders.get(product.toLowerCase()) ?? 0) - 1);
      if (admins !== undefined) admins += (isAccountAdmin(write.next) ? 1 : 0) - (isAccountAdmin(before) ? 1 : 0);
      written.add(write.id);
      for (const u of uniqueValuesOf(write.next)) taken.set(`${u.attribute}:${u.key}`, { userId: write.id, value: u.value });
      return { ok: true, write };
    } catch (error) {
      if (error instanceof DomainError) return { ok: false, error };
      throw error;
    }
  });
}

interface PlanState {
  holdersOf: ReadonlyMap<string, UniqueHolder[]>;
  licenceHolders: ReadonlyMap<string, number>;
  admins: number | undefined;
  written: ReadonlySet<string>;
  taken: ReadonlyMap<string, { userId: string; value: string }>;
}

function planOne<C extends CurrentUser>(writer: Writer, p: PreparedWrite<C>, facts: WriteFacts, state: PlanState): PlannedWrite<C> {
  const { item, next } = p;
  const { current } = item;
  if (p.refused.length > 0) throw ownedAttributesRefusal(p.refused, facts.sourceNames);
  const before = current?.doc ?? {};
  const account = (): Account => {
    if (!facts.account) throw new Error('the write plan needs the account: gather the facts factsNeeded asks for');
    return facts.account;
  };

  // The seed's rules that hold whoever writes: licences and seats, the MiVB username, SMS numbers, the last admin.
  const { added, removed } = licenceChanges(before, next);
  for (const product of [...added, ...(item.unregister ? [] : removed)]) check(licenseRuleViolation(account(), product));
  for (const product of added) check(seatViolation(account(), product, state.licenceHolders.get(product.toLowerCase()) ?? 0));
  if (writer.type === 'admin') check(mivbUsernameViolation(before, next));
  const sms = smsNumberOf(next);
  if (sms !== undefined && sms !== smsNumberOf(before)) check(smsNumberRuleViolation(account(), sms));
  if (removesAdminRight(writer, current?.doc, next)) {
    if (state.admins === undefined) throw new Error('the write plan needs the account admins: gather the facts factsNeeded asks for');
    check(lastAdminViolation(before, next, state.admins - 1));
  }

  // Uniqueness, as if the earlier items were written: a value an earlier item gives up is free, one it takes is not.
  const id = current?.id ?? facts.newId();
  if (!current || !sameUniqueValues(current.doc, next)) {
    for (const u of uniqueValuesOf(next)) {
      const inBatch = state.taken.get(`${u.attribute}:${u.key}`);
      if (inBatch && inBatch.userId !== id) throw uniquenessError(uniqueLabel(u.attribute, inBatch.value));
      for (const h of state.holdersOf.get(`${u.attribute}:${u.key}`) ?? []) {
        if (h.userId === id || state.written.has(h.userId)) continue;
        throw uniquenessError(uniqueLabel(u.attribute, h.value));
      }
    }
  }
  if (item.password !== undefined && item.password.length < 8) throw new DomainError('invalidValue', 'password must be at least 8 characters long');

  const changed = changedAttributes(before, next, EXTENSION_URNS);
  const user = !current ? 'insert' : changed.length > 0 || item.password !== undefined || item.unregister ? 'update' : 'none';
  const write: PlannedWrite<C> = {
    id, current, user, next, changed, ignored: p.ignored, links: item.links, source: writer.type === 'source' ? writer.kind : 'local', updatedBy: writer.actor, at: facts.now,
    ...(item.password !== undefined ? { password: item.password } : {}),
    ...(item.unregister ? { registered: false, passwordHash: null } : {}),
  };
  if (writer.type === 'source') {
    const kind = writer.kind;
    const owned = claimedAttributes(writer, item, next);
    const existing = item.links.find((l) => l.sourceId === writer.sourceId);
    const anchor = item.anchor ?? existing?.anchor ?? (typeof next.externalId === 'string' ? next.externalId : id);
    write.link = { sourceId: writer.sourceId, sourceKind: kind, anchor, ownedAttributes: owned, raw: item.raw ?? next, hash: item.linkHash ?? null, anchorUnlinked: item.anchorUnlinked === true,
      anchorHeld: existing?.anchor === anchor };
  }
  const via = auditWriterOf(writer);
  if (item.unregister) write.audit = { action: 'user.unregister', writer: via, details: { changed, reason: 'synced from a source: only the platform account is removed' } };
  else if (user !== 'none') write.audit = { action: current ? 'user.update' : 'user.create', writer: via, details: { changed, ...(p.ignored.length ? { ignored: p.ignored } : {}) } };
  return write;
}
