import { usersRepo } from './users-repo.js';
import type { Knex } from 'knex';
import type { Executor } from './database.js';
import { isUuid } from './accounts-repo.js';

export interface StoredGroup {
  accountId: string;
  id: string;
  displayName: string;
  externalId: string | null;
  data: Record<string, unknown>;
  memberCount: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  /** The source that owns the group (its runs alone write it), or null. */
  sourceId: string | null;
  sourceAnchor: string | null;
}

export type ListedGroup = StoredGroup & { sortValue: string | null };

export interface GroupMember {
  value: string;
  type: 'User' | 'Group';
  display: string | null;
}

type Row = Record<string, unknown>;
const columns = ['account_id', 'id', 'display_name', 'external_id', 'data', 'member_count', 'version', 'created_at', 'updated_at', 'source_id', 'source_anchor'];
const toGroup = (r: Row): StoredGroup => ({
  accountId: r.account_id as string,
  id: r.id as string,
  displayName: r.display_name as string,
  externalId: (r.external_id as string | null) ?? null,
  data: (r.data as Record<string, unknown>) ?? {},
  memberCount: r.member_count as number,
  version: r.version as number,
  createdAt: new Date(r.created_at as string),
  updatedAt: new Date(r.updated_at as string),
  sourceId: (r.source_id as string | null) ?? null,
  sourceAnchor: (r.source_anchor as string | null) ?? null,
});

export const groupsRepo = {
  async findById(db: Executor, accountId: string, id: string, forUpdate = false): Promise<StoredGroup | undefined> {
    if (!isUuid(id)) return undefined;
    const q = db('groups').where({ account_id: accountId, id }).first(columns);
    if (forUpdate) q.forUpdate();
    const row = (await q) as Row | undefined;
    return row ? toGroup(row) : undefined;
  },

  /** Members of some groups, with display names, in one query. */
  async members(db: Executor, accountId: string, groupIds: string[]): Promise<Map<string, GroupMember[]>> {
    const map = new Map<string, GroupMember[]>();
    if (groupIds.length === 0) return map;
    const rows = (await db('group_members as m')
      .leftJoin('users as u', function () {
        this.on('u.account_id', 'm.account_id').andOn('u.id', 'm.member_id');
      })
      .leftJoin('groups as g', function () {
        this.on('g.account_id', 'm.account_id').andOn('g.id', 'm.member_id');
      })
      .where('m.account_id', accountId)
      .whereIn('m.group_id', groupIds)
      .orderBy(['m.group_id', 'm.created_at', 'm.member_id'])
      .select('m.group_id', 'm.member_id', 'm.member_type', db.raw('coalesce(u.display_name, u.user_name, g.display_name) as display'))) as Row[];
    for (const r of rows) {
      const list = map.get(r.group_id as string) ?? [];
      list.push({ value: r.member_id as string, type: r.member_type as 'User' | 'Group', display: (r.display as string | null) ?? null });
      map.set(r.group_id as string, list);
    }
    return map;
  },

  async insert(
    db: Executor,
    accountId: string,
    group: { displayName: string; externalId: string | null; data: Record<string, unknown>; updatedBy: string; at: Date; source?: { id: string; anchor: string } },
  ): Promise<StoredGroup> {
    const [row] = (await db('groups')
      .insert({
        account_id: accountId, display_name: group.displayName, external_id: group.externalId, data: JSON.stringify(group.data), updated_by: group.updatedBy, created_at: group.at, updated_at: group.at,
        source_id: group.source?.id ?? null, source_anchor: group.source?.anchor ?? null,
      })
      .returning(columns)) as Row[];
    return toGroup(row);
  },

  /** The groups a source owns, by their anchor there. */
  async ofSource(db: Executor, accountId: string, sourceId: string): Promise<Map<string, StoredGroup>> {
    const rows = (await db('groups').where({ account_id: accountId, source_id: sourceId }).select(columns)) as Row[];
    return new Map(rows.map((r) => [r.source_anchor as string, toGroup(r)]));
  },

  /** Member ids of one group. */
  async memberIds(db: Executor, accountId: string, groupId: string): Promise<Set<string>> {
    return new Set((await db('group_members').where({ account_id: accountId, group_id: groupId }).pluck('member_id')) as string[]);
  },

  async update(db: Executor, current: StoredGroup, changes: { displayName: string; externalId: string | null; data: Record<string, unknown>; updatedBy: string; at: Date }): Promise<void> {
    await db('groups').where({ account_id: current.accountId, id: current.id }).update({
      display_name: changes.displayName,
      external_id: changes.externalId,
      data: JSON.stringify(changes.data),
      version: current.version + 1,
      updated_by: changes.updatedBy,
      updated_at: changes.at,
    });
    // Members show the group's display name (and are ordered by it) in their stored representations.
    if (changes.displayName !== current.displayName) await usersRepo.refreshGroups(db, current.accountId, { membersOf: current.id });
  },

  async delete(db: Executor, accountId: string, id: string): Promise<void> {
    await db('group_members').where({ account_id: accountId, member_id: id }).delete();
    const members = (await db('group_members').where({ account_id: accountId, group_id: id }).delete().returning('member_id')) as { member_id: string }[];
    await db('groups').where({ account_id: accountId, id }).delete();
    await usersRepo.refreshGroups(db, accountId, members.map((m) => m.member_id));
  },

  /** Ids among `ids` that are neither a user nor a group of the account. */
  async unknownMembers(db: Executor, accountId: string, ids: string[]): Promise<string[]> {
    const valid = ids.filter(isUuid);
    const found = new Set<string>();
    if (valid.length > 0) {
      for (const table of ['users', 'groups']) {
        const rows = (await db(table).where('account_id', accountId).whereIn('id', valid).pluck('id')) as string[];
        rows.forEach((id) => found.add(id));
      }
    }
    return ids.filter((id) => !found.has(id));
  },

  async memberTypes(db: Executor, accountId: string, ids: string[]): Promise<Map<string, 'User' | 'Group'>> {
    const map = new Map<string, 'User' | 'Group'>();
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return map;
    for (const id of (await db('groups').where('account_id', accountId).whereIn('id', valid).pluck('id')) as string[]) map.set(id, 'Group');
    for (const id of (await db('users').where('account_id', accountId).whereIn('id', valid).pluck('id')) as string[]) map.set(id, 'User');
    return map;
  },

  async addMembers(db: Executor, accountId: string, groupId: string, members: { id: string; type: 'User' | 'Group' }[]): Promise<void> {
    for (let i = 0; i < members.length; i += 1000) {
      const chunk = members.slice(i, i + 1000);
      await db('group_members')
        .insert(chunk.map((m) => ({ account_id: accountId, group_id: groupId, member_id: m.id, member_type: m.type })))
        .onConflict(['account_id', 'group_id', 'member_id'])
        .ignore();
      await usersRepo.refreshGroups(db, accountId, chunk.filter((m) => m.type === 'User').map((m) => m.id));
    }
  },

  async removeMembers(db: Executor, accountId: string, groupId: string, ids: string[] | 'all'): Promise<void> {
    const q = db('group_members').where({ account_id: accountId, group_id: groupId });
    if (ids !== 'all') q.whereIn('member_id', ids.filter(isUuid));
    const removed = (await q.delete().returning(['member_id', 'member_type'])) as { member_id: string; member_type: string }[];
    await usersRepo.refreshGroups(db, accountId, removed.filter((m) => m.member_type === 'User').map((m) => m.member_id));
  },

  async count(db: Executor, accountId: string, where?: { sql: string; bindings: readonly unknown[] }): Promise<number> {
    const q = db('groups as g').where('g.account_id', accountId);
    if (where) q.whereRaw(where.sql, where.bindings as Knex.RawBinding[]);
    const [{ n }] = (await q.count({ n: '*' })) as { n: number | string }[];
    return Number(n);
  },

  /**
   * A page in a stable order (sort key, then id), by offset or by keyset after a cursor position (RFC 9865), the
   * same order and keyset rule as the users list.
   */
  async list(
    db: Executor,
    accountId: string,
    query: { where?: { sql: string; bindings: readonly unknown[] }; orderBy?: string; descending?: boolean; offset: number; limit: number; after?: { value: string | null; id: string } },
  ): Promise<ListedGroup[]> {
    const order = query.orderBy ?? 'g.created_at';
    const q = db('groups as g').where('g.account_id', accountId).select([...columns.map((c) => `g.${c}`), db.raw(`(${order})::text as sort_value`)]);
    if (query.where) q.whereRaw(query.where.sql, query.where.bindings as Knex.RawBinding[]);
    const dir = query.descending ? 'desc' : 'asc';
    const cmp = query.descending ? '<' : '>';
    if (query.after) {
      const { value, id } = query.after;
      if (value === null) {
        // Nulls sort last ascending and first descending.
        q.whereRaw(query.descending ? `((${order}) is not null or g.id ${cmp} ?::uuid)` : `((${order}) is null and g.id ${cmp} ?::uuid)`, [id]);
      } else {
        q.whereRaw(
          query.descending
            ? `((${order}) ${cmp} ? or ((${order}) = ? and g.id ${cmp} ?::uuid))`
            : `((${order}) ${cmp} ? or ((${order}) = ? and g.id ${cmp} ?::uuid) or (${order}) is null)`,
          [value, value, id],
        );
      }
    }
    q.orderByRaw(`${order} ${dir} ${query.descending ? 'nulls first' : 'nulls last'}, g.id ${dir}`);
    return ((await q.offset(query.offset).limit(query.limit)) as Row[]).map((r) => ({ ...toGroup(r), sortValue: (r.sort_value as string | null) ?? null }));
  },
};
