import type { Knex } from 'knex';
import { DomainError, notFound } from '../domain/errors.js';
import { accountsRepo, isUuid } from '../db/accounts-repo.js';
import { auditRepo } from '../db/audit-repo.js';
import { usersRepo, type StoredUser } from '../db/users-repo.js';
import type { Clock } from '../lib/clock.js';
import { compileListFilter } from '../scim/list-filter.js';
import { enqueue } from './mail/outbox-repo.js';
import { renderMail } from './mail/mail-templates.js';
import type { RegistrationService } from './registration-service.js';

export const actionTypes = ['sendWelcomeEmail', 'resetPassword'] as const;
export type ActionType = (typeof actionTypes)[number];
export type Outcome = 'done' | 'skipped' | 'deferred' | 'failed';
export type Targets = { all: true } | { ids: string[] } | { filter: string };

export interface ActionResult {
  userId: string;
  outcome: Outcome;
  reason?: string;
}

export interface StoredAction {
  id: string;
  accountId: string;
  type: ActionType;
  status: 'completed';
  targets: Targets;
  params: Record<string, unknown>;
  summary: { targeted: number; succeeded: number; skipped: number; failed: number; deferred: number };
  results: ActionResult[];
  createdBy: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

const PAGE = 500;

export function parseTargets(value: unknown): Targets {
  const t = value as Record<string, unknown> | undefined;
  if (t && typeof t === 'object') {
    if (t.all === true) return { all: true };
    if (Array.isArray(t.ids) && t.ids.every((id) => typeof id === 'string')) return { ids: t.ids as string[] };
    if (typeof t.filter === 'string' && t.filter.trim() !== '') return { filter: t.filter };
  }
  throw new DomainError('invalidValue', 'targets must be {all: true}, {ids: [...]} or {filter: "<SCIM filter>"}');
}

function emailOf(user: StoredUser): string | undefined {
  const emails = (Array.isArray(user.doc.emails) ? user.doc.emails : []) as Array<Record<string, unknown>>;
  const primary = emails.find((e) => e.primary === true && typeof e.value === 'string' && e.value !== '') ?? emails.find((e) => typeof e.value === 'string' && e.value !== '');
  return primary?.value as string | undefined;
}

/** Runs admin actions over an account's own users (never a partner's children, never another account's). */
export class ActionService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly registration: RegistrationService,
    private readonly publicUrl: string,
  ) {}

  private async resolve(accountId: string, targets: Targets): Promise<{ users: StoredUser[]; missing: string[] }> {
    if ('ids' in targets) {
      const users: StoredUser[] = [];
      const missing: string[] = [];
      for (const id of [...new Set(targets.ids)]) {
        const user = isUuid(id) ? await usersRepo.findById(this.db, accountId, id) : undefined;
        if (user) users.push(user);
        else missing.push(id);
      }
      return { users, missing };
    }
    const where = 'filter' in targets ? compileListFilter(targets.filter, 'user') : undefined;
    const users: StoredUser[] = [];
    let after: { value: string | null; id: string } | undefined;
    for (;;) {
      const page = await usersRepo.list(this.db, accountId, { where, limit: PAGE, after, withGroups: false });
      users.push(...page);
      if (page.length < PAGE) break;
      const last = page[page.length - 1];
      after = { value: last.sortValue, id: last.id };
    }
    return { users, missing: [] };
  }

  async run(accountId: string, actor: string, input: { type: unknown; targets: unknown; params?: unknown }): Promise<StoredAction> {
    if (typeof input.type !== 'string' || !(actionTypes as readonly string[]).includes(input.type)) {
      throw new DomainError('invalidValue', `type must be one of ${actionTypes.join(', ')}`);
    }
    const type = input.type as ActionType;
    const targets = parseTargets(input.targets);
    const params = input.params && typeof input.params === 'object' ? (input.params as Record<string, unknown>) : {};
    const account = await accountsRepo.findById(this.db, accountId);
    if (!account) throw notFound(`Account ${accountId}`);
    const { users, missing } = await this.resolve(accountId, targets);
    const [row] = (await this.db('actions')
      .insert({ account_id: accountId, type, status: 'running', targets: JSON.stringify(targets), params: JSON.stringify(params), created_by: actor, created_at: this.clock.now() })
      .returning('id')) as { id: string }[];
    const actionId = row.id;
    const results: ActionResult[] = missing.map((userId) => ({ userId, outcome: 'failed', reason: 'not found' }));

    for (const user of users) {
      const to = emailOf(user);
      const recipient = { displayName: typeof user.doc.displayName === 'string' ? user.doc.displayName : null, userName: String(user.doc.userName), email: to ?? '' };
      if (type === 'resetPassword') {
        if (account.settings.sso) {
          results.push({ userId: user.id, outcome: 'deferred', reason: 'password reset is handled by the identity provider' });
          continue;
        }
        if (!user.registered) {
          results.push({ userId: user.id, outcome: 'skipped', reason: 'not registered' });
          continue;
        }
      }
      if (!to) {
        results.push({ userId: user.id, outcome: 'failed', reason: 'no email address' });
        continue;
      }
      try {
        await this.db.transaction(async (trx) => {
          const purpose = type === 'sendWelcomeEmail' ? 'register' : 'reset';
          const { token, expiresAt } = await this.registration.createLink(trx, accountId, user.id, purpose, actionId);
          const link = `${this.publicUrl}/${purpose}/${token}`;
          const kind = type === 'sendWelcomeEmail' ? 'welcome' : 'password_reset';
          const mail = renderMail({ kind, accountName: account.name, user: recipient, link, expiresAt });
          await enqueue(trx, accountId, { kind, to, subject: mail.subject, text: mail.text, html: mail.html, userId: user.id, actionId });
        });
        results.push({ userId: user.id, outcome: 'done' });
      } catch (error) {
        results.push({ userId: user.id, outcome: 'failed', reason: error instanceof Error ? error.message : String(error) });
      }
    }

    const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
    const summary = { targeted: results.length, succeeded: count('done'), skipped: count('skipped'), failed: count('failed'), deferred: count('deferred') };
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      await trx('actions').where({ account_id: accountId, id: actionId }).update({ status: 'completed', summary: JSON.stringify(summary), results: JSON.stringify(results), completed_at: now });
      await auditRepo.record(trx, { accountId, actor, action: `action.${type}`, targetType: 'Action', targetId: actionId, details: { targets, summary } }, now);
    });
    return this.get(accountId, actionId);
  }

  async get(accountId: string, id: string): Promise<StoredAction> {
    const row = isUuid(id) ? ((await this.db('actions').where({ account_id: accountId, id }).first()) as Record<string, unknown> | undefined) : undefined;
    if (!row) throw notFound(`Action ${id}`);
    return {
      id: row.id as string,
      accountId: row.account_id as string,
      type: row.type as ActionType,
      status: row.status as 'completed',
      targets: row.targets as Targets,
      params: row.params as Record<string, unknown>,
      summary: row.summary as StoredAction['summary'],
      results: row.results as ActionResult[],
      createdBy: (row.created_by as string) ?? null,
      createdAt: new Date(row.created_at as string),
      completedAt: row.completed_at ? new Date(row.completed_at as string) : null,
    };
  }
}
