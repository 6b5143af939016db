import { compileListCriteria } from '../db/list-filter.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { DomainError, notFound } from '../domain/errors.js';
import { canIssueRole, manageableRoles, roleFitsAccount, type Principal, type Role } from '../domain/principal.js';
import { accountsRepo } from '../db/accounts-repo.js';
import { auditRepo } from '../db/audit-repo.js';
import { tokensRepo, type TokenRecord } from '../db/tokens-repo.js';
import { usersRepo } from '../db/users-repo.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { TtlCache } from '../lib/ttl-cache.js';

/** 256 random bits, URL-safe, with a prefix that secret scanners can recognise. */
export function generateSecret(): string {
  return `sb_${crypto.randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

interface CachedToken {
  principal: Principal;
  expiresAt: Date | null;
  revoked: boolean;
  lastUsedAt: Date | null;
}

export interface IssueTokenInput {
  role: Role;
  description?: string | null;
  userId?: string | null;
  expiresAt?: Date | null;
}

/** How long a token look-up is trusted before the database is asked again (revocation on another instance). */
const TOKEN_CACHE_MS = 5_000;
/** last_used_at is written at most this often per token, so reads do not turn into writes. */
const TOUCH_INTERVAL_MS = 60_000;

export class TokenService {
  /**
   * Look-ups by bearer secret, for TOKEN_CACHE_MS and at most 10,000 of them: a hit skips hashing the secret
   * (the database only ever holds the SHA-256). The secrets stay in this process's memory, as they do in each
   * request's headers; they are never logged or written. A secret longer than 128 characters is keyed by its
   * hash instead (NUL-prefixed, which no header value carries), so the cache stays small whatever clients send.
   */
  private readonly cache: TtlCache<string, CachedToken | null>;

  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.cache = new TtlCache(TOKEN_CACHE_MS, 10_000, () => clock.now().getTime());
  }

  /** The principal behind a bearer secret, or undefined for unknown, revoked or expired tokens. */
  async authenticate(secret: string): Promise<Principal | undefined> {
    const key = secret.length <= 128 ? secret : `\u0000${hashSecret(secret)}`;
    let cached = this.cache.get(key);
    if (cached === undefined) {
      const record = await tokensRepo.findBySecretHash(this.db, hashSecret(secret));
      cached = record
        ? {
            principal: {
              tokenId: record.id,
              accountId: record.accountId,
              accountType: record.accountType,
              role: record.role,
              ...(record.userId ? { userId: record.userId } : {}),
            },
            expiresAt: record.expiresAt,
            revoked: record.revokedAt !== null,
            lastUsedAt: record.lastUsedAt,
          }
        : null;
      this.cache.set(key, cached);
    }
    if (!cached || cached.revoked) return undefined;
    const now = this.clock.now();
    if (cached.expiresAt && cached.expiresAt.getTime() <= now.getTime()) return undefined;
    if (!cached.lastUsedAt || now.getTime() - cached.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      cached.lastUsedAt = now;
      const { accountId, tokenId } = cached.principal;
      tokensRepo.touch(this.db, accountId, tokenId, now).catch((error: unknown) => {
        this.logger.warn({ err: error, tokenId }, 'could not record token use');
      });
    }
    return cached.principal;
  }

  async issue(issuer: Principal | 'bootstrap', accountId: string, input: IssueTokenInput, secret = generateSecret()): Promise<{ token: TokenRecord; secret: string }> {
    return this.db.transaction(async (trx) => {
      const account = await accountsRepo.findById(trx, accountId);
      if (!account) throw notFound(`Account ${accountId}`);
      if (issuer !== 'bootstrap' && !canIssueRole(issuer.role, input.role)) {
        throw new DomainError('forbidden', `A ${issuer.role} token cannot issue ${input.role} tokens`);
      }
      if (!roleFitsAccount(input.role, account.type)) {
        throw new DomainError('invalidValue', `Role ${input.role} cannot be given on a ${account.type} account`);
      }
      if (input.role === 'user') {
        if (!input.userId) throw new DomainError('invalidValue', 'A token with role user needs userId: the user it acts as');
        const user = await usersRepo.findById(trx, accountId, input.userId).catch(() => undefined);
        if (!user) throw new DomainError('invalidValue', `userId ${input.userId} is not a user of this account`);
      } else if (input.userId) {
        throw new DomainError('invalidValue', 'userId is only for tokens with role user');
      }
      if (input.expiresAt && input.expiresAt.getTime() <= this.clock.now().getTime()) {
        throw new DomainError('invalidValue', 'expiresAt must be in the future');
      }
      const createdBy = issuer === 'bootstrap' ? 'bootstrap' : `${issuer.role}:${issuer.tokenId}`;
      const token = await tokensRepo.insert(trx, {
        accountId,
        secretHash: hashSecret(secret),
        role: input.role,
        description: input.description ?? null,
        userId: input.userId ?? null,
        expiresAt: input.expiresAt ?? null,
        createdBy,
      });
      await auditRepo.record(trx, { accountId, actor: createdBy, action: 'token.create', targetType: 'Token', targetId: token.id, details: { role: input.role } });
      return { token, secret };
    });
  }

  async revoke(issuer: Principal, accountId: string, tokenId: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      // A token of a role the caller may not issue is not there for it: 404, like one that does not exist.
      const token = await tokensRepo.findById(trx, accountId, tokenId, manageableRoles(issuer.role));
      if (!token) throw notFound(`Token ${tokenId}`);
      await tokensRepo.revoke(trx, accountId, tokenId, this.clock.now());
      await auditRepo.record(trx, { accountId, actor: `${issuer.role}:${issuer.tokenId}`, action: 'token.revoke', targetType: 'Token', targetId: tokenId });
    });
    this.cache.deleteWhere((entry) => entry?.principal.tokenId === tokenId);
  }

  /** The token as `viewer` may see it: only tokens of roles it may issue. */
  findById(viewer: Principal, accountId: string, tokenId: string): Promise<TokenRecord | undefined> {
    return tokensRepo.findById(this.db, accountId, tokenId, manageableRoles(viewer.role));
  }

  /** A page of the tokens the viewer may manage: the SCIM filter is compiled to SQL here (a bad one is a DomainError). */
  list(viewer: Principal, accountId: string, options: Omit<Parameters<typeof tokensRepo.list>[2], 'roles' | 'where'> & { filter?: string | undefined }) {
    const { filter, ...page } = options;
    const { where } = compileListCriteria('token', { filter });
    return tokensRepo.list(this.db, accountId, { ...page, ...(where ? { where } : {}), roles: manageableRoles(viewer.role) });
  }

  /**
   * First start: make sure the operator account exists and has a token. SWITCHBOARD_BOOTSTRAP_TOKEN becomes
   * it when set; otherwise one is generated, printed once and written to DATA_DIR/bootstrap-token (0600).
   */
  async bootstrap(options: { bootstrapToken?: string; dataDir: string; print: (line: string) => void }): Promise<{ operatorAccountId: string; created: boolean }> {
    const operator =
      (await accountsRepo.findOperator(this.db)) ??
      (await accountsRepo.insert(this.db, { parentId: null, type: 'operator', name: 'Operator', updatedBy: 'bootstrap' }));
    if (await tokensRepo.hasActiveOperatorToken(this.db)) return { operatorAccountId: operator.id, created: false };
    const secret = options.bootstrapToken ?? generateSecret();
    await this.issue('bootstrap', operator.id, { role: 'operator', description: 'bootstrap operator token' }, secret);
    if (!options.bootstrapToken) {
      fs.mkdirSync(options.dataDir, { recursive: true });
      const file = path.join(options.dataDir, 'bootstrap-token');
      fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
      fs.chmodSync(file, 0o600);
      options.print(`Operator token (shown once, also written to ${file}): ${secret}`);
    }
    return { operatorAccountId: operator.id, created: true };
  }
}
