import type { Executor } from './database.js';

/** One-time links (registration and password reset), stored by the SHA-256 of their token. */
export type LinkPurpose = 'register' | 'reset';

export interface LinkRow {
  accountId: string;
  id: string;
  userId: string;
  purpose: LinkPurpose;
  expiresAt: Date;
  usedAt: Date | null;
}

/** What the reset rules need to know about a link's user when the link is used. */
export interface LinkUserFacts {
  registered: boolean;
  settings: Record<string, unknown> | null;
}

const toLink = (row: Record<string, unknown>): LinkRow => ({
  accountId: row.account_id as string,
  id: row.id as string,
  userId: row.user_id as string,
  purpose: row.purpose as LinkPurpose,
  expiresAt: new Date(row.expires_at as string),
  usedAt: row.used_at ? new Date(row.used_at as string) : null,
});

export const registrationLinksRepo = {
  async insert(db: Executor, link: { accountId: string; userId: string; purpose: LinkPurpose; tokenHash: string; actionId?: string; expiresAt: Date }): Promise<void> {
    await db('registration_links').insert({
      account_id: link.accountId,
      user_id: link.userId,
      purpose: link.purpose,
      token_hash: link.tokenHash,
      action_id: link.actionId ?? null,
      expires_at: link.expiresAt,
    });
  },

  async findByHash(db: Executor, tokenHash: string, purpose: LinkPurpose, options: { forUpdate?: boolean } = {}): Promise<LinkRow | undefined> {
    const q = db('registration_links').where({ token_hash: tokenHash, purpose }).first();
    if (options.forUpdate) q.forUpdate();
    const row = (await q) as Record<string, unknown> | undefined;
    return row ? toLink(row) : undefined;
  },

  async markUsed(db: Executor, accountId: string, id: string, at: Date): Promise<void> {
    await db('registration_links').where({ account_id: accountId, id }).update({ used_at: at });
  },

  /** The link's user's platform account and its account's settings; undefined when the user is gone. */
  async userFacts(db: Executor, accountId: string, userId: string): Promise<LinkUserFacts | undefined> {
    return (await db('users as u')
      .join('accounts as a', 'a.id', 'u.account_id')
      .where({ 'u.account_id': accountId, 'u.id': userId })
      .first('u.registered', 'a.settings')) as LinkUserFacts | undefined;
  },
};
