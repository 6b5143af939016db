import crypto from 'node:crypto';
import argon2 from 'argon2';
import type { Knex } from 'knex';
import { sessionsRepo, type SessionRecord } from '../db/sessions-repo.js';
import { auditRepo } from '../db/audit-repo.js';
import type { Principal, Role } from '../domain/principal.js';
import type { Clock } from '../lib/clock.js';
import type { TokenService } from './token-service.js';

export interface SessionPolicy {
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after sign-in, however used. */
  absoluteMs: number;
}

export const defaultSessionPolicy: SessionPolicy = { idleMs: 30 * 60_000, absoluteMs: 12 * 3600_000 };

/**
 * Failures allowed before the back-off starts: few per email (a guessed password), more per client address (an
 * office behind one NAT address mistyping several accounts), and the ceiling of the wait.
 */
const FREE_FAILURES = { email: 3, address: 20 };
const MAX_DELAY_MS = 15 * 60_000;
/** 1 s after the first failure past the free ones, doubling each time up to 15 minutes. */
export const backoffDelayMs = (failures: number, free: number): number => (failures <= free ? 0 : Math.min(MAX_DELAY_MS, 1000 * 2 ** (failures - free - 1)));

interface FailureKey {
  hash: string;
  free: number;
}
const emailKey = (email: string): FailureKey => ({ hash: sha256(`email:${email.trim().toLowerCase()}`), free: FREE_FAILURES.email });
const addressKey = (address: string): FailureKey => ({ hash: sha256(`address:${address}`), free: FREE_FAILURES.address });

const TOUCH_INTERVAL_MS = 60_000;
/** Ended sessions and old failure counters are kept a day (for the audit's sake), then purged at a sign-in. */
const KEEP_ENDED_MS = 24 * 3600_000;
const sha256 = (value: string): string => crypto.createHash('sha256').update(value).digest('hex');

/**
 * Verifying against this when no account has the email costs what a real check costs, so the answer's timing
 * does not tell whether the email exists either.
 */
let decoyHash: Promise<string> | undefined;
const decoy = (): Promise<string> => (decoyHash ??= argon2.hash(crypto.randomBytes(16).toString('hex'), { type: argon2.argon2id }));

export type SignInResult =
  | { ok: true; secret: string; session: OpenSession }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'backoff'; retryAfterSeconds: number };

export interface OpenSession {
  id: string;
  principal: Principal;
  csrfToken: string;
  userId: string | null;
  expiresAt: Date;
}

/** The one wording of a refused sign-in: it never says whether the email exists. */
export const SIGN_IN_REFUSED = 'The email or password is incorrect, or this account cannot sign in to the console.';

/**
 * Console sessions (README, design decisions): a platform account (an Account Admin of a customer account or a user of a
 * partner account) or an operator's token signs in once; the browser then holds a random secret in an HttpOnly
 * cookie, stored here only as its SHA-256, and a CSRF token it sends back on every request.
 */
export class SessionService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly tokens: TokenService,
    private readonly policy: SessionPolicy = defaultSessionPolicy,
  ) {}

  async signIn(email: string, password: string, address: string): Promise<SignInResult> {
    const keys = [emailKey(email), addressKey(address)];
    const blocked = await this.blocked(keys);
    if (blocked) return blocked;
    const candidates = email.includes('@') ? await sessionsRepo.signInCandidates(this.db, email.trim()) : [];
    let found: (typeof candidates)[number] | undefined;
    for (const candidate of candidates) {
      if (await argon2.verify(candidate.passwordHash, password).catch(() => false)) {
        found = candidate;
        break;
      }
    }
    if (candidates.length === 0) await argon2.verify(await decoy(), password).catch(() => false);
    if (!found) return this.fail(keys);
    // The address key is kept: one good password must not reset the count of guesses at other emails from there.
    await sessionsRepo.clearFailures(this.db, keys[0]!.hash);
    const role: Role = found.accountType === 'partner' ? 'partner-admin' : 'account-admin';
    return this.open({ accountId: found.accountId, accountType: found.accountType, role, userId: found.userId });
  }

  /** Operators (and admins holding a token) sign in with a bearer token of an admin role. */
  async signInWithToken(token: string, address: string): Promise<SignInResult> {
    // Tokens are 256-bit random: only the client address is counted, so no one can lock operators out.
    const keys = [addressKey(address)];
    const blocked = await this.blocked(keys);
    if (blocked) return blocked;
    const principal = await this.tokens.authenticate(token.trim());
    if (!principal || !['operator', 'partner-admin', 'account-admin'].includes(principal.role)) return this.fail(keys);
    return this.open({ accountId: principal.accountId, accountType: principal.accountType, role: principal.role, tokenId: principal.tokenId });
  }

  /** The session of a cookie secret, if still open: not signed out, not idle too long, not past its absolute end. */
  async authenticate(secret: string): Promise<OpenSession | undefined> {
    if (!/^[\w-]{40,100}$/.test(secret)) return undefined;
    const now = this.clock.now();
    const record = await sessionsRepo.findBySecret(this.db, sha256(secret), now);
    if (!record || !record.subjectValid) return undefined;
    if (record.expiresAt.getTime() <= now.getTime()) return undefined;
    if (now.getTime() - record.lastSeenAt.getTime() >= this.policy.idleMs) return undefined;
    if (now.getTime() - record.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) await sessionsRepo.touch(this.db, record.accountId, record.id, now);
    return toOpen(record);
  }

  async signOut(session: OpenSession): Promise<void> {
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      await sessionsRepo.end(trx, session.principal.accountId, session.id, now);
      await auditRepo.record(trx, { accountId: session.principal.accountId, actor: actorOf(session), writer: 'admin', action: 'session.end', targetType: 'Session', targetId: session.id }, now);
    });
  }

  private async open(subject: { accountId: string; accountType: Principal['accountType']; role: Role; userId?: string; tokenId?: string }): Promise<SignInResult> {
    const secret = crypto.randomBytes(32).toString('base64url');
    const csrfToken = crypto.randomBytes(24).toString('base64url');
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.policy.absoluteMs);
    const id = await this.db.transaction(async (trx) => {
      await sessionsRepo.purge(trx, new Date(now.getTime() - KEEP_ENDED_MS));
      const sessionId = await sessionsRepo.insert(trx, { accountId: subject.accountId, secretHash: sha256(secret), csrfToken, role: subject.role, userId: subject.userId, tokenId: subject.tokenId, expiresAt, at: now });
      const actor = subject.userId ? `user:${subject.userId}` : `${subject.role}:${subject.tokenId}`;
      await auditRepo.record(trx, { accountId: subject.accountId, actor, writer: 'admin', action: 'session.start', targetType: 'Session', targetId: sessionId }, now);
      return sessionId;
    });
    const session = toOpen({ id, accountId: subject.accountId, accountType: subject.accountType, role: subject.role, userId: subject.userId ?? null, tokenId: subject.tokenId ?? null, csrfToken, createdAt: now, lastSeenAt: now, expiresAt, subjectValid: true });
    return { ok: true, secret, session };
  }

  private async blocked(keys: FailureKey[]): Promise<SignInResult | undefined> {
    const now = this.clock.now().getTime();
    let until = 0;
    for (const key of keys) {
      const state = await sessionsRepo.failures(this.db, key.hash);
      if (state && state.blockedUntil.getTime() > now) until = Math.max(until, state.blockedUntil.getTime());
    }
    return until > 0 ? { ok: false, reason: 'backoff', retryAfterSeconds: Math.ceil((until - now) / 1000) } : undefined;
  }

  private async fail(keys: FailureKey[]): Promise<SignInResult> {
    const now = this.clock.now();
    for (const key of keys) await sessionsRepo.recordFailure(this.db, key.hash, now, (n) => backoffDelayMs(n, key.free));
    return { ok: false, reason: 'invalid' };
  }
}

/**
 * A session acts as its subject's role; `tokenId` names the session for Modified By and the audit log
 * (`account-admin:<session id>`), as a token's id does.
 */
function toOpen(record: SessionRecord): OpenSession {
  return {
    id: record.id,
    principal: { tokenId: record.tokenId ?? record.id, accountId: record.accountId, accountType: record.accountType, role: record.role, session: true },
    csrfToken: record.csrfToken,
    userId: record.userId,
    expiresAt: record.expiresAt,
  };
}

const actorOf = (s: OpenSession): string => (s.userId ? `user:${s.userId}` : `${s.principal.role}:${s.principal.tokenId}`);
