import { selectRows, type Executor } from './database.js';
import type { Knex } from 'knex';
import { perKeyFrom, perRowFrom } from './key-lookup.js';
import { SharedValues, type Statement } from './statement.js';
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

export interface LinkRow {
  account_id: string;
  user_id: string;
  source_id: string;
  source_kind: SourceKind;
  anchor: string;
  owned_attributes: string[];
  attributes: Record<string, unknown>;
  raw: Record<string, unknown>;
  hash: string | null;
  missing_since: Date | string | null;
}

/** The SQL of a column holding a user's link rows as JSON (`u` is the users row), for reads that want both at once. */
export const linkRowsColumnSql = (alias: string) =>
  `(select coalesce(json_agg(l), '[]'::json) from user_source_links l where l.account_id = ${alias}.account_id and l.user_id = ${alias}.id) as link_rows`;

/** Links from linkRowsColumnSql's JSON (timestamps arrive as text; toLink makes them dates). */
export const linksFromJson = (rows: readonly LinkRow[] | null | undefined): SourceLink[] => (rows ?? []).map(toLink);

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

/**
 * A link to write. `anchorUnlinked`: the caller knows that no link of the source holds the anchor (it looked the
 * anchors up under the source's run lock), so it goes in by a plain insert, which costs the database well under the
 * speculative insert of `on conflict`.
 */
export type LinkWrite = Omit<SourceLink, 'hash' | 'missingSince'> & { hash?: string | null; at: Date; anchorUnlinked?: boolean };

export const sourceLinksRepo = {
  async forUser(db: Executor, accountId: string, userId: string): Promise<SourceLink[]> {
    return ((await db('user_source_links').where({ account_id: accountId, user_id: userId })) as LinkRow[]).map(toLink);
  },

  async byAnchor(db: Executor, accountId: string, sourceId: string, anchor: string): Promise<SourceLink | undefined> {
    const row = (await db('user_source_links').where({ account_id: accountId, source_id: sourceId, anchor }).first()) as LinkRow | undefined;
    return row ? toLink(row) : undefined;
  },

  /** Links of several users, by user id (users without a link are absent). */
  async forUsers(db: Executor, accountId: string, userIds: readonly string[]): Promise<Map<string, SourceLink[]>> {
    const out = new Map<string, SourceLink[]>();
    if (userIds.length === 0) return out;
    const rows = await selectRows<LinkRow>(db, `select p.* from ${perKeyFrom('?::uuid[]', 'select * from user_source_links where account_id = ? and user_id = k.v')}`, [
      [...new Set(userIds)],
      accountId,
    ]);
    for (const row of rows) {
      const link = toLink(row);
      const list = out.get(link.userId) ?? [];
      list.push(link);
      out.set(link.userId, list);
    }
    return out;
  },

  /** upsert() of several links: one statement for the new anchors, one for the others; no two may share (source, anchor). */
  async upsertMany(db: Executor, links: readonly LinkWrite[]): Promise<void> {
    for (const statement of sourceLinksRepo.upsertStatements(links)) await db.raw(statement.sql, statement.bindings as Knex.RawBinding[]);
  },

  /**
   * upsertMany's statements (one or two), to run with others (runAsOne). `attributesFrom`: a statement of the same
   * runAsOne (by its name) whose rows `(id uuid, data jsonb)` hold each link's attributes by user id, so they are
   * not sent again (usersRepo.writePlanned's documents).
   */
  upsertStatements(links: readonly LinkWrite[], attributesFrom?: string): Statement[] {
    // One JSON parameter per statement (jsonb_to_recordset), not one bound value per column and link.
    const attributes = attributesFrom ? 'd.data' : 'v.attributes';
    const join = attributesFrom ? ` join ${attributesFrom} as d on d.id = v.user_id` : '';
    // The owned attributes once per statement (SharedValues): a source's links mostly claim the same ones, about
    // 330 bytes a link of an LDAP source's.
    const statement = (rows: readonly LinkWrite[], onConflict: string): Statement[] => {
      if (rows.length === 0) return [];
      const owned = new SharedValues();
      const json = JSON.stringify(
        rows.map((link) => ({
          account_id: link.accountId, user_id: link.userId, source_id: link.sourceId, source_kind: link.sourceKind, anchor: link.anchor,
          owned: owned.indexOf(link.ownedAttributes, link.ownedAttributes.join('\u0001')), ...(attributesFrom ? {} : { attributes: link.attributes }), raw: link.raw, hash: link.hash ?? null,
          at: link.at.toISOString(),
        })),
      );
      return [
        {
          sql: `insert into user_source_links (account_id, user_id, source_id, source_kind, anchor, owned_attributes, attributes, raw, hash, missing_since, created_at, updated_at)
         select v.account_id, v.user_id, v.source_id, v.source_kind, v.anchor, array(select o.e from jsonb_array_elements_text((?::jsonb) -> v.owned) with ordinality as o(e, n) order by o.n), ${attributes}, v.raw, v.hash, null, v.at, v.at
           from jsonb_to_recordset(?::jsonb) as v(account_id uuid, user_id uuid, source_id uuid, source_kind text, anchor text, owned integer,
                attributes jsonb, raw jsonb, hash text, at timestamptz)${join}${onConflict}`,
          bindings: [owned.binding(), json],
        },
      ];
    };
    return [
      ...statement(links.filter((link) => link.anchorUnlinked === true), ''),
      ...statement(
        links.filter((link) => link.anchorUnlinked !== true),
        `
         on conflict (account_id, source_id, anchor) do update set user_id = excluded.user_id, owned_attributes = excluded.owned_attributes,
                attributes = excluded.attributes, raw = excluded.raw, hash = excluded.hash, missing_since = excluded.missing_since, updated_at = excluded.updated_at`,
      ),
    ];
  },

  /**
   * The users other than `userId` whose link of `sourceId` holds `anchor`, for each move (a statement to run with
   * the write that moves the anchors: its CTEs see the links as they were). One primary-key probe per move
   * (perRowFrom): a join of the moves with the links lets the planner read every link of the account and hash
   * them, which it did on tables no ANALYZE had seen, so each identity provider's POST read the whole account
   * (about 7,600 index tuples a POST at 8,000 users, measured with pg_stat_user_indexes).
   */
  displacedStatement(accountId: string, moves: readonly { userId: string; sourceId: string; anchor: string }[]): Statement {
    return {
      sql: `select distinct p.user_id from ${perRowFrom(
        'jsonb_to_recordset(?::jsonb) as v(user_id uuid, source_id uuid, anchor text)',
        'select l.user_id from user_source_links l where l.account_id = ? and l.source_id = v.source_id and l.anchor = v.anchor',
      )} where p.user_id <> v.user_id`,
      bindings: [JSON.stringify(moves.map((m) => ({ user_id: m.userId, source_id: m.sourceId, anchor: m.anchor }))), accountId],
    };
  },

  /** The users one source links (whose representations change when the source goes). */
  async userIdsOfSource(db: Executor, accountId: string, sourceId: string): Promise<string[]> {
    return (await db('user_source_links').where({ account_id: accountId, source_id: sourceId }).distinct('user_id').pluck('user_id')) as string[];
  },

  async deleteForUser(db: Executor, accountId: string, userId: string, sourceId: string): Promise<void> {
    await db('user_source_links').where({ account_id: accountId, user_id: userId, source_id: sourceId }).delete();
  },
};
