import { compileListCriteria } from '../db/list-filter.js';
import type { Knex } from 'knex';
import { canParent, defaultSettings, type Account, type AccountSettings, type Subscription } from '../domain/account.js';
import { DomainError, notFound } from '../domain/errors.js';
import type { AccountType, Principal } from '../domain/principal.js';
import { accountsRepo, isUuid } from '../db/accounts-repo.js';
import { auditRepo } from '../db/audit-repo.js';
import { licencesRepo } from '../db/licences-repo.js';
import type { Executor } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import { TtlCache } from '../lib/ttl-cache.js';

export const MITEAM_MEETINGS = 'MiTeam Meetings';

export interface AccountChanges {
  name?: string;
  externalId?: string | null;
  settings?: AccountSettings;
  subscriptions?: Subscription[];
}

/** A subscription with the licences its product's seats carry: the Manage panel's count. */
export interface LicenceUsage {
  product: string;
  seats: number;
  assigned: number;
  available: number;
}

const actorOf = (p: Principal): string => `${p.role}:${p.tokenId}`;

/** Rules on settings and subscriptions that hold whoever writes them. */
function validateChanges(type: AccountType, changes: AccountChanges): void {
  if (changes.name !== undefined && changes.name.trim() === '') throw new DomainError('invalidValue', 'name must not be empty');
  const subs = changes.subscriptions;
  if (subs) {
    const seen = new Set<string>();
    for (const s of subs) {
      if (!s.product || typeof s.product !== 'string') throw new DomainError('invalidValue', 'Each subscription needs a product');
      if (!Number.isInteger(s.seats) || s.seats < 0) throw new DomainError('invalidValue', `Subscription ${s.product}: seats must be a whole number of at least 0`);
      if (seen.has(s.product.toLowerCase())) throw new DomainError('invalidValue', `Subscription ${s.product} is listed twice`);
      seen.add(s.product.toLowerCase());
      if (type === 'partner' && s.product.toLowerCase() === MITEAM_MEETINGS.toLowerCase()) {
        throw new DomainError('invalidValue', 'A partner account cannot be licensed for MiTeam Meetings');
      }
    }
  }
  const pool = changes.settings?.twilio.smsPool;
  if (pool) {
    const seen = new Set<string>();
    for (const number of pool) {
      if (!/^\+[1-9]\d{6,14}$/.test(number)) throw new DomainError('invalidValue', `SMS pool number ${number} is not in E.164 form (+ and 7 to 15 digits)`);
      if (seen.has(number)) throw new DomainError('invalidValue', `SMS pool number ${number} is listed twice`);
      seen.add(number);
    }
  }
}

/** Subscriptions compared by product (case-insensitively) and seats, whatever their order. */
function sameSubscriptions(a: readonly Subscription[], b: readonly Subscription[]): boolean {
  const key = (list: readonly Subscription[]) => list.map((s) => `${s.product.toLowerCase()}\u0000${s.seats}`).sort().join('\u0001');
  return key(a) === key(b);
}

export class AccountService {
  /** accountId → ids of the accounts that may reach it (itself and its ancestors). */
  private readonly reachCache: TtlCache<string, string[] | null>;

  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
  ) {
    this.reachCache = new TtlCache(10_000, 10_000, () => clock.now().getTime());
  }

  /** Whether a principal may address this account: operators all, partners their own and their customers, others their own. */
  async canReach(principal: Principal, accountId: string): Promise<boolean> {
    if (accountId === principal.accountId) return true;
    if (principal.role !== 'operator' && principal.role !== 'partner-admin') return false;
    let chain = this.reachCache.get(accountId);
    if (chain === undefined) {
      chain = isUuid(accountId) && (await accountsRepo.findById(this.db, accountId)) ? [accountId, ...(await accountsRepo.ancestorIds(this.db, accountId))] : null;
      this.reachCache.set(accountId, chain);
    }
    if (!chain) return false;
    return principal.role === 'operator' || chain.includes(principal.accountId);
  }

  async get(principal: Principal, accountId: string): Promise<Account> {
    if (!(await this.canReach(principal, accountId))) throw notFound(`Account ${accountId}`);
    const account = await accountsRepo.findById(this.db, accountId);
    if (!account) throw notFound(`Account ${accountId}`);
    return account;
  }

  /** The accounts a principal sees in lists: null means all (operator). */
  async scopeOf(principal: Principal): Promise<string[] | null> {
    if (principal.role === 'operator') return null;
    if (principal.role === 'partner-admin') return [principal.accountId, ...(await accountsRepo.childIds(this.db, principal.accountId))];
    return [principal.accountId];
  }

  /** A page of the accounts the principal sees: the SCIM filter is compiled to SQL here (a bad one is a DomainError). */
  async list(principal: Principal, options: { filter?: string | undefined; offset: number; limit: number }) {
    const { filter, ...page } = options;
    const { where } = compileListCriteria('account', { filter });
    return accountsRepo.list(this.db, { scope: await this.scopeOf(principal), ...page, ...(where ? { where } : {}) });
  }

  async create(
    principal: Principal,
    input: { name: string; type: AccountType; parentId?: string | null; externalId?: string | null; settings?: AccountSettings; subscriptions?: Subscription[] },
  ): Promise<Account> {
    if (principal.role !== 'operator' && principal.role !== 'partner-admin') {
      throw new DomainError('forbidden', `A ${principal.role} token cannot create accounts`);
    }
    if (input.type !== 'partner' && input.type !== 'customer') throw new DomainError('invalidValue', 'type must be "partner" or "customer"');
    const parentId = input.parentId ?? (principal.role === 'partner-admin' || input.type === 'partner' ? principal.accountId : principal.accountId);
    if (!(await this.canReach(principal, parentId))) throw new DomainError('invalidValue', `parentId ${parentId} is not an account you manage`);
    validateChanges(input.type, input);
    return this.db.transaction(async (trx) => {
      const parent = await accountsRepo.findById(trx, parentId);
      if (!parent) throw new DomainError('invalidValue', `parentId ${parentId} is not an account`);
      if (!canParent(parent.type, input.type)) {
        throw new DomainError('invalidValue', `A ${input.type} account cannot belong to a ${parent.type} account`);
      }
      if (principal.role === 'partner-admin' && input.type !== 'customer') {
        throw new DomainError('forbidden', 'A partner admin can create customer accounts only');
      }
      const account = await accountsRepo.insert(trx, {
        parentId,
        type: input.type,
        name: input.name,
        externalId: input.externalId ?? null,
        settings: input.settings ?? defaultSettings(),
        subscriptions: input.subscriptions ?? [],
        updatedBy: actorOf(principal),
      });
      await auditRepo.record(trx, { accountId: account.id, actor: actorOf(principal), action: 'account.create', targetType: 'Account', targetId: account.id, details: { name: input.name, type: input.type } });
      return account;
    });
  }

  /**
   * Applies a computed change under a row lock: `change` sees the current account and returns the new values,
   * so a PATCH is read-modify-write in one transaction. `ifMatch` is the expected version (412 otherwise).
   */
  async update(principal: Principal, accountId: string, change: (current: Account) => AccountChanges, ifMatch?: number): Promise<Account> {
    if (!(await this.canReach(principal, accountId))) throw notFound(`Account ${accountId}`);
    if (principal.role === 'provisioning' || principal.role === 'user') throw new DomainError('forbidden', `A ${principal.role} token cannot change accounts`);
    return this.db.transaction(async (trx) => {
      const current = await accountsRepo.findForUpdate(trx, accountId);
      if (!current) throw notFound(`Account ${accountId}`);
      if (ifMatch !== undefined && ifMatch !== current.version) {
        throw new DomainError('preconditionFailed', `Account ${accountId} is at version ${current.version}, not ${ifMatch}`);
      }
      const changes = change(current);
      validateChanges(current.type, changes);
      if (changes.subscriptions && !sameSubscriptions(current.subscriptions, changes.subscriptions)) {
        // The seed: a subscription (order) is assigned to an account; its own admins cannot grant themselves seats.
        if (principal.role !== 'operator' && principal.accountId === accountId) {
          throw new DomainError('forbidden', `Subscriptions are assigned by the account's partner or the operator; a ${principal.role} token cannot change those of its own account`);
        }
        await this.checkSeatsCoverLicences(trx, accountId, current.subscriptions, changes.subscriptions);
      }
      const updated = await accountsRepo.update(trx, accountId, changes, actorOf(principal));
      await auditRepo.record(trx, { accountId, actor: actorOf(principal), action: 'account.update', targetType: 'Account', targetId: accountId, details: { changed: Object.keys(changes) } });
      return updated;
    });
  }

  /**
   * The seed's Manage panel "displays the number of MiTeam Meetings licenses available for that account": for each
   * subscription of a reachable account, its seats, the licences assigned and the seats left.
   */
  async licenceUsage(principal: Principal, accountId: string): Promise<LicenceUsage[]> {
    const account = await this.get(principal, accountId);
    return (await this.licenceUsageOf([account])).get(account.id) ?? [];
  }

  /**
   * licenceUsage for accounts the caller has already read and may reach (a response, a page of the list): one
   * statement for all of them. accountId → usage per subscription, in the account's order.
   */
  async licenceUsageOf(accounts: readonly Account[]): Promise<Map<string, LicenceUsage[]>> {
    const withSubscriptions = accounts.filter((a) => a.subscriptions.length > 0);
    const held = await licencesRepo.holdersByProduct(this.db, withSubscriptions.map((a) => a.id));
    return new Map(
      accounts.map((account) => [
        account.id,
        account.subscriptions.map((s) => {
          const assigned = held.get(account.id)?.get(s.product.toLowerCase()) ?? 0;
          return { product: s.product, seats: s.seats, assigned, available: Math.max(0, s.seats - assigned) };
        }),
      ]),
    );
  }

  /**
   * The seed's "never past the seats": a subscription cannot drop below the licences already assigned for its
   * product, nor be removed while any are (unassign first).
   */
  private async checkSeatsCoverLicences(db: Executor, accountId: string, before: readonly Subscription[], after: readonly Subscription[]): Promise<void> {
    const lowered = before.filter((b) => (after.find((a) => a.product.toLowerCase() === b.product.toLowerCase())?.seats ?? 0) < b.seats);
    if (lowered.length === 0) return;
    const assigned = (await licencesRepo.holdersByProduct(db, [accountId])).get(accountId)!;
    for (const sub of lowered) {
      const count = assigned.get(sub.product.toLowerCase()) ?? 0;
      const next = after.find((a) => a.product.toLowerCase() === sub.product.toLowerCase());
      const seats = next?.seats ?? 0;
      if (count > seats) {
        throw new DomainError(
          'invalidValue',
          `${count} users hold a ${sub.product} licence, so the subscription cannot ${next ? `have ${seats} seats` : 'be removed'}; unassign ${count - seats} licence(s) first (action unassignLicense)`,
        );
      }
    }
  }

  async delete(principal: Principal, accountId: string, ifMatch?: number): Promise<void> {
    if (!(await this.canReach(principal, accountId))) throw notFound(`Account ${accountId}`);
    if (principal.role !== 'operator' && principal.role !== 'partner-admin') throw new DomainError('forbidden', `A ${principal.role} token cannot delete accounts`);
    if (accountId === principal.accountId) throw new DomainError('invalidValue', 'An account cannot delete itself');
    await this.db.transaction(async (trx) => {
      const current = await accountsRepo.findForUpdate(trx, accountId);
      if (!current) throw notFound(`Account ${accountId}`);
      if (current.type === 'operator') throw new DomainError('invalidValue', 'The operator account cannot be deleted');
      if (ifMatch !== undefined && ifMatch !== current.version) throw new DomainError('preconditionFailed', `Account ${accountId} is at version ${current.version}, not ${ifMatch}`);
      const children = await accountsRepo.countChildren(trx, accountId);
      if (children > 0) throw new DomainError('conflict', `Account ${accountId} still owns ${children} account(s); delete or move them first`);
      await accountsRepo.delete(trx, accountId);
      const parent = current.parentId;
      if (parent) await auditRepo.record(trx, { accountId: parent, actor: actorOf(principal), action: 'account.delete', targetType: 'Account', targetId: accountId, details: { name: current.name } });
    });
    this.reachCache.delete(accountId);
  }
}
