import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Account } from '../domain/account.js';
import { actionTypes, type ActionResult, type ActionSummary, type ActionType, type StoredAction, type Targets } from '../domain/action.js';
import { DomainError, notFound } from '../domain/errors.js';
import type { Writer } from '../domain/ownership.js';
import { parseScimFilter } from '../domain/scim-filter.js';
import { derivedColumns } from '../domain/user-document.js';
import {
  extensionOf, licenceAssignmentPlan, licensesOf, linkEmailDecision, mivbDeploymentDecision, sameProduct, smsAssignmentPlan, SWITCHBOARD_URN, type JsonObject, type PlanSkip,
} from '../domain/user-rules.js';
import { accountsRepo, isUuid } from '../db/accounts-repo.js';
import { auditRepo } from '../db/audit-repo.js';
import type { Executor, Trx } from '../db/database.js';
import { licencesRepo } from '../db/licences-repo.js';
import { sourceLinksRepo } from '../db/source-links-repo.js';
import { usersRepo, type StoredUser } from '../db/users-repo.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { noTelemetry, type Telemetry } from '../lib/telemetry.js';
import type { AuditActor } from '../domain/principal.js';
import { compileListFilter } from '../db/list-filter.js';
import { enqueue } from '../db/outbox-repo.js';
import { actionsRepo } from '../db/actions-repo.js';
import { renderMail, type MailRecipient, type MivbDeploymentCredentials, type MivbDeploymentDetails } from './mail/mail-templates.js';
import type { RegistrationService } from './registration-service.js';
import { ruleFacts } from './rule-facts.js';
import type { UserService } from './user-service.js';

export { actionTypes, type ActionType, type ActionStatus, type Outcome, type Targets, type ActionResult, type ActionSummary, type StoredAction } from '../domain/action.js';
type TargetKind = 'all' | 'ids' | 'filter';

export interface ActionListQuery {
  filter?: string;
  /** 1-based. */
  startIndex: number;
  count: number;
}

/** More targeted users than this and POST answers at once (status running); a background task finishes the action. */
export const BACKGROUND_THRESHOLD = 500;
/** Per-user actions write their progress every this many users. */
const PROGRESS_EVERY = 100;
const PAGE = 500;
/** A running action with no progress for this long was interrupted (its process stopped). */
const INTERRUPTED_AFTER_MS = 30 * 60 * 1000;

export { OIG_VOICEMAIL_REASON, PARTNER_WELCOME_REASON } from '../domain/user-rules.js';

/**
 * How each type runs: which targets it takes, and whether users are processed one by one (each in its own
 * transaction, one user's failure does not stop the others) or all together in one transaction (all or nothing).
 */
const kinds: Record<ActionType, { targets: readonly TargetKind[]; mode: 'each' | 'atomic' }> = {
  sendWelcomeEmail: { targets: ['all', 'ids', 'filter'], mode: 'each' },
  resetPassword: { targets: ['all', 'ids', 'filter'], mode: 'each' },
  sendMivbDeploymentEmails: { targets: ['all', 'ids', 'filter'], mode: 'each' },
  assignLicense: { targets: ['all', 'ids', 'filter'], mode: 'atomic' },
  unassignLicense: { targets: ['all', 'ids', 'filter'], mode: 'atomic' },
  assignSmsNumbers: { targets: ['ids', 'filter'], mode: 'atomic' },
  unassignSmsNumbers: { targets: ['ids', 'filter'], mode: 'atomic' },
  deleteUsers: { targets: ['ids'], mode: 'each' },
};


export function parseTargets(value: unknown): Targets {
  const t = value as Record<string, unknown> | undefined;
  if (t && typeof t === 'object') {
    if (t.all === true) return { all: true };
    if (Array.isArray(t.ids) && t.ids.every((id) => typeof id === 'string')) return { ids: t.ids as string[] };
    if (typeof t.filter === 'string' && t.filter.trim() !== '') return { filter: t.filter };
  }
  throw new DomainError('invalidValue', 'targets must be {all: true}, {ids: [...]} or {filter: "<SCIM filter>"}');
}

function targetKind(targets: Targets): TargetKind {
  return 'all' in targets ? 'all' : 'ids' in targets ? 'ids' : 'filter';
}

function emailOf(user: StoredUser): string | undefined {
  const emails = (Array.isArray(user.doc.emails) ? user.doc.emails : []) as Array<Record<string, unknown>>;
  const primary = emails.find((e) => e.primary === true && typeof e.value === 'string' && e.value !== '') ?? emails.find((e) => typeof e.value === 'string' && e.value !== '');
  return primary?.value as string | undefined;
}

function recipientOf(user: StoredUser, email: string): MailRecipient {
  const { given_name, display_name, user_name } = derivedColumns(user.doc);
  return { givenName: given_name, displayName: display_name, userName: user_name, email };
}

function summarise(targeted: number, results: readonly ActionResult[]): ActionSummary {
  const summary: ActionSummary = { targeted, processed: results.length, succeeded: 0, skipped: 0, deferred: 0, failed: 0 };
  for (const r of results) {
    if (r.outcome === 'done') summary.succeeded++;
    else summary[r.outcome]++;
  }
  return summary;
}

/** A copy of the document with the switchboard extension changed by `change` (an emptied extension is dropped). */
function withExtension(doc: JsonObject, change: (ext: JsonObject) => void): JsonObject {
  const next = JSON.parse(JSON.stringify(doc)) as JsonObject;
  const ext = { ...extensionOf(next) };
  change(ext);
  if (Object.keys(ext).length > 0) next[SWITCHBOARD_URN] = ext;
  else delete next[SWITCHBOARD_URN];
  return next;
}


/** A random password of 16 characters from an unambiguous alphabet. */
function generatePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  return Array.from({ length: 16 }, () => alphabet[crypto.randomInt(alphabet.length)]).join('');
}

/** A six-digit phone PIN that is not one digit repeated nor a plain run (123456, 654321). */
function generatePin(): string {
  for (;;) {
    const pin = String(crypto.randomInt(0, 1_000_000)).padStart(6, '0');
    const steps = new Set([...pin].slice(1).map((d, i) => (Number(d) - Number(pin[i]) + 10) % 10));
    if (steps.size > 1 || (!steps.has(0) && !steps.has(1) && !steps.has(9))) return pin;
  }
}

interface RunContext {
  account: Account;
  accountId: string;
  /** The Action this work belongs to; undefined for the welcome email of a user an admin creates. */
  actionId: string | undefined;
  writer: Writer & { type: 'admin' };
  params: Record<string, unknown>;
  /** Base of the links put in this action's emails. */
  linkBase: string;
}

/** What a licence or SMS action would change: users that need something, users already fine (skipped). */
interface Plan {
  change: StoredUser[];
  skipped: PlanSkip[];
}

export interface ActionServiceOptions {
  db: Knex;
  clock: Clock;
  logger: Logger;
  users: UserService;
  registration: RegistrationService;
  /** Base of the links put in emails (config.linkBase); undefined refuses link emails with 409. */
  linkBase: string | undefined;
  /** Where ended and refused actions are reported (/metrics). */
  telemetry?: Telemetry;
}

/** Why link emails are refused without a configured base: the request's Host must not pick where links point. */
export const NO_LINK_BASE =
  'Switchboard will not email links until PUBLIC_URL is set to the address users reach it at (e.g. https://portal.example.com); ' +
  'only a server listening on a loopback address (HOST 127.0.0.1, ::1 or localhost) uses its own address';

/**
 * Runs admin actions (the Manage panel of the seed's Users page) over an account's own users. Every user change
 * goes through UserService (the single write path: licence, seat, SMS pool and last-admin rules, audit log);
 * emails are rendered and put in the outbox in the transaction of the change that causes them.
 */
export class ActionService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly users: UserService;
  private readonly registration: RegistrationService;
  private readonly linkBase: string | undefined;
  private readonly telemetry: Telemetry;
  /** Background runs in progress in this process. */
  private readonly background = new Set<Promise<void>>();

  constructor(options: ActionServiceOptions) {
    this.db = options.db;
    this.clock = options.clock;
    this.logger = options.logger;
    this.users = options.users;
    this.registration = options.registration;
    this.linkBase = options.linkBase?.replace(/\/+$/, '');
    this.telemetry = options.telemetry ?? noTelemetry;
  }

  // ---------------------------------------------------------------------------------------------- running

  async run(accountId: string, by: AuditActor, input: { type: unknown; targets: unknown; params?: unknown }): Promise<StoredAction> {
    if (typeof input.type !== 'string' || !(actionTypes as readonly string[]).includes(input.type)) {
      throw new DomainError('invalidValue', `type must be one of ${actionTypes.join(', ')}`);
    }
    const type = input.type as ActionType;
    const targets = parseTargets(input.targets);
    if (!kinds[type].targets.includes(targetKind(targets))) {
      throw new DomainError('invalidValue', `${type} takes targets ${kinds[type].targets.map((k) => (k === 'all' ? '{all: true}' : `{${k}: …}`)).join(' or ')} (selected users)`);
    }
    if (input.params !== undefined && (input.params === null || typeof input.params !== 'object' || Array.isArray(input.params))) {
      throw new DomainError('invalidValue', 'params must be an object');
    }
    const params = this.parseParams(type, (input.params ?? {}) as Record<string, unknown>);
    const account = await accountsRepo.findById(this.db, accountId);
    if (!account) throw notFound(`Account ${accountId}`);
    const { actor } = by;
    // An action's own user changes are audited through the writer that asked for it (the console or a token).
    const writer = { type: 'admin' as const, actor, via: by.writer === 'source' ? ('token' as const) : by.writer };
    const linkBase = this.linkBaseFor(type, params);

    const { users, missing } = await this.resolve(accountId, type, targets);
    const targeted = users.length + missing.length;
    try {
      await this.check(type, { account, accountId, actionId: '', writer, params, linkBase }, users);
    } catch (error) {
      if (error instanceof DomainError) {
        await auditRepo.record(this.db, { accountId, actor, writer: by.writer, action: `action.${type}.refused`, targetType: 'Action', details: { targets, params, targeted, reason: error.detail } }, this.clock.now());
        this.telemetry.actionFinished(type, 'refused');
      }
      throw error;
    }

    const now = this.clock.now();
    const background = targeted > BACKGROUND_THRESHOLD;
    const summary = summarise(targeted, []);
    const actionId = await this.db.transaction(async (trx) => {
      const id = await actionsRepo.insert(trx, accountId, { type, targets, params, summary, createdBy: actor }, now);
      await auditRepo.record(trx, { accountId, actor, writer: by.writer, action: `action.${type}`, targetType: 'Action', targetId: id, details: { targets, params, targeted, background } }, now);
      return id;
    });
    const ctx: RunContext = { account, accountId, actionId, writer, params, linkBase };
    const missingResults: ActionResult[] = missing.map((userId) => ({ userId, outcome: 'failed', reason: 'not found' }));

    if (background) {
      const task = this.execute(type, ctx, users, missingResults, targeted, true)
        .catch((error: unknown) => this.logger.error({ err: error, actionId }, 'background action failed'))
        .finally(() => this.background.delete(task));
      this.background.add(task);
      return this.get(accountId, actionId);
    }
    await this.execute(type, ctx, users, missingResults, targeted, false);
    const done = await this.get(accountId, actionId);
    // A synchronous action refused as a whole inside its transaction (e.g. a seat taken meanwhile) answers 400.
    if (done.status === 'failed') throw new DomainError('invalidValue', done.error ?? 'The action failed');
    return done;
  }

  /** Waits for the background runs of this process (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Marks actions left running by a stopped process as failed; they made no progress for INTERRUPTED_AFTER_MS. */
  async recoverInterrupted(): Promise<number> {
    const now = this.clock.now();
    const rows = await actionsRepo.failStale(
      this.db,
      new Date(now.getTime() - INTERRUPTED_AFTER_MS),
      'Interrupted: the server stopped while the action was running; users processed before are listed in results',
      now,
    );
    for (const row of rows) {
      await auditRepo.record(this.db, { accountId: row.accountId, actor: 'system', writer: 'system', action: `action.${row.type}.failed`, targetType: 'Action', targetId: row.id, details: { error: 'interrupted' } }, now);
    }
    return rows.length;
  }

  private parseParams(type: ActionType, raw: Record<string, unknown>): Record<string, unknown> {
    if (type === 'assignLicense' || type === 'unassignLicense') {
      if (typeof raw.product !== 'string' || raw.product.trim() === '') throw new DomainError('invalidValue', `${type} needs params.product, e.g. "MiTeam Meetings"`);
      return { product: raw.product.trim() };
    }
    if (type === 'sendMivbDeploymentEmails') {
      const out: Record<string, unknown> = {};
      for (const name of ['userPortalUrl', 'miCollabServer']) {
        if (raw[name] === undefined) continue;
        if (typeof raw[name] !== 'string' || raw[name] === '') throw new DomainError('invalidValue', `params.${name} must be a non-empty string`);
        out[name] = raw[name];
      }
      return out;
    }
    return {};
  }

  /** The targeted users of the account, in the order given for ids; ids that are not users of the account are missing. */
  private async resolve(accountId: string, type: ActionType, targets: Targets): Promise<{ users: StoredUser[]; missing: string[] }> {
    if ('ids' in targets) {
      const ids = [...new Set(targets.ids)];
      const found = new Map<string, StoredUser>();
      const valid = ids.filter(isUuid);
      for (let i = 0; i < valid.length; i += PAGE) {
        const chunk = valid.slice(i, i + PAGE);
        const page = await usersRepo.list(this.db, accountId, { where: { sql: 'u.id = any(?::uuid[])', bindings: [chunk] }, limit: chunk.length, withGroups: false });
        for (const user of page) found.set(user.id, user);
      }
      return { users: ids.flatMap((id) => found.get(id) ?? []), missing: ids.filter((id) => !found.has(id)) };
    }
    // {all: true} for MiVB deployment emails means every user with the MiVoice Business service.
    const filter = 'filter' in targets ? targets.filter : type === 'sendMivbDeploymentEmails' ? `${SWITCHBOARD_URN}:mivbService eq true` : undefined;
    const where = filter ? compileListFilter(filter, 'user', accountId) : undefined;
    const users: StoredUser[] = [];
    let after: { value: string | null; id: string } | undefined;
    for (;;) {
      const page = await usersRepo.list(this.db, accountId, { where, limit: PAGE, after, withGroups: false });
      users.push(...page);
      if (page.length < PAGE) break;
      const last = page[page.length - 1]!;
      after = { value: last.sortValue, id: last.id };
    }
    return { users, missing: [] };
  }

  /** The whole-action rules of the seed, checked before anything is recorded; a refusal is a 400 with its reason. */
  private async check(type: ActionType, ctx: RunContext, users: StoredUser[]): Promise<void> {
    const { account } = ctx;
    switch (type) {
      case 'sendMivbDeploymentEmails':
        if (!account.settings.mivb) throw new DomainError('invalidValue', 'The account does not have the MiVoice Business integration turned on');
        return;
      case 'assignLicense':
      case 'unassignLicense': {
        await this.licensePlan(this.db, ctx, users, type === 'assignLicense');
        return;
      }
      case 'assignSmsNumbers':
      case 'unassignSmsNumbers':
        await this.smsPlan(this.db, ctx, users, type === 'assignSmsNumbers');
        return;
      default:
        return;
    }
  }

  private async execute(type: ActionType, ctx: RunContext, users: StoredUser[], missing: ActionResult[], targeted: number, background: boolean): Promise<void> {
    const results: ActionResult[] = [...missing];
    try {
      if (kinds[type].mode === 'atomic') {
        results.push(...(await this.db.transaction((trx) => this.atomic(type, ctx, trx, users.map((u) => u.id)))));
      } else {
        // Email actions commit a batch of users at a time (each user in its own savepoint), so a large action
        // pays one commit per batch instead of one per user; deletions keep their own transactions.
        const batched = type !== 'deleteUsers';
        for (let start = 0; start < users.length; start += PROGRESS_EVERY) {
          const chunk = users.slice(start, start + PROGRESS_EVERY);
          if (batched) {
            const chunkResults = await this.db.transaction(async (trx) => {
              const out: ActionResult[] = [];
              for (const user of chunk) out.push(await this.one(type, ctx, user, trx));
              return out;
            });
            results.push(...chunkResults);
          } else {
            for (const user of chunk) results.push(await this.one(type, ctx, user));
          }
          if (background) await this.progress(ctx, targeted, results);
        }
      }
    } catch (error) {
      const reason = error instanceof DomainError ? error.detail : 'The action stopped on an unexpected error';
      if (!(error instanceof DomainError)) this.logger.error({ err: error, actionId: ctx.actionId }, 'action failed');
      await this.finish(ctx, type, 'failed', targeted, kinds[type].mode === 'atomic' ? missing : results, reason);
      return;
    }
    await this.finish(ctx, type, 'completed', targeted, results, null);
  }

  private async progress(ctx: RunContext, targeted: number, results: ActionResult[]): Promise<void> {
    await actionsRepo.saveProgress(this.db, ctx.accountId, ctx.actionId!, summarise(targeted, results), results, this.clock.now());
  }

  private async finish(ctx: RunContext, type: ActionType, status: 'completed' | 'failed', targeted: number, results: ActionResult[], error: string | null): Promise<void> {
    const now = this.clock.now();
    const summary = summarise(targeted, results);
    await this.db.transaction(async (trx) => {
      await actionsRepo.finish(trx, ctx.accountId, ctx.actionId!, { status, error, summary, results }, now);
      await auditRepo.record(trx, { accountId: ctx.accountId, actor: ctx.writer.actor, writer: ctx.writer.via, action: `action.${type}.${status}`, targetType: 'Action', targetId: ctx.actionId, details: { summary, ...(error ? { error } : {}) } }, now);
    });
    this.telemetry.actionFinished(type, status);
  }

  // ------------------------------------------------------------------------------------ one user at a time

  private async one(type: ActionType, ctx: RunContext, user: StoredUser, outer?: Knex.Transaction): Promise<ActionResult> {
    try {
      switch (type) {
        case 'sendWelcomeEmail':
        case 'resetPassword':
          return await this.sendLink(type, ctx, user, outer);
        case 'sendMivbDeploymentEmails':
          return await this.sendMivbDeployment(ctx, user, outer);
        case 'deleteUsers':
          return await this.deleteUser(ctx, user);
        default:
          throw new Error(`${type} is not a per-user action`);
      }
    } catch (error) {
      if (error instanceof DomainError) return { userId: user.id, outcome: 'failed', reason: error.detail };
      this.logger.warn({ err: error, actionId: ctx.actionId, userId: user.id }, 'action failed for a user');
      return { userId: user.id, outcome: 'failed', reason: error instanceof Error ? error.message : String(error) };
    }
  }

  /** The base of the links an action of `type` mails; 409 before any work when it mails links and none is configured. */
  private linkBaseFor(type: ActionType, params: Record<string, unknown>): string {
    if (this.linkBase) return this.linkBase;
    const mailsLinks = type === 'sendWelcomeEmail' || type === 'resetPassword' || (type === 'sendMivbDeploymentEmails' && typeof params.userPortalUrl !== 'string');
    if (mailsLinks) throw new DomainError('conflict', NO_LINK_BASE);
    return '';
  }

  /**
   * The seed's Add User: "Click Create. A welcome email is sent to the user's email address." Runs in the
   * transaction that creates the user, so the user and its welcome email commit (or roll back) together. The
   * users of a partner account are skipped, as by the action. Without a configured link base the creation is
   * refused with 409 (it rolls back with this transaction).
   */
  async welcomeCreatedUser(trx: Knex.Transaction, account: Account, user: StoredUser, writer: Writer & { type: 'admin' }): Promise<ActionResult> {
    const skip = linkEmailDecision('sendWelcomeEmail', account, user.registered);
    if (skip) return { userId: user.id, ...skip };
    const linkBase = this.linkBaseFor('sendWelcomeEmail', {});
    return this.sendLink('sendWelcomeEmail', { account, accountId: account.id, actionId: undefined, writer, params: {}, linkBase }, user, trx);
  }

  private async sendLink(type: 'sendWelcomeEmail' | 'resetPassword', ctx: RunContext, user: StoredUser, outer?: Knex.Transaction): Promise<ActionResult> {
    const skip = linkEmailDecision(type, ctx.account, user.registered);
    if (skip) return { userId: user.id, ...skip };
    const to = emailOf(user);
    if (!to) return { userId: user.id, outcome: 'failed', reason: 'no email address' };
    // Savepoint inside the batch's transaction when there is one: one commit per batch, not per user.
    await (outer ? outer.transaction.bind(outer) : this.db.transaction.bind(this.db))(async (trx: Knex.Transaction) => {
      const purpose = type === 'sendWelcomeEmail' ? 'register' : 'reset';
      const { token, expiresAt } = await this.registration.createLink(trx, ctx.accountId, user.id, purpose, ctx.actionId);
      const link = `${ctx.linkBase}/${purpose}/${token}`;
      const kind = type === 'sendWelcomeEmail' ? 'welcome' : 'password_reset';
      const mail = renderMail({ kind, accountName: ctx.account.name, user: recipientOf(user, to), link, expiresAt });
      await enqueue(trx, ctx.accountId, { kind, to, subject: mail.subject, text: mail.text, html: mail.html, userId: user.id, actionId: ctx.actionId });
    });
    return { userId: user.id, outcome: 'done' };
  }

  /** The seed's two "Welcome to MiVB" emails: deployment details, then passwords and phone PIN. */
  private async sendMivbDeployment(ctx: RunContext, user: StoredUser, outer?: Knex.Transaction): Promise<ActionResult> {
    const skip = mivbDeploymentDecision(ctx.account, user.doc);
    if (skip) return { userId: user.id, ...skip };
    const ext = extensionOf(user.doc);
    const to = emailOf(user);
    if (!to) return { userId: user.id, outcome: 'failed', reason: 'no email address' };
    const miCollab = ctx.account.settings.miCollab;
    const login = typeof ext.username === 'string' && ext.username !== '' ? ext.username : String(user.doc.userName);
    const links = await sourceLinksRepo.forUser(outer ?? this.db, ctx.accountId, user.id);
    const device = links.map((l) => l.raw.device ?? l.attributes.device).find((d): d is JsonObject => !!d && typeof d === 'object' && typeof (d as JsonObject).type === 'string');
    const details: MivbDeploymentDetails = {
      userPortalUrl: typeof ctx.params.userPortalUrl === 'string' ? ctx.params.userPortalUrl : `${ctx.linkBase}/portal`,
      userPortalLogin: login,
      extensions: Array.isArray(ext.extensions) ? ext.extensions.map(String) : [],
      ...(device
        ? {
            device: {
              type: String(device.type),
              ...(typeof device.macAddress === 'string' ? { macAddress: device.macAddress } : {}),
              ...(typeof device.description === 'string' ? { description: device.description } : {}),
            },
          }
        : {}),
      miCollab,
      ...(miCollab ? { miCollabLogin: login, ...(typeof ctx.params.miCollabServer === 'string' ? { miCollabServer: ctx.params.miCollabServer } : {}) } : {}),
    };
    const credentials: MivbDeploymentCredentials = {
      userPortalPassword: generatePassword(),
      ...(miCollab ? { miCollabPassword: generatePassword() } : {}),
      phonePin: generatePin(),
    };
    const recipient = recipientOf(user, to);
    // Savepoint inside the batch's transaction when there is one: one commit per batch, not per user.
    await (outer ? outer.transaction.bind(outer) : this.db.transaction.bind(this.db))(async (trx: Knex.Transaction) => {
      for (const input of [
        { kind: 'mivb_deployment_details' as const, accountName: ctx.account.name, user: recipient, details },
        { kind: 'mivb_deployment_credentials' as const, accountName: ctx.account.name, user: recipient, details: credentials },
      ]) {
        const mail = renderMail(input);
        await enqueue(trx, ctx.accountId, { kind: input.kind, to, subject: mail.subject, text: mail.text, html: mail.html, userId: user.id, actionId: ctx.actionId });
      }
    });
    return { userId: user.id, outcome: 'done' };
  }

  /** The seed's delete rules, all in UserService.delete (a Mitel Partner, a MiCloud Connect user: failed with its reason). */
  private async deleteUser(ctx: RunContext, user: StoredUser): Promise<ActionResult> {
    const outcome = await this.users.delete(ctx.accountId, ctx.writer, user.id);
    if (outcome === 'deleted') return { userId: user.id, outcome: 'done', value: 'deleted' };
    return {
      userId: user.id,
      outcome: 'done',
      value: 'unregistered',
      reason: 'synced from a PBX or identity provider: only the platform account was removed; the user stays listed (send a welcome email to add it again)',
    };
  }

  // ------------------------------------------------------------------------------ all users, all or nothing

  /**
   * Users of the account by id, locked for the transaction in id order across all pages, so concurrent actions
   * cannot deadlock. The ids are the users' own, read from the database: lower-case text, whose order is uuid order.
   */
  private async lockUsers(trx: Trx, accountId: string, ids: string[]): Promise<Map<string, StoredUser>> {
    const found = new Map<string, StoredUser>();
    const ordered = [...ids].sort();
    for (let i = 0; i < ordered.length; i += PAGE) {
      const chunk = ordered.slice(i, i + PAGE);
      await actionsRepo.lockUsers(trx, accountId, chunk);
      const page = await usersRepo.list(trx, accountId, { where: { sql: 'u.id = any(?::uuid[])', bindings: [chunk] }, limit: chunk.length, withGroups: false });
      for (const user of page) found.set(user.id, user);
    }
    return found;
  }

  private async atomic(type: ActionType, ctx: RunContext, trx: Trx, ids: string[]): Promise<ActionResult[]> {
    // Users first, then the account row: every writer takes them in this order (a user edit adding a licence holds
    // its user and then locks the account to count seats), so an action and an edit cannot deadlock. The account
    // row lock serialises licence and SMS actions of one account: seats and free numbers are counted under it.
    const locked = await this.lockUsers(trx, ctx.accountId, ids);
    const account = await ruleFacts.lockedAccount(trx, ctx.accountId);
    const current = ids.flatMap((id) => locked.get(id) ?? []);
    const gone: ActionResult[] = ids.filter((id) => !locked.has(id)).map((userId) => ({ userId, outcome: 'failed', reason: 'not found' }));
    const inTrx = { ...ctx, account };
    let plan: Plan;
    let change: (user: StoredUser, index: number) => { next: JsonObject; value?: string };
    switch (type) {
      case 'assignLicense':
      case 'unassignLicense': {
        const product = String(ctx.params.product);
        const assign = type === 'assignLicense';
        plan = await this.licensePlan(trx, inTrx, current, assign);
        change = (user) => ({
          next: withExtension(user.doc, (ext) => {
            const rest = licensesOf(user.doc).filter((l) => !sameProduct(l, product));
            if (assign) ext.licenses = [...rest, product];
            else if (rest.length > 0) ext.licenses = rest;
            else delete ext.licenses;
          }),
        });
        break;
      }
      case 'assignSmsNumbers':
      case 'unassignSmsNumbers': {
        const assign = type === 'assignSmsNumbers';
        const smsPlan = await this.smsPlan(trx, inTrx, current, assign);
        plan = smsPlan;
        change = (user, index) => {
          const number = smsPlan.free[index];
          return {
            next: withExtension(user.doc, (ext) => {
              if (assign) ext.smsNumber = number;
              else delete ext.smsNumber;
            }),
            ...(assign && number ? { value: number } : {}),
          };
        };
        break;
      }
      default:
        throw new Error(`${type} is not an all-or-nothing action`);
    }
    const results: ActionResult[] = [...gone, ...plan.skipped.map((s): ActionResult => ({ ...s, outcome: 'skipped' }))];
    const changes = plan.change.map((user, index) => ({ user, ...change(user, index) }));
    // One write for all of them: a user the rules refuse (e.g. an attribute owned by a source) fails alone.
    const written = await this.users.write(trx, ctx.accountId, ctx.writer, changes.map(({ user, next }) => ({ current: user, next })), { account });
    for (const [i, { user, value }] of changes.entries()) {
      const outcome = written[i]!;
      results.push(outcome.ok ? { userId: user.id, outcome: 'done', ...(value ? { value } : {}) } : { userId: user.id, outcome: 'failed', reason: outcome.error.detail });
    }
    const order = new Map(ids.map((id, i) => [id, i]));
    return results.sort((a, b) => (order.get(a.userId) ?? 0) - (order.get(b.userId) ?? 0));
  }

  /** The seed's licence rules for the whole action (licenceAssignmentPlan), over the seats in use. */
  private async licensePlan(db: Executor, ctx: RunContext, users: StoredUser[], assign: boolean): Promise<Plan> {
    const product = String(ctx.params.product);
    const plan = licenceAssignmentPlan(ctx.account, product, users, assign, assign ? await ruleFacts.licenceHolders(db, ctx.accountId, product) : 0);
    if (plan instanceof DomainError) throw plan;
    return plan;
  }

  /** The seed's SMS number rules for the whole action (smsAssignmentPlan), over the pool numbers in use. */
  private async smsPlan(db: Executor, ctx: RunContext, users: StoredUser[], assign: boolean): Promise<Plan & { free: string[] }> {
    const pool = ctx.account.settings.twilio.smsPool;
    const plan = smsAssignmentPlan(ctx.account, users, assign, assign ? await ruleFacts.heldSmsNumbers(db, ctx.accountId, pool) : []);
    if (plan instanceof DomainError) throw plan;
    return plan;
  }

  // ------------------------------------------------------------------------------------------------ reading

  async get(accountId: string, id: string): Promise<StoredAction> {
    const action = isUuid(id) ? await actionsRepo.findById(this.db, accountId, id) : undefined;
    if (!action) throw notFound(`Action ${id}`);
    return action;
  }

  /** The account's actions, newest first, filtered in SQL; results are left out. */
  async list(accountId: string, query: ActionListQuery): Promise<{ total: number; actions: StoredAction[] }> {
    const filter = query.filter ? parseScimFilter(query.filter) : undefined;
    return actionsRepo.list(this.db, accountId, { filter, offset: query.startIndex - 1, limit: query.count });
  }
}
