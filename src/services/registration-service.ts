import crypto from 'node:crypto';
import type { Executor, Trx } from '../db/database.js';
import type { Knex } from 'knex';
import { usersRepo } from '../db/users-repo.js';
import { SWITCHBOARD_URN } from '../domain/user-rules.js';
import { registrationLinksRepo, type LinkPurpose, type LinkRow } from '../db/registration-links-repo.js';
import type { Clock } from '../lib/clock.js';
import { withDefaults, type AccountSettings } from '../domain/account.js';
import { hashPassword } from './user-service.js';

export type { LinkPurpose, LinkRow };
export const LINK_TTL_MS = 7 * 24 * 3600 * 1000;

const hashToken = (token: string): string => crypto.createHash('sha256').update(token).digest('hex');

export type LinkState = { state: 'valid'; link: LinkRow } | { state: 'gone'; reason: string };

/** One-time links (registration and password reset): random 256-bit tokens, stored hashed, single use. */
export class RegistrationService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
  ) {}

  /** Creates a link in the caller's transaction; returns the token (only ever in the email) and its expiry. */
  async createLink(trx: Executor, accountId: string, userId: string, purpose: LinkPurpose, actionId?: string): Promise<{ token: string; expiresAt: Date }> {
    const token = crypto.randomBytes(32).toString('base64url');
    const expiresAt = new Date(this.clock.now().getTime() + LINK_TTL_MS);
    await registrationLinksRepo.insert(trx, { accountId, userId, purpose, tokenHash: hashToken(token), actionId, expiresAt });
    return { token, expiresAt };
  }

  async lookup(db: Executor, token: string, purpose: LinkPurpose, forUpdate = false): Promise<LinkState> {
    if (!/^[\w-]{20,100}$/.test(token)) return { state: 'gone', reason: 'This link is not valid.' };
    const link = await registrationLinksRepo.findByHash(db, hashToken(token), purpose, { forUpdate });
    if (!link) return { state: 'gone', reason: 'This link is not valid.' };
    if (link.usedAt) return { state: 'gone', reason: 'This link has already been used.' };
    if (link.expiresAt.getTime() <= this.clock.now().getTime()) return { state: 'gone', reason: 'This link has expired.' };
    if (link.purpose === 'reset') {
      const refused = await this.resetRefusal(db, link);
      if (refused) return { state: 'gone', reason: refused };
    }
    return { state: 'valid', link };
  }

  /**
   * The seed's reset rules hold when the link is used, not only when it was sent: a reset is for users with a
   * platform account (one removed since, by deleting a PBX or identity-provider user, comes back only through a
   * welcome email), and on an account that has turned SSO on since, passwords belong to its identity provider.
   */
  private async resetRefusal(db: Executor, link: LinkRow): Promise<string | undefined> {
    const row = await registrationLinksRepo.userFacts(db, link.accountId, link.userId);
    if (!row) return undefined; // consume() answers for a user that no longer exists
    if (withDefaults(row.settings as Partial<AccountSettings> | null).sso) return 'Passwords of this account are managed by its identity provider (single sign-on); reset yours there.';
    if (!row.registered) return 'This user no longer has a platform account, so its password cannot be reset; ask your administrator to send a new welcome email.';
    return undefined;
  }

  check(token: string, purpose: LinkPurpose): Promise<LinkState> {
    return this.lookup(this.db, token, purpose);
  }

  /** Sets the password of the link's user, marks them registered and consumes the link, atomically. */
  async consume(token: string, purpose: LinkPurpose, password: string): Promise<LinkState> {
    const passwordHash = await hashPassword(password);
    return this.db.transaction(async (trx: Trx) => {
      const found = await this.lookup(trx, token, purpose, true);
      if (found.state !== 'valid') return found;
      const { link } = found;
      const user = await usersRepo.findById(trx, link.accountId, link.userId, { forUpdate: true });
      if (!user) return { state: 'gone', reason: 'The user of this link no longer exists.' } as LinkState;
      const now = this.clock.now();
      await usersRepo.setRegistration(trx, link.accountId, link.userId, true, passwordHash, {
        actor: `user:${link.userId}`, writer: 'link', action: purpose === 'register' ? 'user.register' : 'user.password_reset',
        changed: purpose === 'register' ? ['password', `${SWITCHBOARD_URN}:registered`] : ['password'], at: now,
      });
      await registrationLinksRepo.markUsed(trx, link.accountId, link.id, now);
      return found;
    });
  }
}
