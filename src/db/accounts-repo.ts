import type { Knex } from 'knex';
import type { Account, AccountSettings, Subscription } from '../domain/account.js';
import { withDefaults } from '../domain/account.js';
import type { AccountType } from '../domain/principal.js';
import type { Executor } from './database.js';

interface AccountRow {
  id: string;
  parent_id: string | null;
  type: AccountType;
  name: string;
  external_id: string | null;
  settings: Partial<AccountSettings>;
  /** Read with the row from account_user_counts (userCountSql); absent right after an insert (a new account has none). */
  user_count?: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const table = 'accounts';
const columns = ['id', 'parent_id', 'type', 'name', 'external_id', 'settings', 'version', 'created_at', 'updated_at'];

/**
 * The number of users of the account whose id is `idExpr`: the sum of its shards in account_user_counts (kept by
 * the users table's triggers, 16 rows per account so that concurrent writers never queue on one row; see
 * migrations/20261207000000_shard_user_count.ts).
 */
export const userCountSql = (idExpr: string): string => `(select coalesce(sum(c.user_count), 0)::int from account_user_counts c where c.account_id = ${idExpr})`;

function toAccount(row: AccountRow, subscriptions: Subscription[]): Account {
  return {
    id: row.id,
    parentId: row.parent_id,
    type: row.type,
    name: row.name,
    externalId: row.external_id,
    settings: withDefaults(row.settings),
    subscriptions,
    userCount: row.user_count ?? 0,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => uuidPattern.test(value);

async function subscriptionsOf(db: Executor, ids: string[]): Promise<Map<string, Subscription[]>> {
  const map = new Map<string, Subscription[]>();
  if (ids.length === 0) return map;
  const rows = await db('account_subscriptions').whereIn('account_id', ids).orderBy(['account_id', 'product']);
  for (const row of rows as { account_id: string; product: string; seats: number }[]) {
    const list = map.get(row.account_id) ?? [];
    list.push({ product: row.product, seats: row.seats });
    map.set(row.account_id, list);
  }
  return map;
}

const findOneSql = (forUpdate: boolean) =>
  `select ${columns.map((c) => `a.${c}`).join(', ')}, ${userCountSql('a.id')} as user_count,
          (select coalesce(json_agg(json_build_object('product', s.product, 'seats', s.seats) order by s.product), '[]'::json)
             from account_subscriptions s where s.account_id = a.id) as subscriptions
     from accounts a where a.id = ?${forUpdate ? ' for update of a' : ''}`;
const findOneStatements = { plain: findOneSql(false), locking: findOneSql(true) };

async function findOne(db: Executor, id: string, forUpdate: boolean): Promise<Account | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = (await db.raw(forUpdate ? findOneStatements.locking : findOneStatements.plain, [id])) as { rows: (AccountRow & { subscriptions: Subscription[] })[] };
  const row = rows[0];
  return row ? toAccount(row, row.subscriptions) : undefined;
}

export interface NewAccount {
  parentId: string | null;
  type: AccountType;
  name: string;
  externalId?: string | null;
  settings?: AccountSettings;
  subscriptions?: Subscription[];
  updatedBy: string;
}

export const accountsRepo = {
  /** The account with its subscriptions, in one round trip: every user write reads it. */
  async findById(db: Executor, id: string): Promise<Account | undefined> {
    return findOne(db, id, false);
  },

  async findForUpdate(db: Executor, id: string): Promise<Account | undefined> {
    return findOne(db, id, true);
  },

  async findOperator(db: Executor): Promise<Account | undefined> {
    const row = (await db(`${table} as a`).where({ 'a.type': 'operator' }).first([...columns.map((c) => `a.${c}`), db.raw(`${userCountSql('a.id')} as user_count`)])) as AccountRow | undefined;
    return row ? toAccount(row, []) : undefined;
  },

  /** Ancestors of an account, nearest first (at most two levels in our tree). */
  async ancestorIds(db: Executor, id: string): Promise<string[]> {
    if (!isUuid(id)) return [];
    const { rows } = await db.raw(
      `with recursive up(id, parent_id, depth) as (
         select id, parent_id, 0 from accounts where id = ?
         union all
         select a.id, a.parent_id, up.depth + 1 from accounts a join up on a.id = up.parent_id where up.depth < 8
       ) select id from up where depth > 0 order by depth`,
      [id],
    );
    return (rows as { id: string }[]).map((r) => r.id);
  },

  async insert(db: Executor, account: NewAccount): Promise<Account> {
    const [row] = (await db(table)
      .insert({
        parent_id: account.parentId,
        type: account.type,
        name: account.name,
        external_id: account.externalId ?? null,
        settings: JSON.stringify(account.settings ?? {}),
        updated_by: account.updatedBy,
      })
      .returning(columns)) as AccountRow[];
    await replaceSubscriptions(db, row.id, account.subscriptions ?? []);
    return toAccount(row, account.subscriptions ?? []);
  },

  async update(
    db: Executor,
    id: string,
    changes: { name?: string; externalId?: string | null; settings?: AccountSettings; subscriptions?: Subscription[] },
    updatedBy: string,
  ): Promise<Account> {
    const patch: Record<string, unknown> = { updated_by: updatedBy, updated_at: db.fn.now(), version: db.raw('version + 1') };
    if (changes.name !== undefined) patch.name = changes.name;
    if (changes.externalId !== undefined) patch.external_id = changes.externalId;
    if (changes.settings !== undefined) patch.settings = JSON.stringify(changes.settings);
    const [row] = (await db(table).where({ id }).update(patch).returning(columns)) as AccountRow[];
    if (row) row.user_count = Number(((await db.raw(`select ${userCountSql('?')} as n`, [id])) as { rows: { n: number }[] }).rows[0]?.n ?? 0);
    if (changes.subscriptions !== undefined) await replaceSubscriptions(db, id, changes.subscriptions);
    return toAccount(row, (await subscriptionsOf(db, [id])).get(id) ?? []);
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db(table).where({ id }).delete();
  },

  async countChildren(db: Executor, id: string): Promise<number> {
    const row = (await db(table).where({ parent_id: id }).count({ n: '*' }).first()) as { n: number | string };
    return Number(row.n);
  },

  /**
   * A page of accounts within `scope` (null: every account), filtered by compiled SQL over alias `a`.
   */
  async list(
    db: Executor,
    options: { scope: string[] | null; where?: { sql: string; bindings: readonly unknown[] }; offset: number; limit: number },
  ): Promise<{ total: number; accounts: Account[] }> {
    const base = db(`${table} as a`);
    if (options.scope) base.whereIn('a.id', options.scope);
    if (options.where) base.whereRaw(options.where.sql, options.where.bindings as Knex.RawBinding[]);
    const [{ n }] = (await base.clone().count({ n: '*' })) as { n: number | string }[];
    const rows = (await base
      .clone()
      .select([...columns.map((c) => `a.${c}`), db.raw(`${userCountSql('a.id')} as user_count`)])
      .orderBy([{ column: 'a.created_at' }, { column: 'a.id' }])
      .offset(options.offset)
      .limit(options.limit)) as AccountRow[];
    const subs = await subscriptionsOf(db, rows.map((r) => r.id));
    return { total: Number(n), accounts: rows.map((r) => toAccount(r, subs.get(r.id) ?? [])) };
  },

  async childIds(db: Executor, id: string): Promise<string[]> {
    return (await db(table).where({ parent_id: id }).pluck('id')) as string[];
  },
};

async function replaceSubscriptions(db: Executor, accountId: string, subscriptions: Subscription[]): Promise<void> {
  await db('account_subscriptions').where({ account_id: accountId }).delete();
  if (subscriptions.length > 0) {
    await db('account_subscriptions').insert(
      subscriptions.map((s) => ({ account_id: accountId, product: s.product, seats: s.seats })),
    );
  }
}
