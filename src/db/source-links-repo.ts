import type { Executor } from './database.js';
import type { SourceKind } from '../domain/ownership.js';

export interface SourceLink {
  accountId: string;
  userId: string;
  sourceId: string;
  sourceKind: SourceKind;
  anchor: string;
  ownedAttributes: string[];
  attributes: Record<string, unknown>;
  raw: Record<string, unknown>;
  hash: string | null;
  missingSince: Date | null;
}

interface LinkRow {
  account_id: string;
  user_id: string;
  source_id: string;
  source_kind: SourceKind;
  anchor: string;
  owned_attributes: string[];
  attributes: Record<string, unknown>;
  raw: Record<string, unknown>;
  hash: string | null;
  missing_since: Date | null;
}

const toLink = (r: LinkRow): SourceLink => ({
  accountId: r.account_id,
  userId: r.user_id,
  sourceId: r.source_id,
  sourceKind: r.source_kind,
  anchor: r.anchor,
  ownedAttributes: r.owned_attributes ?? [],
  attributes: r.attributes ?? {},
  raw: r.raw ?? {},
  hash: r.hash,
  missingSince: r.missing_since ? new Date(r.missing_since) : null,
});

export const sourceLinksRepo = {
  async forUser(db: Executor, accountId: string, userId: string): Promise<SourceLink[]> {
    return ((await db('user_source_links').where({ account_id: accountId, user_id: userId })) as LinkRow[]).map(toLink);
  },

  async byAnchor(db: Executor, accountId: string, sourceId: string, anchor: string): Promise<SourceLink | undefined> {
    const row = (await db('user_source_links').where({ account_id: accountId, source_id: sourceId, anchor }).first()) as LinkRow | undefined;
    return row ? toLink(row) : undefined;
  },

  async upsert(
    db: Executor,
    link: { accountId: string; userId: string; sourceId: string; sourceKind: SourceKind; anchor: string; ownedAttributes: string[]; attributes: Record<string, unknown>; raw: Record<string, unknown>; hash?: string | null },
    at: Date,
  ): Promise<void> {
    await sourceLinksRepo.upsertMany(db, [{ ...link, at }]);
  },

  /** Links of several users, by user id (users without a link are absent). */
  async forUsers(db: Executor, accountId: string, userIds: readonly string[]): Promise<Map<string, SourceLink[]>> {
    const out = new Map<string, SourceLink[]>();
    if (userIds.length === 0) return out;
    const rows = (await db('user_source_links').where('account_id', accountId).whereRaw('user_id = any(?::uuid[])', [[...userIds]])) as LinkRow[];
    for (const row of rows) {
      const link = toLink(row);
      const list = out.get(link.userId) ?? [];
      list.push(link);
      out.set(link.userId, list);
    }
    return out;
  },

  /** upsert() of several links in one statement; no two of them may share (source, anchor). */
  async upsertMany(
    db: Executor,
    links: readonly { accountId: string; userId: string; sourceId: string; sourceKind: SourceKind; anchor: string; ownedAttributes: string[]; attributes: Record<string, unknown>; raw: Record<string, unknown>; hash?: string | null; at: Date }[],
  ): Promise<void> {
    for (let i = 0; i < links.length; i += 500) {
      await db('user_source_links')
        .insert(
          links.slice(i, i + 500).map((link) => ({
            account_id: link.accountId,
            user_id: link.userId,
            source_id: link.sourceId,
            source_kind: link.sourceKind,
            anchor: link.anchor,
            owned_attributes: link.ownedAttributes,
            attributes: JSON.stringify(link.attributes),
            raw: JSON.stringify(link.raw),
            hash: link.hash ?? null,
            missing_since: null,
            created_at: link.at,
            updated_at: link.at,
          })),
        )
        .onConflict(['account_id', 'source_id', 'anchor'])
        .merge(['user_id', 'owned_attributes', 'attributes', 'raw', 'hash', 'missing_since', 'updated_at']);
    }
  },

  async deleteForUser(db: Executor, accountId: string, userId: string, sourceId: string): Promise<void> {
    await db('user_source_links').where({ account_id: accountId, user_id: userId, source_id: sourceId }).delete();
  },
};
