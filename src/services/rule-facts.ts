/**
 * The one place that reads the facts the seed's rules (domain/user-rules.ts) and the write plan
 * (domain/write-plan.ts) are decided on: the account, seats in use, the account admins, who holds a unique value,
 * the names of sources, the SMS pool numbers in use. Each is read only when a rule in hand needs it (the plan's
 * `factsNeeded` says which), in the caller's transaction.
 */
import type { Account } from '../domain/account.js';
import { notFound } from '../domain/errors.js';
import type { FactNeeds, LinkFact, WriteFacts } from '../domain/write-plan.js';
import type { DeleteFacts } from '../domain/user-rules.js';
import { isAccountAdmin } from '../domain/user-rules.js';
import type { Writer } from '../domain/ownership.js';
import { accountsRepo } from '../db/accounts-repo.js';
import { actionsRepo } from '../db/actions-repo.js';
import type { Executor } from '../db/database.js';
import { licencesRepo } from '../db/licences-repo.js';
import { sourcesRepo } from '../db/sources-repo.js';
import { usersRepo, type StoredUser } from '../db/users-repo.js';

async function accountOf(db: Executor, accountId: string, lock: boolean): Promise<Account> {
  const account = lock ? await accountsRepo.findForUpdate(db, accountId) : await accountsRepo.findById(db, accountId);
  if (!account) throw notFound(`Account ${accountId}`);
  return account;
}

export const ruleFacts = {
  /**
   * The facts a batch of planned writes needs. `given`: the account when the caller already holds it (read in this
   * transaction); seats are still counted under the account row lock, so two writers racing for the last seat
   * cannot both see it free (every writer locks its users before the account, so none deadlock).
   */
  async forWrites(db: Executor, accountId: string, needs: FactNeeds, given?: Account): Promise<Omit<WriteFacts, 'now' | 'newId'>> {
    const facts: Omit<WriteFacts, 'now' | 'newId'> = {};
    if (needs.lockAccount) facts.account = await accountOf(db, accountId, true);
    else if (needs.account) facts.account = given?.id === accountId ? given : await accountOf(db, accountId, false);
    if (needs.licenceHolders.length > 0) {
      const holders = new Map<string, number>();
      for (const product of needs.licenceHolders) holders.set(product.toLowerCase(), await licencesRepo.holders(db, accountId, product));
      facts.licenceHolders = holders;
    }
    if (needs.accountAdmins) facts.accountAdmins = await usersRepo.countAdmins(db, accountId);
    if (needs.uniqueValues.length > 0) facts.uniqueHolders = await usersRepo.uniqueHolders(db, accountId, needs.uniqueValues);
    if (needs.sourceNames.length > 0) facts.sourceNames = await sourcesRepo.namesOf(db, accountId, needs.sourceNames);
    return facts;
  },

  /** The facts of a delete: the account's type for an admin's, the other admins when the user is one. */
  async forDelete(db: Executor, accountId: string, writer: Writer, user: StoredUser, links: readonly LinkFact[]): Promise<DeleteFacts> {
    const facts: DeleteFacts = { writer, links, user: user.doc };
    if (writer.type !== 'admin') return facts;
    facts.accountType = (await accountOf(db, accountId, false)).type;
    if (isAccountAdmin(user.doc)) facts.otherAdmins = (await usersRepo.countAdmins(db, accountId)) - 1;
    return facts;
  },

  /** The account under its row lock: licence and SMS actions of one account are serialised on it. */
  lockedAccount(db: Executor, accountId: string): Promise<Account> {
    return accountOf(db, accountId, true);
  },

  /** How many users of the account hold a licence for the product (count under the account row lock). */
  licenceHolders(db: Executor, accountId: string, product: string): Promise<number> {
    return licencesRepo.holders(db, accountId, product);
  },

  /** The numbers of the pool that users of the account hold. */
  heldSmsNumbers(db: Executor, accountId: string, pool: readonly string[]): Promise<string[]> {
    return actionsRepo.heldSmsNumbers(db, accountId, pool);
  },
};
