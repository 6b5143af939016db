import argon2 from 'argon2';
import type { Knex } from 'knex';
import type { Account } from '../domain/account.js';
import { DomainError, notFound, uniquenessError } from '../domain/errors.js';
import { fieldOwners, ownableAttributes, resolveWrite, changedAttributes, type SourceKind, type Writer } from '../domain/ownership.js';
import {
  computedExtensionAttributes, extensionOf, licenseRuleViolation, licensesOf, normaliseMobile, seatsOf, smsNumberRuleViolation, SWITCHBOARD_URN,
  type JsonObject,
} from '../domain/user-rules.js';
import { accountsRepo } from '../db/accounts-repo.js';
import { auditRepo } from '../db/audit-repo.js';
import type { Trx } from '../db/database.js';
import { sourceLinksRepo } from '../db/source-links-repo.js';
import { sourcesRepo } from '../db/sources-repo.js';
import { usersRepo, type StoredUser, type UserView, type ListQuery } from '../db/users-repo.js';
import type { Clock } from '../lib/clock.js';

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

function present(doc: JsonObject, attribute: string): boolean {
  const split = attribute.lastIndexOf(':');
  const value = attribute.startsWith('urn:') ? (doc[attribute.slice(0, split)] as JsonObject | undefined)?.[attribute.slice(split + 1)] : doc[attribute];
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

/**
 * The single write path for users: SCIM pushes, admin edits, CSV rows and connector records all end in
 * apply(), which enforces ownership, the seed's rules, uniqueness and the audit log in the caller's transaction.
 */
export class UserService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
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

  /** Writer for a SCIM push: the account's `scim` source. */
  async scimWriter(trx: Trx, accountId: string, actor: string): Promise<Writer> {
    const source = await sourcesRepo.scimSource(trx, accountId);
    return { type: 'source', actor, sourceId: source.id, kind: 'scim' };
  }

  /**
   * Creates (current undefined) or changes a user to `incoming`, the complete next SCIM document.
   */
  async apply(trx: Trx, accountId: string, writer: Writer, current: StoredUser | undefined, incoming: JsonObject, options: ApplyOptions = {}): Promise<WriteResult> {
    const now = this.clock.now();
    if (current && options.ifMatch !== undefined && options.ifMatch !== current.version) {
      throw new DomainError('preconditionFailed', `User ${current.id} is at version W/"${current.version}", not W/"${options.ifMatch}". Read it again and retry.`);
    }
    let next = cleanDocument(incoming);
    if (typeof next.userName !== 'string' || next.userName.trim() === '') throw new DomainError('invalidValue', 'userName is required and must not be empty');
    if (current) {
      // readOnly computed state and immutable attributes stay as they are.
      const before = current.doc;
      if (before[SWITCHBOARD_URN] && (before[SWITCHBOARD_URN] as JsonObject).contactCenter !== undefined && writer.type === 'admin') {
        next[SWITCHBOARD_URN] = { ...extensionOf(next), contactCenter: (before[SWITCHBOARD_URN] as JsonObject).contactCenter };
      }
    }
    normaliseMobile(next);

    const links = current ? await sourceLinksRepo.forUser(trx, accountId, current.id) : [];
    const owners = fieldOwners(links.map((l) => ({ sourceId: l.sourceId, kind: l.sourceKind, ownedAttributes: l.ownedAttributes })));
    let ignored: string[] = [];
    if (current) {
      const resolved = resolveWrite(owners, writer, current.doc, next, EXTENSION_URNS);
      if (resolved.refused.length > 0) {
        const list = resolved.refused.map((r) => `${r.attribute} (owned by source ${r.owner.kind})`).join(', ');
        throw new DomainError('mutability', `Cannot change ${list}: it is synced from its source and would be overwritten on the next sync; change it there`);
      }
      next = cleanDocument(resolved.next);
      ignored = resolved.ignored;
    }

    const account = options.account?.id === accountId ? options.account : await accountsRepo.findById(trx, accountId);
    if (!account) throw notFound(`Account ${accountId}`);
    await this.enforceRules(trx, account, current, next, writer);

    const conflict = await usersRepo.findConflict(trx, accountId, next, current?.id);
    if (conflict) throw uniquenessError(conflict);

    const passwordHash = options.password !== undefined ? await hashPassword(options.password) : undefined;
    let user: StoredUser;
    let changed: string[];
    if (!current) {
      user = await usersRepo.insert(trx, accountId, next, {
        source: writer.type === 'source' ? writer.kind : 'local',
        updatedBy: writer.actor,
        passwordHash: passwordHash ?? null,
        at: now,
      });
      changed = changedAttributes({}, next, EXTENSION_URNS);
    } else {
      changed = changedAttributes(current.doc, next, EXTENSION_URNS);
      if (changed.length === 0 && passwordHash === undefined) {
        user = current;
      } else {
        user = await usersRepo.update(trx, current, next, { updatedBy: writer.actor, at: now, ...(passwordHash !== undefined ? { passwordHash } : {}) });
      }
    }
    if (writer.type === 'source') {
      const kind = writer.kind as SourceKind;
      const owned = options.ownedAttributes ?? ownableAttributes[kind].filter((a) => present(next, a) || (kind === 'scim' && a === 'active'));
      const existing = links.find((l) => l.sourceId === writer.sourceId);
      const anchor = options.anchor ?? existing?.anchor ?? (typeof next.externalId === 'string' ? next.externalId : user.id);
      await sourceLinksRepo.upsert(
        trx,
        { accountId, userId: user.id, sourceId: writer.sourceId, sourceKind: kind, anchor, ownedAttributes: owned, attributes: next, raw: options.raw ?? next },
        now,
      );
    }
    if (!current || changed.length > 0 || passwordHash !== undefined) {
      await auditRepo.record(
        trx,
        { accountId, actor: writer.actor, action: current ? 'user.update' : 'user.create', targetType: 'User', targetId: user.id, details: { changed, ...(ignored.length ? { ignored } : {}) } },
        now,
      );
    }
    return { user, created: !current, changed, ignored };
  }

  /** The seed's rules that hold whoever writes: licences, SMS numbers, the last account admin. */
  private async enforceRules(trx: Trx, account: Account, current: StoredUser | undefined, next: JsonObject, writer: Writer): Promise<void> {
    const before = current?.doc ?? {};
    const added = licensesOf(next).filter((l) => !licensesOf(before).some((b) => b.toLowerCase() === l.toLowerCase()));
    const removed = licensesOf(before).filter((l) => !licensesOf(next).some((b) => b.toLowerCase() === l.toLowerCase()));
    for (const product of [...added, ...removed]) {
      const violation = licenseRuleViolation(account, product);
      if (violation) throw new DomainError('invalidValue', violation);
    }
    for (const product of added) {
      const seats = seatsOf(account, product);
      const used = await trx('users')
        .where('account_id', account.id)
        .whereRaw(`data->'${SWITCHBOARD_URN}'->'licenses' @> ?::jsonb`, [JSON.stringify([product])])
        .count({ n: '*' })
        .first();
      if (Number((used as { n: number | string }).n) + 1 > seats) {
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
      const violation = smsNumberRuleViolation(account, sms);
      if (violation) throw new DomainError('invalidValue', violation);
    }
    if (current && extensionOf(before).accountAdmin === true && extensionOf(next).accountAdmin !== true && writer.type === 'admin') {
      const others = await trx('users').where({ account_id: account.id, account_admin: true }).whereNot('id', current.id).count({ n: '*' }).first();
      if (Number((others as { n: number | string }).n) === 0) {
        throw new DomainError('invalidValue', 'This is the last account admin of the account; make another user an account admin first');
      }
    }
  }

  async findForUpdate(trx: Trx, accountId: string, id: string): Promise<StoredUser> {
    const user = await usersRepo.findById(trx, accountId, id, { forUpdate: true });
    if (!user) throw notFound(`User ${id}`);
    return user;
  }

  /**
   * DELETE by the seed's rules: a local user is deleted; a user synced from a PBX or pushed by an identity
   * provider loses only its platform account (and licences) and stays listed; a MiCloud Connect user cannot be
   * deleted. An identity provider deleting its own user (provisioning token) removes it.
   */
  async delete(accountId: string, writer: Writer, id: string, ifMatch?: number): Promise<'deleted' | 'unregistered'> {
    return this.db.transaction(async (trx) => {
      const user = await this.findForUpdate(trx, accountId, id);
      if (ifMatch !== undefined && ifMatch !== user.version) throw new DomainError('preconditionFailed', `User ${id} is at version W/"${user.version}", not W/"${ifMatch}"`);
      const links = await sourceLinksRepo.forUser(trx, accountId, id);
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
      if (extensionOf(user.doc).accountAdmin === true) {
        const others = await trx('users').where({ account_id: accountId, account_admin: true }).whereNot('id', id).count({ n: '*' }).first();
        if (Number((others as { n: number | string }).n) === 0) throw new DomainError('invalidValue', 'This is the last account admin of the account; make another user an account admin first');
      }
      if (links.some((l) => ['mivb', 'scim', 'entra', 'ldap'].includes(l.sourceKind))) {
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
