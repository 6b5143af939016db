import type { Knex } from 'knex';
import { selectRows, type Executor } from './database.js';
import { perKeyFrom } from './key-lookup.js';
import { runAsOne, SharedValues, type Statement } from './statement.js';
import { auditRepo } from './audit-repo.js';
import type { AuditWriter } from '../domain/audit.js';
import { sourceLinksRepo } from './source-links-repo.js';
import { derivedColumns, extensionsOf, valueRowsOf, type UniqueHolder, type UniqueValue } from '../domain/user-document.js';
import type { PlannedWrite } from '../domain/write-plan.js';
import { linkState, storedUserResource } from '../domain/user-resource.js';
import { linkRowsColumnSql, linksFromJson, type LinkRow, type SourceLink } from './source-links-repo.js';
import { isUuid, userCountSql } from './accounts-repo.js';
import type { Abandonment } from '../lib/abandonment.js';
import type { ExportedUser } from '../domain/user-csv.js';

export type JsonObject = Record<string, unknown>;
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';

/** A stored user: the SCIM document plus the server-kept state around it. */
export interface StoredUser {
  accountId: string;
  id: string;
  doc: JsonObject;
  registered: boolean;
  source: string;
  passwordHash: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: string | null;
}

/** Read side extras for output: group memberships and source links (for lockedAttributes). */
export interface UserView extends StoredUser {
  groups: { value: string; display: string }[];
  links: { sourceId: string; kind: string; ownedAttributes: string[]; anchor: string; raw?: unknown }[];
}

interface UserRow {
  account_id: string;
  id: string;
  data: JsonObject;
  registered: boolean;
  source: string;
  password_hash: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  updated_by: string | null;
  groups?: { value: string; display: string }[] | null;
  links?: { sourceId: string; kind: string; ownedAttributes: string[]; anchor: string }[] | null;
}

const baseColumns = ['account_id', 'id', 'data', 'registered', 'source', 'password_hash', 'version', 'created_at', 'updated_at', 'updated_by'];

// Both drivers parse timestamptz into Date already; copy only what is not one.
const asDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

function toStored(row: UserRow): StoredUser {
  return {
    accountId: row.account_id,
    id: row.id,
    doc: row.data,
    registered: row.registered,
    source: row.source,
    passwordHash: row.password_hash,
    version: row.version,
    createdAt: asDate(row.created_at),
    updatedAt: asDate(row.updated_at),
    updatedBy: row.updated_by,
  };
}

function toView(row: UserRow): UserView {
  return { ...toStored(row), groups: row.groups ?? [], links: row.links ?? [] };
}

/** A user's direct groups as JSON `[{ value, display }]` in display-name order: the view's and the stored representation's. */
const groupsOfSql = (alias: string) => `(select coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) order by g.display_name, g.id), '[]'::json)
        from group_members gm join groups g on g.account_id = gm.account_id and g.id = gm.group_id
        where gm.account_id = ${alias}.account_id and gm.member_id = ${alias}.id)`;

/** The SQL of the output columns: the row plus groups and links as JSON, in the same round trip. */
function viewColumnsSql(alias: string, withGroups: boolean, withRaw = false): string[] {
  const cols = baseColumns.map((c) => `${alias}.${c}`);
  if (withGroups) cols.push(`${groupsOfSql(alias)} as groups`);
  cols.push(`(select coalesce(json_agg(json_build_object('sourceId', l.source_id, 'kind', l.source_kind, 'ownedAttributes', l.owned_attributes, 'anchor', l.anchor${withRaw ? ", 'raw', l.raw" : ''})), '[]'::json)
      from user_source_links l where l.account_id = ${alias}.account_id and l.user_id = ${alias}.id) as links`);
  return cols;
}

/**
 * findView's statement, written once per (withGroups, withRaw): the hottest read (GET /Users/{id}) then costs a
 * raw query, not a knex build and compile of the same SQL on every call.
 */
const findViewSql = new Map<string, string>();
function findViewStatement(withGroups: boolean, withRaw: boolean): string {
  const key = `${withGroups}|${withRaw}`;
  let sql = findViewSql.get(key);
  if (sql === undefined) {
    sql = `select ${viewColumnsSql('u', withGroups, withRaw).join(', ')} from users as u where u.account_id = ? and u.id = ? limit 1`;
    findViewSql.set(key, sql);
  }
  return sql;
}

/**
 * Rows of one table inserted from one JSON parameter (`jsonb_to_recordset`: parsed once, its jsonb values handed to jsonb columns as they are): one bound value per statement instead
 * of one per column and row, so neither knex nor the server handles thousands of parameters per batch, and the
 * statement's text is the same for one user and for a thousand.
 */
function recordsetInsert(table: string, columns: readonly (readonly [name: string, type: string])[], rows: readonly Record<string, unknown>[]): Statement[] {
  if (rows.length === 0) return [];
  const names = columns.map(([name]) => name).join(', ');
  return [
    {
      sql: `insert into ${table} (${names}) select ${names} from jsonb_to_recordset(?::jsonb) as v(${columns.map(([name, type]) => `${name} ${type}`).join(', ')})`,
      bindings: [JSON.stringify(rows)],
    },
  ];
}

const VALUE_ROW_COLUMNS = [['account_id', 'uuid'], ['user_id', 'uuid'], ['position', 'integer'], ['value', 'text'], ['type', 'text'], ['is_primary', 'boolean']] as const;

/**
 * Deletes the value rows of these users: the rows are found by one index probe per user (perKeyFrom) and deleted
 * by their row ids, since a delete cannot take a lateral probe and `user_id = any(?)` may read the whole account.
 */
function deleteRowsOfUsers(table: 'user_emails' | 'user_phone_numbers' | 'user_extensions', accountId: string, userIds: readonly string[]): Statement[] {
  if (userIds.length === 0) return [];
  return [
    {
      sql: `delete from ${table} where ctid = any(array(select p.ctid from ${perKeyFrom('?::uuid[]', `select ctid from ${table} where account_id = ? and user_id = k.v`)}))`,
      bindings: [[...userIds], accountId],
    },
  ];
}

/** The derived columns and their SQL types, as `jsonb_to_recordset` reads them. */
const DERIVED_COLUMNS = [
  ['user_name', 'text'], ['external_id', 'text'], ['display_name', 'text'], ['given_name', 'text'], ['family_name', 'text'], ['active', 'boolean'],
  ['primary_email', 'text'], ['sms_number', 'text'], ['account_admin', 'boolean'],
] as const;

const DERIVED_COLUMN_NAMES = DERIVED_COLUMNS.map(([name]) => name).join(', ');
const DERIVED_COLUMN_TYPES = DERIVED_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ');

/**
 * The documents of one writePlanned statement (each write's next document, by user id), sent and parsed once: the
 * users row (`data`), its stored representation (`resource`, as a delta over the document: resourceInsert) and the
 * source link (`attributes`) all read theirs from this CTE. Sent three times over, the document was serialised
 * three times by Node and parsed twice each time by the server (json_to_recordset, then the jsonb column); as one
 * jsonb parameter it is parsed once, and jsonb_to_recordset hands its values to jsonb columns as they are.
 */
const DOCS_CTE = 'written_docs';

function docsStatement(writes: readonly PlannedWrite<StoredUser>[]): Statement {
  return { name: DOCS_CTE, sql: 'select id, data from jsonb_to_recordset(?::jsonb) as v(id uuid, data jsonb)', bindings: [JSON.stringify(writes.map((w) => ({ id: w.id, data: w.next })))] };
}

/**
 * How `target` differs from `base` at the top level: the keys it lacks (`drop`) and the values it holds that are
 * not `base`'s own (`extra`, compared by identity: a representation made by spreading the document shares its
 * values), so that `(base - drop) || extra` is `target` in SQL.
 */
function topLevelDelta(base: JsonObject, target: JsonObject): { drop: string[]; extra: JsonObject } {
  const drop = Object.keys(base).filter((k) => !(k in target));
  const extra: JsonObject = {};
  for (const [k, v] of Object.entries(target)) if (base[k] !== v) extra[k] = v;
  return { drop, extra };
}

/**
 * A representation's lockedAttributes sent once per statement: the users a source writes share one value
 * (user-resource.ts gives equal claims the same array), about 1.2 KB a user of an LDAP source's, which each row
 * sent again, a quarter of what a full sync sent per user. The rows carry an index into the statement's array
 * (`v.locks`, null for none) and SQL puts the value back in the Switchboard extension; stored-resource.test.ts holds
 * the result to the plain rendering.
 */
class SharedLocks {
  private readonly shared = new SharedValues();

  /** The representation without its lockedAttributes, and their index in this statement's array. */
  take(resource: JsonObject): { resource: JsonObject; locks: number | null } {
    const ext = resource[SWITCHBOARD] as JsonObject | undefined;
    if (!ext || ext.lockedAttributes === undefined) return { resource, locks: null };
    const { lockedAttributes, ...rest } = ext;
    return { resource: { ...resource, [SWITCHBOARD]: rest }, locks: this.shared.indexOf(lockedAttributes) };
  }

  /** The statement's array, bound where `withLocks` puts its placeholder. */
  binding(): string {
    return this.shared.binding();
  }
}

/** `resource` (SQL) with the row's lockedAttributes put back from the statement's array (one placeholder: SharedLocks.binding). */
function withLocks(resource: string): string {
  return `case when v.locks is null then ${resource} else jsonb_set(${resource}, '{${SWITCHBOARD},lockedAttributes}'::text[], (?::jsonb) -> v.locks) end`;
}

const USERS_INSERT_SQL = `insert into users (account_id, id, ${DERIVED_COLUMN_NAMES}, data, resource, source, password_hash, updated_by, created_at, updated_at)
  select v.account_id, v.id, ${DERIVED_COLUMN_NAMES.split(', ').map((c) => `v.${c}`).join(', ')}, d.data, ${withLocks('((d.data - v.resource_drop) || v.resource_extra)')},
         v.source, v.password_hash, v.updated_by, v.created_at, v.updated_at
    from jsonb_to_recordset(?::jsonb) as v(account_id uuid, id uuid, ${DERIVED_COLUMN_TYPES}, resource_drop text[], resource_extra jsonb, locks integer, source text, password_hash text,
         updated_by text, created_at timestamptz, updated_at timestamptz)
    join ${DOCS_CTE} as d on d.id = v.id`;

/** New users' rows, their documents and representations from DOCS_CTE. */
function usersInsert(accountId: string, inserts: readonly PlannedWrite<StoredUser>[], resources: ReadonlyMap<string, JsonObject>): Statement[] {
  if (inserts.length === 0) return [];
  const shared = new SharedLocks();
  const rows = inserts.map((w) => {
    const { resource, locks } = shared.take(resources.get(w.id)!);
    const { drop, extra } = topLevelDelta(w.next, resource);
    return {
      account_id: accountId, id: w.id, ...derivedColumns(w.next), resource_drop: drop, resource_extra: extra, locks, source: w.source, password_hash: w.passwordHash ?? null, updated_by: w.updatedBy,
      created_at: w.at.toISOString(), updated_at: w.at.toISOString(),
    };
  });
  return [{ sql: USERS_INSERT_SQL, bindings: [shared.binding(), JSON.stringify(rows)] }];
}


/**
 * `resource = v.resource` with the groups the row's stored representation already holds: group memberships are
 * not the user write's to change (groups-repo keeps them, through refreshGroups), so the write renders none.
 */
const KEEP_GROUPS = `resource = v.resource || jsonb_build_object('groups', coalesce(u.resource->'groups', '[]'::jsonb))`;

/** The stored representations of users whose row does not change but whose links do (a source claiming other attributes). */
const RESOURCES_UPDATE_SQL = `update users as u set ${KEEP_GROUPS} from jsonb_to_recordset(?::jsonb) as v(id uuid, resource jsonb) where u.account_id = ? and u.id = v.id`;

const USERS_UPDATE_SQL = `update users as u set user_name = v.user_name, external_id = v.external_id, display_name = v.display_name, given_name = v.given_name,
       family_name = v.family_name, active = v.active, primary_email = v.primary_email, sms_number = v.sms_number,
       account_admin = v.account_admin, data = v.data, ${KEEP_GROUPS.replace('v.resource', withLocks('v.resource'))}, version = v.version, updated_by = v.updated_by, updated_at = v.updated_at,
       password_hash = case when v.set_password then v.password_hash else u.password_hash end,
       registered = case when v.set_registered then v.registered else u.registered end
  from jsonb_to_recordset(?::jsonb) as v(id uuid, user_name text, external_id text, display_name text, given_name text, family_name text,
       active boolean, primary_email text, sms_number text, account_admin boolean, data jsonb, resource jsonb, locks integer, version integer, updated_by text, updated_at timestamptz,
       set_password boolean, password_hash text, set_registered boolean, registered boolean)
 where u.account_id = ? and u.id = v.id
 returning u.id, u.resource->'groups' as groups`;

/** What an update of users rows returns: each row's id and the groups its stored representation kept (KEEP_GROUPS). */
interface UpdatedRow {
  id: string;
  groups: { value: string; display: string }[] | null;
}

function usersUpdate(accountId: string, writes: readonly PlannedWrite<StoredUser>[], resources: ReadonlyMap<string, JsonObject>): Statement {
  const shared = new SharedLocks();
  const rows = writes.map((w) => ({
    id: w.id, ...derivedColumns(w.next), data: w.next, ...shared.take(resources.get(w.id)!), version: w.current!.version + 1, updated_by: w.updatedBy, updated_at: w.at.toISOString(),
    set_password: w.passwordHash !== undefined, password_hash: w.passwordHash ?? null, set_registered: w.registered !== undefined, registered: w.registered ?? null,
  }));
  return { sql: USERS_UPDATE_SQL, bindings: [shared.binding(), JSON.stringify(rows), accountId] };
}

function resourceOnlyUpdates(accountId: string, writes: readonly PlannedWrite<StoredUser>[]): Statement[] {
  const rows = writes.filter((w) => w.user === 'none' && linksChangeResource(w)).map((w) => ({ id: w.id, resource: resourceOf(accountId, w) }));
  return rows.length === 0 ? [] : [{ sql: RESOURCES_UPDATE_SQL, bindings: [JSON.stringify(rows), accountId] }];
}

/** The users-table unique keys of a document (userName, SMS number): one statement cannot hand them from one row to another. */
function rowKeysOf(doc: JsonObject): string[] {
  const cols = derivedColumns(doc);
  return [`u:${cols.user_name.toLowerCase()}`, ...(cols.sms_number !== null ? [`s:${cols.sms_number}`] : [])];
}

/** The stored user a planned write leaves, known without reading it back. */
function storedOf(accountId: string, w: PlannedWrite<StoredUser>): StoredUser {
  const at = new Date(w.at.getTime());
  if (!w.current) {
    return { accountId, id: w.id, doc: w.next, registered: false, source: w.source, passwordHash: w.passwordHash ?? null, version: 1, createdAt: at, updatedAt: at, updatedBy: w.updatedBy };
  }
  if (w.user === 'none') return w.current;
  return {
    ...w.current, doc: w.next, version: w.current.version + 1, updatedAt: at, updatedBy: w.updatedBy,
    ...(w.passwordHash !== undefined ? { passwordHash: w.passwordHash } : {}),
    ...(w.registered !== undefined ? { registered: w.registered } : {}),
  };
}

/** A write's links once written: its current links with its own (`link`) in place of its source's. */
function linksAfter(w: PlannedWrite<StoredUser>): { sourceId: string; kind: string; ownedAttributes: readonly string[]; anchor: string }[] {
  const links = w.links.filter((l) => !w.link || l.sourceId !== w.link.sourceId).map((l) => ({ sourceId: l.sourceId, kind: l.sourceKind, ownedAttributes: l.ownedAttributes, anchor: l.anchor }));
  if (w.link) links.push({ sourceId: w.link.sourceId, kind: w.link.sourceKind, ownedAttributes: w.link.ownedAttributes, anchor: w.link.anchor });
  return links;
}

/** The stored representation a write leaves, its groups aside (KEEP_GROUPS: a new user has none). */
function resourceOf(accountId: string, w: PlannedWrite<StoredUser>): JsonObject {
  return storedUserResource({ ...storedOf(accountId, w), groups: [], links: linksAfter(w) });
}

/** Whether a write that leaves the row as it is changes what its links put in the representation. */
function linksChangeResource(w: PlannedWrite<StoredUser>): boolean {
  if (!w.link) return false;
  const before = w.links.map((l) => ({ sourceId: l.sourceId, kind: l.sourceKind, ownedAttributes: l.ownedAttributes, anchor: l.anchor }));
  return JSON.stringify(linkState(before)) !== JSON.stringify(linkState(linksAfter(w)));
}

/** What writePlanned stored for a user: when its row was written, its stored representation too (complete: the groups are those the row kept). */
export type WrittenUser = StoredUser & { resource?: JsonObject };

/** A stored representation and the version it is at (for the ETag, without reading it out of the document). */
export interface StoredResource {
  id: string;
  version: number;
  resource: JsonObject;
}

export interface ListQuery {
  where?: { sql: string; bindings: readonly unknown[] };
  /** SQL expression to order by (already case-folded where needed), default created_at. */
  orderBy?: string;
  descending?: boolean;
  offset?: number;
  limit: number;
  /** Keyset: continue after this (sort value as text, id). */
  after?: { value: string | null; id: string };
  withGroups: boolean;
  /** The request's abandonedSignal: its statement is cancelled when the client goes away. */
  abandoned?: Abandonment;
}

export type ListedUser = UserView & { sortValue: string | null };
export type ListedResource = StoredResource & { sortValue: string | null };
/** A row of the CSV export (ExportedUser in domain/user-csv.ts) with its place in the list. */
export type ListedExport = ExportedUser & { id: string; sortValue: string | null };

export interface CountOptions {
  abandoned?: Abandonment;
  /**
   * Count at most this many matches and one more, so that more than `limit` shows: the scan stops there. Measured
   * at 100,000 users on the loaded 2-core machine, the console's search "ma" (14,765 matches) counted in 499 ms,
   * and at most 1,001 of them in 38 ms ("ana", 1,279 matches: 482 → 34 ms).
   */
  limit?: number;
}

/** The count of users matching `where` as a select expression (its own `u`, so `where` binds to it, not to a page's). */
function countSql(accountId: string, where: ListQuery['where'], limit: number | undefined): { sql: string; bindings: readonly unknown[] } {
  if (!where) return { sql: userCountSql('?::uuid'), bindings: [accountId] };
  const matches = `select 1 from users as u where u.account_id = ? and (${where.sql})`;
  return limit === undefined
    ? { sql: `(select count(*) from (${matches}) as c)`, bindings: [accountId, ...where.bindings] }
    : { sql: `(select count(*) from (${matches} limit ?) as c)`, bindings: [accountId, ...where.bindings, limit + 1] };
}

/** The statement of a page of `list` with these output columns (the count and the sort value are added). */
function pageStatement(accountId: string, query: ListQuery, columns: string): { sql: string; bindings: unknown[] } {
  const order = query.orderBy ?? 'u.created_at';
  const dir = query.descending ? 'desc' : 'asc';
  const orderBy = `order by ${order} ${dir} ${query.descending ? 'nulls first' : 'nulls last'}, u.id ${dir}`;
  const output = `${columns}, (${order})::text as sort_value`;
  const conditions = ['u.account_id = ?'];
  const bindings: unknown[] = [accountId];
  if (query.where) {
    conditions.push(`(${query.where.sql})`);
    bindings.push(...query.where.bindings);
  }
  if (query.after) {
    const cmp = query.descending ? '<' : '>';
    const { value, id } = query.after;
    if (!query.orderBy) {
      // The default order is never null: a row comparison walks users_account_id_created_at_idx directly.
      conditions.push(`(u.created_at, u.id) ${cmp} (?::timestamptz, ?::uuid)`);
      bindings.push(value, id);
    } else if (value === null) {
      // Nulls sort last ascending and first descending.
      conditions.push(query.descending ? `((${order}) is not null or u.id ${cmp} ?::uuid)` : `((${order}) is null and u.id ${cmp} ?::uuid)`);
      bindings.push(id);
    } else {
      conditions.push(
        query.descending
          ? `((${order}) ${cmp} ? or ((${order}) = ? and u.id ${cmp} ?::uuid))`
          : `((${order}) ${cmp} ? or ((${order}) = ? and u.id ${cmp} ?::uuid) or (${order}) is null)`,
      );
      bindings.push(value, value, id);
    }
  }
  const head = `select ${output}`;
  if (query.offset) {
    // Skip on bare rows first: the output subselects (groups, links) then run for the page only, not the offset.
    return {
      sql: `${head} from users as u where u.account_id = ? and u.id in (select u.id from users as u where ${conditions.join(' and ')} ${orderBy} offset ? limit ?) ${orderBy}`,
      bindings: [accountId, ...bindings, query.offset, query.limit],
    };
  }
  return { sql: `${head} from users as u where ${conditions.join(' and ')} ${orderBy} limit ?`, bindings: [...bindings, query.limit] };
}

export const usersRepo = {
  async findById(db: Executor, accountId: string, id: string, options: { forUpdate?: boolean } = {}): Promise<StoredUser | undefined> {
    if (!isUuid(id)) return undefined;
    const query = db('users').where({ account_id: accountId, id }).first(baseColumns);
    if (options.forUpdate) query.forUpdate();
    const row = (await query) as UserRow | undefined;
    return row ? toStored(row) : undefined;
  },

  /** The row under a lock (FOR UPDATE) with its source links, in one round trip: what a PUT or PATCH starts from. */
  async findForUpdateWithLinks(db: Executor, accountId: string, id: string): Promise<{ user: StoredUser; links: SourceLink[] } | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = (await db.raw(`select ${baseColumns.map((c) => `u.${c}`).join(', ')}, ${linkRowsColumnSql('u')} from users as u where u.account_id = ? and u.id = ? for update of u`, [
      accountId,
      id,
    ])) as { rows: (UserRow & { link_rows: LinkRow[] | null })[] };
    const row = rows[0];
    return row ? { user: toStored(row), links: linksFromJson(row.link_rows) } : undefined;
  },

  async findView(db: Executor, accountId: string, id: string, withGroups = true, withRaw = false): Promise<UserView | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await selectRows<UserRow>(db, findViewStatement(withGroups, withRaw), [accountId, id]);
    return rows[0] ? toView(rows[0]) : undefined;
  },

  /**
   * Writes planned users (domain/write-plan.ts) of one account: their rows, value rows, source links and audit
   * entries, in the caller's transaction, and returns what each stored, in the order given. The plan guarantees
   * that no two writes are for one user or one source anchor and that unique values are free in write order.
   *
   * Round trips: the value rows that a write replaces are deleted first (a delete and the insert replacing it
   * cannot share a statement); then everything else goes as one statement (data-modifying CTEs, runAsOne), the
   * same statement for one user as for a thousand (one JSON recordset per table). Updates that hand a users-table
   * unique value (userName, SMS number) from one row to another go in order in statements of their own, since one
   * statement checks those indexes row by row in no set order.
   */
  async writePlanned(db: Executor, accountId: string, writes: readonly PlannedWrite<StoredUser>[]): Promise<WrittenUser[]> {
    if (writes.length === 0) return [];
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const stale = { user_emails: [] as string[], user_phone_numbers: [] as string[], user_extensions: [] as string[] };
    const emailRows: Record<string, unknown>[] = [];
    const phoneRows: Record<string, unknown>[] = [];
    const extensionRows: Record<string, unknown>[] = [];
    for (const w of writes) {
      if (w.user === 'none') continue;
      const before = w.current?.doc;
      for (const [attribute, table, rows] of [['emails', 'user_emails', emailRows], ['phoneNumbers', 'user_phone_numbers', phoneRows]] as const) {
        if (before && same(before[attribute], w.next[attribute])) continue;
        if (before) stale[table].push(w.id);
        for (const r of valueRowsOf(w.next, attribute)) rows.push({ account_id: accountId, user_id: w.id, ...r });
      }
      const extensions = extensionsOf(w.next);
      if (before && same(extensionsOf(before), extensions)) continue;
      if (before) stale.user_extensions.push(w.id);
      for (const number of extensions) extensionRows.push({ account_id: accountId, user_id: w.id, number });
    }
    const deletes = [
      ...deleteRowsOfUsers('user_emails', accountId, stale.user_emails),
      ...deleteRowsOfUsers('user_phone_numbers', accountId, stale.user_phone_numbers),
      ...deleteRowsOfUsers('user_extensions', accountId, stale.user_extensions),
    ];
    if (deletes.length > 0) await runAsOne(db, deletes);

    // Updates in chunks: a new chunk where an update takes a users-table key an earlier one of its chunk gives up.
    const updates = writes.filter((w) => w.user === 'update');
    const chunks: PlannedWrite<StoredUser>[][] = [];
    let released = new Set<string>();
    let chunk: PlannedWrite<StoredUser>[] = [];
    const allReleased = new Set<string>();
    for (const w of updates) {
      const own = new Set(rowKeysOf(w.current!.doc));
      const takes = rowKeysOf(w.next).filter((k) => !own.has(k));
      if (chunk.length > 0 && takes.some((k) => released.has(k))) {
        chunks.push(chunk);
        chunk = [];
        released = new Set();
      }
      chunk.push(w);
      const keeps = new Set(rowKeysOf(w.next));
      for (const k of own) if (!keeps.has(k)) (released.add(k), allReleased.add(k));
    }
    if (chunk.length > 0) chunks.push(chunk);
    const inserts = writes.filter((w) => w.user === 'insert');
    // The last chunk joins the final statement unless a new user takes a key an update gives up.
    const lastJoins = chunks.length > 0 && !inserts.some((w) => rowKeysOf(w.next).some((k) => allReleased.has(k)));
    // Each written row's stored representation, rendered once: the statement writes it and the caller answers with it.
    const resources = new Map(writes.filter((w) => w.user !== 'none').map((w) => [w.id, resourceOf(accountId, w)]));
    const updatedGroups = new Map<string, UpdatedRow['groups']>();
    const checkUpdated = (rows: readonly UpdatedRow[], expected: readonly PlannedWrite<StoredUser>[]) => {
      for (const r of rows) updatedGroups.set(r.id, r.groups);
      for (const w of expected) if (!updatedGroups.has(w.id)) throw new Error(`User ${w.id} vanished during an update`);
    };
    for (const c of lastJoins ? chunks.slice(0, -1) : chunks) checkUpdated(await runAsOne<UpdatedRow>(db, [usersUpdate(accountId, c, resources)]), c);

    const linked = writes.filter((w) => w.link);
    const final: Statement[] = [
      ...(inserts.length > 0 || linked.length > 0 ? [docsStatement(writes.filter((w) => w.user === 'insert' || w.link))] : []),
      ...usersInsert(accountId, inserts, resources),
      ...resourceOnlyUpdates(accountId, writes),
      ...recordsetInsert('user_emails', VALUE_ROW_COLUMNS, emailRows),
      ...recordsetInsert('user_phone_numbers', VALUE_ROW_COLUMNS, phoneRows),
      ...recordsetInsert('user_extensions', [['account_id', 'uuid'], ['user_id', 'uuid'], ['number', 'text']], extensionRows),
      ...sourceLinksRepo.upsertStatements(
        linked.map((w) => ({
          accountId, userId: w.id, sourceId: w.link!.sourceId, sourceKind: w.link!.sourceKind, anchor: w.link!.anchor, ownedAttributes: w.link!.ownedAttributes,
          attributes: w.next, raw: w.link!.raw, hash: w.link!.hash, at: w.at, anchorUnlinked: w.link!.anchorUnlinked,
        })),
        DOCS_CTE,
      ),
      ...auditRepo.recordManyStatements(
        writes.flatMap((w) => (w.audit ? [{ accountId, actor: w.updatedBy, writer: w.audit.writer, action: w.audit.action, targetType: 'User', targetId: w.id, details: w.audit.details, at: w.at }] : [])),
      ),
    ];
    const last = lastJoins ? chunks[chunks.length - 1]! : [];
    // A link whose anchor another user's link of the source holds moves to this user (an identity provider
    // reusing an externalId); that user's stored representation must drop the source's locks with it. Who held
    // the anchor is read in the statement that moves it (its CTEs all see the links as they were before it), not
    // in a select of its own: measured on the loaded 2-core machine, an identity provider's POST went from 5 round
    // trips to 4.
    const movable = writes.flatMap((w) => (w.link && !w.link.anchorUnlinked && !w.link.anchorHeld ? [{ userId: w.id, sourceId: w.link.sourceId, anchor: w.link.anchor }] : []));
    const results: string[] = [];
    if (last.length > 0) {
      final.push({ ...usersUpdate(accountId, last, resources), name: 'updated' });
      results.push('select id, groups, false as displaced from updated');
    }
    if (movable.length > 0) {
      final.push({ ...sourceLinksRepo.displacedStatement(accountId, movable), name: 'displaced' });
      results.push('select user_id as id, null::jsonb as groups, true as displaced from displaced');
    }
    if (results.length > 0) final.push({ sql: results.join(' union all '), bindings: [] });
    const rows = await runAsOne<UpdatedRow & { displaced: boolean }>(db, final);
    checkUpdated(rows.filter((r) => !r.displaced), last);
    const displaced = rows.filter((r) => r.displaced).map((r) => r.id);
    if (displaced.length > 0) await usersRepo.refreshResources(db, accountId, displaced);
    return writes.map((w) => {
      const resource = resources.get(w.id);
      if (!resource) return storedOf(accountId, w);
      // An update kept the groups its row held: the representation it stored is the one rendered with those.
      if (w.user === 'update') resource.groups = updatedGroups.get(w.id) ?? [];
      return { ...storedOf(accountId, w), resource };
    });
  },

  /**
   * The users holding these email addresses (keys in lower case), locked (FOR UPDATE) for the write that follows:
   * key → user. Two index probes per key (perKeyFrom), the emails then the users by id, never a join the planner
   * may turn into a scan of the account: right after a bulk import its statistics still count the users from
   * before, and a hash join read every user of the account for each batch of a CSV import.
   */
  async findByEmailsForUpdate(db: Executor, accountId: string, emailKeys: readonly string[]): Promise<Map<string, StoredUser>> {
    const out = new Map<string, StoredUser>();
    if (emailKeys.length === 0) return out;
    const holders = await selectRows<{ key: string; user_id: string }>(
      db,
      `select k.v as key, p.user_id from ${perKeyFrom('?::text[]', 'select user_id from user_emails where account_id = ? and lower(value) = k.v')}`,
      [[...emailKeys], accountId],
    );
    if (holders.length === 0) return out;
    const ids = [...new Set(holders.map((h) => h.user_id))].sort();
    const { rows } = (await db.raw(
      `select ${baseColumns.map((c) => `p.${c}`).join(', ')} from ${perKeyFrom('?::uuid[]', `select ${baseColumns.join(', ')} from users where account_id = ? and id = k.v`, { forUpdate: true })}`,
      [ids, accountId],
    )) as { rows: UserRow[] };
    const byId = new Map(rows.map((r) => [r.id, toStored(r)]));
    for (const h of holders) {
      const user = byId.get(h.user_id);
      if (user) out.set(h.key, user);
    }
    return out;
  },

  /**
   * Refreshes the planner's statistics of the users tables. After a bulk write (a CSV import of thousands of users)
   * autovacuum has not analysed them yet, and the planner, still counting the rows from before, reads a keyset page
   * of the list (GET /Users, the CSV export) by a bitmap scan of every later row and a sort: measured on PostgreSQL
   * after importing 30,000 users, paging through them all (30 keyset pages) took 4.5 s before, 1.5 s after.
   */
  async analyze(db: Knex): Promise<void> {
    // Past the statement timeout (STATEMENT_TIMEOUT_MS is for requests): sampling a large account may take longer.
    await db.transaction(async (trx) => {
      await trx.raw('set local statement_timeout = 0');
      await trx.raw('analyze users, user_emails, user_extensions, user_phone_numbers');
    });
  },

  /** The users of the account holding any of these unique values (as uniqueValuesOf gives them): one round trip. */
  async uniqueHolders(db: Executor, accountId: string, values: readonly UniqueValue[]): Promise<UniqueHolder[]> {
    if (values.length === 0) return [];
    const keys = (attribute: UniqueValue['attribute']) => [...new Set(values.filter((v) => v.attribute === attribute).map((v) => v.key))];
    const rows = await selectRows<{ attribute: UniqueHolder['attribute']; key: string; value: string; user_id: string }>(
      db,
      `select 'userName' as attribute, k.v as key, p.value, p.user_id from ${perKeyFrom('?::text[]', 'select user_name as value, id as user_id from users where account_id = ? and lower(user_name) = k.v')}
       union all select 'emails', k.v, p.value, p.user_id from ${perKeyFrom('?::text[]', 'select value, user_id from user_emails where account_id = ? and lower(value) = k.v')}
       union all select 'extensions', k.v, p.value, p.user_id from ${perKeyFrom('?::text[]', 'select number as value, user_id from user_extensions where account_id = ? and number = k.v')}
       union all select 'smsNumber', k.v, p.value, p.user_id from ${perKeyFrom('?::text[]', 'select sms_number as value, id as user_id from users where account_id = ? and sms_number = k.v')}`,
      [keys('userName'), accountId, keys('emails'), accountId, keys('extensions'), accountId, keys('smsNumber'), accountId],
    );
    return rows.map((r) => ({ attribute: r.attribute, key: r.key, value: r.value, userId: r.user_id }));
  },

  /** The number of account admins in the account (the last-admin rule's fact). */
  async countAdmins(db: Executor, accountId: string): Promise<number> {
    const rows = await selectRows<{ n: number | string }>(db, 'select count(*) as n from users where account_id = ? and account_admin', [accountId]);
    return Number(rows[0]?.n ?? 0);
  },

  async delete(db: Executor, accountId: string, id: string): Promise<void> {
    await db('group_members').where({ account_id: accountId, member_id: id }).delete();
    await db('users').where({ account_id: accountId, id }).delete();
  },

  async count(db: Executor, accountId: string, where?: { sql: string; bindings: readonly unknown[] }, options: CountOptions = {}): Promise<number> {
    const count = countSql(accountId, where, options.limit);
    const rows = await selectRows<{ n: number | string }>(db, `select ${count.sql} as n`, count.bindings, options.abandoned);
    return Number(rows[0]?.n ?? 0);
  },

  /**
   * A page in a stable order (sort key, then id); by offset, or by keyset after a cursor position. The statement
   * is written as text, not through the query builder: it is the hottest list (every IdP's `userName eq` lookup)
   * and its shape is a handful of fixed fragments around the compiled filter.
   */
  async list(db: Executor, accountId: string, query: ListQuery): Promise<ListedUser[]> {
    const { sql, bindings } = pageStatement(accountId, query, viewColumnsSql('u', query.withGroups).join(', '));
    const rows = await selectRows<UserRow & { sort_value: string | null }>(db, sql, bindings, query.abandoned);
    return rows.map((r) => ({ ...toView(r), sortValue: r.sort_value }));
  },

  /** `list` of the stored representations (users.resource): the page's rows alone, no group or link read. */
  async listResources(db: Executor, accountId: string, query: Omit<ListQuery, 'withGroups'>): Promise<ListedResource[]> {
    const { sql, bindings } = pageStatement(accountId, { ...query, withGroups: false }, 'u.id, u.version, u.resource');
    const rows = await selectRows<StoredResource & { sort_value: string | null }>(db, sql, bindings, query.abandoned);
    return rows.map((r) => ({ id: r.id, version: r.version, resource: r.resource, sortValue: r.sort_value }));
  },

  /**
   * `list` of what a CSV export row shows: the page's rows alone, none of the columns it does not show and no link
   * read (list's view reads every user's links as JSON, which the export then dropped; 1,000 users a page).
   */
  async listExport(db: Executor, accountId: string, query: Omit<ListQuery, 'withGroups'>): Promise<ListedExport[]> {
    const { sql, bindings } = pageStatement(accountId, { ...query, withGroups: false }, 'u.id, u.data, u.registered, u.source, u.updated_at, u.updated_by');
    const rows = await selectRows<Pick<UserRow, 'id' | 'data' | 'registered' | 'source' | 'updated_at' | 'updated_by'> & { sort_value: string | null }>(db, sql, bindings, query.abandoned);
    return rows.map((r) => ({ id: r.id, doc: r.data, registered: r.registered, source: r.source, updatedAt: asDate(r.updated_at), updatedBy: r.updated_by, sortValue: r.sort_value }));
  },

  /** One user's stored representation (GET /Users/{id}): one column of one row, by primary key. */
  async findResource(db: Executor, accountId: string, id: string): Promise<StoredResource | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await selectRows<StoredResource>(db, 'select id, version, resource from users where account_id = ? and id = ? limit 1', [accountId, id]);
    return rows[0];
  },

  /**
   * Renders these users' stored representations again from their rows, groups and links: for the writes that
   * change what a user's representation shows without going through writePlanned (a source unlinked or deleted,
   * a registration completed). Two round trips for any number of users.
   */
  async refreshResources(db: Executor, accountId: string, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const rows = await selectRows<UserRow>(db, `select ${viewColumnsSql('u', true).join(', ')} from users as u where u.account_id = ? and u.id = any(?::uuid[])`, [accountId, chunk]);
      if (rows.length === 0) continue;
      await db.raw('update users as u set resource = v.resource from jsonb_to_recordset(?::jsonb) as v(id uuid, resource jsonb) where u.account_id = ? and u.id = v.id', [
        JSON.stringify(rows.map((r) => ({ id: r.id, resource: storedUserResource(toView(r)) }))),
        accountId,
      ]);
    }
  },

  /**
   * Sets the groups of these users' stored representations from group_members (a membership added or removed, a
   * group renamed or deleted): one statement. `members of` a group: every user member of it.
   */
  async refreshGroups(db: Executor, accountId: string, users: readonly string[] | { membersOf: string }): Promise<void> {
    const [where, binding] = Array.isArray(users)
      ? ['u.id = any(?::uuid[])', users.filter(isUuid)]
      : ['u.id in (select member_id from group_members where account_id = u.account_id and group_id = ?)', (users as { membersOf: string }).membersOf];
    if (Array.isArray(binding) && binding.length === 0) return;
    await db.raw(`update users as u set resource = jsonb_set(u.resource, '{groups}', ${groupsOfSql('u')}::jsonb) where u.account_id = ? and ${where}`, [accountId, binding]);
  },

  /**
   * Sets the user's registration and password, with its audit event: like writePlanned, the row's updated_by and
   * updated_at (Modified By / On) are the event's actor and time.
   */
  async setRegistration(db: Executor, accountId: string, id: string, registered: boolean, passwordHash: string | null, event: { actor: string; writer: AuditWriter; action: string; changed: string[]; at: Date }): Promise<void> {
    await db('users').where({ account_id: accountId, id }).update({
      registered,
      password_hash: passwordHash,
      version: db.raw('version + 1'),
      updated_by: event.actor,
      updated_at: event.at,
    });
    await auditRepo.record(db, { accountId, actor: event.actor, writer: event.writer, action: event.action, targetType: 'User', targetId: id, details: { changed: event.changed } }, event.at);
    await usersRepo.refreshResources(db, accountId, [id]);
  },
};

export { ENTERPRISE as ENTERPRISE_URN, SWITCHBOARD as SWITCHBOARD_URN };
export { derivedColumns, extensionsOf };
