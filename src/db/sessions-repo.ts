import type { AccountType, Role } from '../domain/principal.js';
import type { Executor } from './database.js';

/** A console session as the edge needs it: who it acts as and what still holds it open. */
export interface SessionRecord {
  id: string;
  accountId: string;
  accountType: AccountType;
  role: Role;
  userId: string | null;
  tokenId: string | null;
  csrfToken: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  /** The session's subject still qualifies: the platform account still registered and an admin, or the token still valid. */
  subjectValid: boolean;
}

export interface NewSession {
  accountId: string;
  secretHash: string;
  csrfToken: string;
  role: Role;
  userId?: string;
  tokenId?: string;
  expiresAt: Date;
  at: Date;
}

/** A platform account that may sign in: registered, with a password, an admin of a customer or in a partner account. */
export interface SignInCandidate {
  accountId: string;
  accountType: AccountType;
  userId: string;
  passwordHash: string;
}

export const sessionsRepo = {
  async insert(db: Executor, s: NewSession): Promise<string> {
    const [row] = (await db('console_sessions')
      .insert({
        account_id: s.accountId,
        secret_hash: s.secretHash,
        csrf_token: s.csrfToken,
        role: s.role,
        user_id: s.userId ?? null,
        token_id: s.tokenId ?? null,
        created_at: s.at,
        last_seen_at: s.at,
        expires_at: s.expiresAt,
      })
      .returning('id')) as { id: string }[];
    return row!.id;
  },

  /**
   * The open session of a cookie secret, with its subject checked in the same statement: a user who lost the
   * Account Admin role, the platform account or the user itself, or a revoked token, ends the session at once.
   */
  async findBySecret(db: Executor, secretHash: string, now: Date): Promise<SessionRecord | undefined> {
    const row = (await db('console_sessions as s')
      .join('accounts as a', 'a.id', 's.account_id')
      .leftJoin('users as u', function () {
        this.on('u.account_id', 's.account_id').andOn('u.id', 's.user_id');
      })
      .leftJoin('tokens as t', function () {
        this.on('t.account_id', 's.account_id').andOn('t.id', 's.token_id');
      })
      .where('s.secret_hash', secretHash)
      .whereNull('s.ended_at')
      .first(
        's.id',
        's.account_id',
        'a.type as account_type',
        's.role',
        's.user_id',
        's.token_id',
        's.csrf_token',
        's.created_at',
        's.last_seen_at',
        's.expires_at',
        db.raw(
          `case when s.user_id is not null then coalesce(u.registered and u.password_hash is not null and ((u.account_admin and a.type = 'customer') or a.type = 'partner'), false)
                else coalesce(t.revoked_at is null and (t.expires_at is null or t.expires_at > ?), false) end as subject_valid`,
          [now],
        ),
      )) as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return {
      id: row.id as string,
      accountId: row.account_id as string,
      accountType: row.account_type as AccountType,
      role: row.role as Role,
      userId: (row.user_id as string | null) ?? null,
      tokenId: (row.token_id as string | null) ?? null,
      csrfToken: row.csrf_token as string,
      createdAt: new Date(row.created_at as string),
      lastSeenAt: new Date(row.last_seen_at as string),
      expiresAt: new Date(row.expires_at as string),
      subjectValid: row.subject_valid === true,
    };
  },

  async touch(db: Executor, accountId: string, id: string, at: Date): Promise<void> {
    await db('console_sessions').where({ account_id: accountId, id }).update({ last_seen_at: at });
  },

  async end(db: Executor, accountId: string, id: string, at: Date): Promise<void> {
    await db('console_sessions').where({ account_id: accountId, id }).whereNull('ended_at').update({ ended_at: at });
  },

  /**
   * Forgets sessions that ended (signed out or past their absolute end) before `before`, and back-off counters
   * whose wait ended before it: neither can matter any more, and nothing else would ever remove them.
   */
  async purge(db: Executor, before: Date): Promise<void> {
    await db('console_sessions').where('expires_at', '<', before).orWhere('ended_at', '<', before).delete();
    await db('sign_in_failures').where('blocked_until', '<', before).delete();
  },

  /** Platform accounts with this email (compared case-insensitively) that may sign in to the console, oldest first. */
  async signInCandidates(db: Executor, email: string): Promise<SignInCandidate[]> {
    const rows = (await db('users as u')
      .join('accounts as a', 'a.id', 'u.account_id')
      .whereRaw('lower(u.primary_email) = lower(?)', [email])
      .whereNotNull('u.password_hash')
      .where('u.registered', true)
      .where((q) => q.where((c) => c.where('u.account_admin', true).andWhere('a.type', 'customer')).orWhere('a.type', 'partner'))
      .orderBy('u.created_at')
      .select('u.account_id', 'a.type', 'u.id', 'u.password_hash')) as { account_id: string; type: AccountType; id: string; password_hash: string }[];
    return rows.map((r) => ({ accountId: r.account_id, accountType: r.type, userId: r.id, passwordHash: r.password_hash }));
  },

  /** The back-off state of a sign-in key: failures so far and when the next attempt may be checked. */
  async failures(db: Executor, keyHash: string): Promise<{ failures: number; blockedUntil: Date } | undefined> {
    const row = (await db('sign_in_failures').where({ key_hash: keyHash }).first('failures', 'blocked_until')) as { failures: number; blocked_until: string } | undefined;
    return row ? { failures: row.failures, blockedUntil: new Date(row.blocked_until) } : undefined;
  },

  /** Counts one more failure and sets the next allowed attempt from the new count (`delayMs(failures)`). */
  async recordFailure(db: Executor, keyHash: string, at: Date, delayMs: (failures: number) => number): Promise<void> {
    const current = await sessionsRepo.failures(db, keyHash);
    const failures = (current?.failures ?? 0) + 1;
    const blockedUntil = new Date(at.getTime() + delayMs(failures));
    await db('sign_in_failures')
      .insert({ key_hash: keyHash, failures, last_failed_at: at, blocked_until: blockedUntil })
      .onConflict('key_hash')
      .merge({ failures, last_failed_at: at, blocked_until: blockedUntil });
  },

  async clearFailures(db: Executor, keyHash: string): Promise<void> {
    await db('sign_in_failures').where({ key_hash: keyHash }).delete();
  },
};
