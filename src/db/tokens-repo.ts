import type { Knex } from 'knex';
import type { AccountType, Role } from '../domain/principal.js';
import type { Executor } from './database.js';
import { isUuid } from './accounts-repo.js';

export interface TokenRecord {
  id: string;
  accountId: string;
  role: Role;
  description: string | null;
  userId: string | null;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
  createdBy: string | null;
}

interface TokenRow {
  id: string;
  account_id: string;
  role: Role;
  description: string | null;
  user_id: string | null;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
  created_by: string | null;
}

const columns = ['id', 'account_id', 'role', 'description', 'user_id', 'expires_at', 'last_used_at', 'revoked_at', 'created_at', 'created_by'];
const date = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));

function toToken(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    role: row.role,
    description: row.description,
    userId: row.user_id,
    expiresAt: date(row.expires_at),
    lastUsedAt: date(row.last_used_at),
    revokedAt: date(row.revoked_at),
    createdAt: new Date(row.created_at),
    createdBy: row.created_by,
  };
}

export const tokensRepo = {
  async insert(
    db: Executor,
    token: { accountId: string; secretHash: string; role: Role; description?: string | null; userId?: string | null; expiresAt?: Date | null; createdBy: string },
  ): Promise<TokenRecord> {
    const [row] = (await db('tokens')
      .insert({
        account_id: token.accountId,
        secret_hash: token.secretHash,
        role: token.role,
        description: token.description ?? null,
        user_id: token.userId ?? null,
        expires_at: token.expiresAt ?? null,
        created_by: token.createdBy,
      })
      .returning(columns)) as TokenRow[];
    return toToken(row);
  },

  /** The token with this secret hash, with its account's type; any account (authentication precedes tenancy). */
  async findBySecretHash(db: Executor, secretHash: string): Promise<(TokenRecord & { accountType: AccountType }) | undefined> {
    const row = (await db('tokens as t')
      .join('accounts as a', 'a.id', 't.account_id')
      .where('t.secret_hash', secretHash)
      .first([...columns.map((c) => `t.${c}`), 'a.type as account_type'])) as (TokenRow & { account_type: AccountType }) | undefined;
    return row ? { ...toToken(row), accountType: row.account_type } : undefined;
  },

  /** `roles`: only a token of one of these roles is found (the roles the caller may manage). */
  async findById(db: Executor, accountId: string, id: string, roles?: readonly Role[]): Promise<TokenRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const query = db('tokens').where({ account_id: accountId, id });
    if (roles) query.whereIn('role', roles as Role[]);
    const row = (await query.first(columns)) as TokenRow | undefined;
    return row ? toToken(row) : undefined;
  },

  async list(
    db: Executor,
    accountId: string,
    options: { where?: { sql: string; bindings: readonly unknown[] }; roles?: readonly Role[]; offset: number; limit: number },
  ): Promise<{ total: number; tokens: TokenRecord[] }> {
    const base = db('tokens as t').where('t.account_id', accountId);
    if (options.roles) base.whereIn('t.role', options.roles as Role[]);
    if (options.where) base.whereRaw(options.where.sql, options.where.bindings as Knex.RawBinding[]);
    const [{ n }] = (await base.clone().count({ n: '*' })) as { n: number | string }[];
    const rows = (await base
      .clone()
      .select(columns.map((c) => `t.${c}`))
      .orderBy([{ column: 't.created_at' }, { column: 't.id' }])
      .offset(options.offset)
      .limit(options.limit)) as TokenRow[];
    return { total: Number(n), tokens: rows.map(toToken) };
  },

  async revoke(db: Executor, accountId: string, id: string, at: Date): Promise<boolean> {
    const count = await db('tokens').where({ account_id: accountId, id }).whereNull('revoked_at').update({ revoked_at: at });
    return count > 0;
  },

  async touch(db: Executor, accountId: string, id: string, at: Date): Promise<void> {
    await db('tokens').where({ account_id: accountId, id }).update({ last_used_at: at });
  },

  async hasActiveOperatorToken(db: Executor): Promise<boolean> {
    const row = await db('tokens').where({ role: 'operator' }).whereNull('revoked_at').first('id');
    return row !== undefined;
  },
};
