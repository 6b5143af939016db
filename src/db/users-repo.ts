import type { Knex } from 'knex';
import { selectRows, type Executor } from './database.js';
import { perKeyFrom } from './key-lookup.js';
import { runAsOne, statementOf, type Statement } from './statement.js';
import { linkRowsColumnSql, linksFromJson, type LinkRow, type SourceLink } from './source-links-repo.js';
import { isUuid } from './accounts-repo.js';

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

/** The SQL of the output columns: the row plus groups and links as JSON, in the same round trip. */
function viewColumnsSql(alias: string, withGroups: boolean, withRaw = false): string[] {
  const cols = baseColumns.map((c) => `${alias}.${c}`);
  if (withGroups) {
    cols.push(`(select coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) order by g.display_name), '[]'::json)
        from group_members gm join groups g on g.account_id = gm.account_id and g.id = gm.group_id
        where gm.account_id = ${alias}.account_id and gm.member_id = ${alias}.id) as groups`);
  }
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

/** The typed columns and rows derived from a SCIM document: what filters, sorts and uniqueness use. */
export function derivedColumns(doc: JsonObject) {
  const name = (doc.name as JsonObject | undefined) ?? {};
  const emails = (Array.isArray(doc.emails) ? doc.emails : []) as JsonObject[];
  const primary = emails.find((e) => e.primary === true) ?? emails[0];
  const ext = (doc[SWITCHBOARD] as JsonObject | undefined) ?? {};
  return {
    user_name: String(doc.userName),
    external_id: typeof doc.externalId === 'string' ? doc.externalId : null,
    display_name: typeof doc.displayName === 'string' ? doc.displayName : null,
    given_name: typeof name.givenName === 'string' ? name.givenName : null,
    family_name: typeof name.familyName === 'string' ? name.familyName : null,
    active: doc.active === undefined ? true : doc.active === true,
    primary_email: primary && typeof primary.value === 'string' ? primary.value : null,
    sms_number: typeof ext.smsNumber === 'string' && ext.smsNumber !== '' ? ext.smsNumber : null,
    account_admin: ext.accountAdmin === true,
  };
}

function rowsOf(doc: JsonObject, attribute: 'emails' | 'phoneNumbers') {
  const items = (Array.isArray(doc[attribute]) ? doc[attribute] : []) as JsonObject[];
  const seen = new Set<string>();
  const rows: { position: number; value: string; type: string | null; is_primary: boolean }[] = [];
  items.forEach((item, position) => {
    if (typeof item?.value !== 'string' || item.value === '') return;
    const key = attribute === 'emails' ? item.value.toLowerCase() : item.value;
    if (seen.has(key)) return;
    seen.add(key);
    rows.push({ position, value: item.value, type: typeof item.type === 'string' ? item.type : null, is_primary: item.primary === true });
  });
  return rows;
}

export function extensionsOf(doc: JsonObject): string[] {
  const ext = (doc[SWITCHBOARD] as JsonObject | undefined) ?? {};
  return Array.isArray(ext.extensions) ? [...new Set((ext.extensions as unknown[]).map(String))] : [];
}

/**
 * The statements that bring one user's value rows (emails, phone numbers, extensions) from `before` to `doc`:
 * `deletes` of the rows of attributes that changed, to run first, and the `inserts` of their new rows.
 */
function valueRowStatements(db: Executor, accountId: string, userId: string, before: JsonObject | undefined, doc: JsonObject): { deletes: Statement[]; inserts: Statement[] } {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const deletes: Statement[] = [];
  const inserts: Statement[] = [];
  for (const [attribute, table] of [['emails', 'user_emails'], ['phoneNumbers', 'user_phone_numbers']] as const) {
    if (before && same(before[attribute], doc[attribute])) continue;
    if (before) deletes.push(statementOf(db(table).where({ account_id: accountId, user_id: userId }).delete()));
    const rows = rowsOf(doc, attribute);
    if (rows.length > 0) inserts.push(statementOf(db(table).insert(rows.map((r) => ({ account_id: accountId, user_id: userId, ...r })))));
  }
  const extensions = extensionsOf(doc);
  if (!before || !same(extensionsOf(before), extensions)) {
    if (before) deletes.push(statementOf(db('user_extensions').where({ account_id: accountId, user_id: userId }).delete()));
    if (extensions.length > 0) inserts.push(statementOf(db('user_extensions').insert(extensions.map((number) => ({ account_id: accountId, user_id: userId, number })))));
  }
  return { deletes, inserts };
}

/** A user's write: deletes to run first, then `statements` (with others', by runAsOne) ending with the users row. */
export interface UserWrite {
  deletes: Statement[];
  statements: Statement[];
  /** The stored user, from the rows runAsOne returns when the users statement is last. */
  stored(rows: readonly unknown[]): StoredUser;
}

/** Runs a UserWrite: its deletes, then the rest in one round trip, with `alongside` (link, audit entry) in it. */
export async function runUserWrite(db: Executor, write: UserWrite, alongside: readonly Statement[] = []): Promise<StoredUser> {
  for (const statement of write.deletes) await db.raw(statement.sql, statement.bindings as Knex.RawBinding[]);
  return write.stored(await runAsOne(db, [...alongside, ...write.statements]));
}

/** The values of a document that must be unique in its account, as the uniqueness check compares them. */
export function uniqueKeysOf(doc: JsonObject): { userName: string; emails: { key: string; value: string }[]; extensions: string[]; smsNumber: string | null } {
  const cols = derivedColumns(doc);
  return {
    userName: cols.user_name.toLowerCase(),
    emails: rowsOf(doc, 'emails').map((r) => ({ key: r.value.toLowerCase(), value: r.value })),
    extensions: extensionsOf(doc),
    smsNumber: cols.sms_number,
  };
}

/** Who holds a unique value: `attribute` as findConflict names it, `key` as compared, `value` as stored. */
export interface UniqueHolder {
  attribute: 'userName' | 'emails' | 'extensions' | 'smsNumber';
  key: string;
  value: string;
  userId: string;
}

/**
 * Rows of one table inserted from one JSON parameter (`json_to_recordset`): one bound value per statement instead
 * of one per column and row, so neither knex nor the server handles thousands of parameters per batch.
 */
async function insertRecordset(db: Executor, table: string, columns: readonly (readonly [name: string, type: string])[], rows: readonly Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const names = columns.map(([name]) => name).join(', ');
  await db.raw(`insert into ${table} (${names}) select ${names} from json_to_recordset(?::json) as v(${columns.map(([name, type]) => `${name} ${type}`).join(', ')})`, [
    JSON.stringify(rows),
  ]);
}

const VALUE_ROW_COLUMNS = [['account_id', 'uuid'], ['user_id', 'uuid'], ['position', 'integer'], ['value', 'text'], ['type', 'text'], ['is_primary', 'boolean']] as const;

/**
 * Deletes the value rows of these users: the rows are found by one index probe per user (perKeyFrom) and deleted
 * by their row ids, since a delete cannot take a lateral probe and `user_id = any(?)` may read the whole account.
 */
async function deleteRowsOfUsers(db: Executor, table: 'user_emails' | 'user_phone_numbers' | 'user_extensions', accountId: string, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await db.raw(`delete from ${table} where ctid = any(array(select p.ctid from ${perKeyFrom('?::uuid[]', `select ctid from ${table} where account_id = ? and user_id = k.v`)}))`, [
    [...userIds],
    accountId,
  ]);
}

/** writeRows for several users at once: one delete and one insert per table. */
async function writeRowsMany(db: Executor, accountId: string, entries: readonly { userId: string; before: JsonObject | undefined; doc: JsonObject }[]): Promise<void> {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  for (const [attribute, table] of [['emails', 'user_emails'], ['phoneNumbers', 'user_phone_numbers']] as const) {
    const stale: string[] = [];
    const rows: Record<string, unknown>[] = [];
    for (const { userId, before, doc } of entries) {
      if (before && same(before[attribute], doc[attribute])) continue;
      if (before) stale.push(userId);
      for (const r of rowsOf(doc, attribute)) rows.push({ account_id: accountId, user_id: userId, ...r });
    }
    await deleteRowsOfUsers(db, table, accountId, stale);
    await insertRecordset(db, table, VALUE_ROW_COLUMNS, rows);
  }
  const stale: string[] = [];
  const rows: Record<string, unknown>[] = [];
  for (const { userId, before, doc } of entries) {
    const extensions = extensionsOf(doc);
    if (before && same(extensionsOf(before), extensions)) continue;
    if (before) stale.push(userId);
    for (const number of extensions) rows.push({ account_id: accountId, user_id: userId, number });
  }
  await deleteRowsOfUsers(db, 'user_extensions', accountId, stale);
  await insertRecordset(db, 'user_extensions', [['account_id', 'uuid'], ['user_id', 'uuid'], ['number', 'text']], rows);
}

/** The derived columns and their SQL types, as `json_to_recordset` reads them. */
const DERIVED_COLUMNS = [
  ['user_name', 'text'], ['external_id', 'text'], ['display_name', 'text'], ['given_name', 'text'], ['family_name', 'text'], ['active', 'boolean'],
  ['primary_email', 'text'], ['sms_number', 'text'], ['account_admin', 'boolean'],
] as const;

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
  /**
   * Also read totalResults (what count() answers for `where`) in the same statement, as an uncorrelated scalar
   * subquery run once: each row then carries it in `total`. An empty page carries nothing: ask count().
   */
  withTotal?: boolean;
}

export type ListedUser = UserView & { sortValue: string | null; total?: number };

/** The statement count() runs, as a scalar subquery (its own `u`, so `where` binds to it, not to the page's). */
function totalColumn(accountId: string, where: ListQuery['where']): { sql: string; bindings: readonly unknown[] } {
  return where
    ? { sql: `(select count(*) from users as u where u.account_id = ? and (${where.sql})) as total_results`, bindings: [accountId, ...where.bindings] }
    : { sql: '(select user_count from accounts where id = ?) as total_results', bindings: [accountId] };
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

  /** A new user's write, to run with others (UserService.apply writes the user, link and audit at once; runUserWrite). */
  insertWrite(db: Executor, accountId: string, doc: JsonObject, meta: { source: string; updatedBy: string; passwordHash?: string | null; at: Date; id: string }): UserWrite {
    const rows = valueRowStatements(db, accountId, meta.id, undefined, doc);
    const user = statementOf(
      db('users')
        .insert({
          account_id: accountId,
          id: meta.id,
          ...derivedColumns(doc),
          data: JSON.stringify(doc),
          source: meta.source,
          password_hash: meta.passwordHash ?? null,
          updated_by: meta.updatedBy,
          created_at: meta.at,
          updated_at: meta.at,
        })
        .returning(baseColumns),
    );
    return { deletes: rows.deletes, statements: [...rows.inserts, user], stored: (result) => toStored(result[0] as UserRow) };
  },

  /** The statements of update(), to run with others. */
  updateWrite(db: Executor, current: StoredUser, doc: JsonObject, meta: { updatedBy: string; at: Date; passwordHash?: string | null; registered?: boolean }): UserWrite {
    const rows = valueRowStatements(db, current.accountId, current.id, current.doc, doc);
    const user = statementOf(
      db('users')
        .where({ account_id: current.accountId, id: current.id })
        .update({
          ...derivedColumns(doc),
          data: JSON.stringify(doc),
          ...(meta.passwordHash !== undefined ? { password_hash: meta.passwordHash } : {}),
          ...(meta.registered !== undefined ? { registered: meta.registered } : {}),
          version: current.version + 1,
          updated_by: meta.updatedBy,
          updated_at: meta.at,
        })
        .returning(baseColumns),
    );
    return {
      deletes: rows.deletes,
      statements: [...rows.inserts, user],
      stored: (result) => {
        if (!result[0]) throw new Error(`User ${current.id} vanished during an update`);
        return toStored(result[0] as UserRow);
      },
    };
  },

  async update(
    db: Executor,
    current: StoredUser,
    doc: JsonObject,
    meta: { updatedBy: string; at: Date; passwordHash?: string | null; registered?: boolean },
  ): Promise<StoredUser> {
    return runUserWrite(db, usersRepo.updateWrite(db, current, doc, meta));
  },

  /**
   * New users of one account (ids chosen by the caller): one statement for the users, one
   * per rows table. Returns the stored users in the order given.
   */
  async insertMany(
    db: Executor,
    accountId: string,
    items: readonly { id: string; doc: JsonObject; source: string; updatedBy: string; at: Date }[],
  ): Promise<StoredUser[]> {
    if (items.length === 0) return [];
    // The stored rows are known without reading them back: the values given, the columns' defaults otherwise.
    await insertRecordset(
      db,
      'users',
      [['account_id', 'uuid'], ['id', 'uuid'], ...DERIVED_COLUMNS, ['data', 'jsonb'], ['source', 'text'], ['updated_by', 'text'], ['created_at', 'timestamptz'], ['updated_at', 'timestamptz']],
      items.map((item) => ({
        account_id: accountId, id: item.id, ...derivedColumns(item.doc), data: item.doc, source: item.source, updated_by: item.updatedBy,
        created_at: item.at.toISOString(), updated_at: item.at.toISOString(),
      })),
    );
    await writeRowsMany(db, accountId, items.map((item) => ({ userId: item.id, before: undefined, doc: item.doc })));
    return items.map((item) => ({
      accountId, id: item.id, doc: item.doc, registered: false, source: item.source, passwordHash: null, version: 1,
      createdAt: new Date(item.at.getTime()), updatedAt: new Date(item.at.getTime()), updatedBy: item.updatedBy,
    }));
  },

  /**
   * update() (without password or registration change) for several users of one account: one statement for the
   * users, one delete and one insert per rows table whose values changed. Returns the stored users in the order
   * given. The caller keeps unique values apart: no user takes a value another user of the same call gives up.
   */
  async updateMany(db: Executor, accountId: string, items: readonly { current: StoredUser; doc: JsonObject; updatedBy: string; at: Date }[]): Promise<StoredUser[]> {
    if (items.length === 0) return [];
    const values = items.map(({ current, doc, updatedBy, at }) => ({
      id: current.id,
      ...derivedColumns(doc),
      data: doc,
      version: current.version + 1,
      updated_by: updatedBy,
      updated_at: at.toISOString(),
    }));
    // Only the ids come back: the rest of each stored row is what was written over the caller's current one.
    const { rows } = (await db.raw(
      `update users as u set user_name = v.user_name, external_id = v.external_id, display_name = v.display_name, given_name = v.given_name,
              family_name = v.family_name, active = v.active, primary_email = v.primary_email, sms_number = v.sms_number,
              account_admin = v.account_admin, data = v.data, version = v.version, updated_by = v.updated_by, updated_at = v.updated_at
         from json_to_recordset(?::json) as v(id uuid, user_name text, external_id text, display_name text, given_name text, family_name text,
              active boolean, primary_email text, sms_number text, account_admin boolean, data jsonb, version integer, updated_by text, updated_at timestamptz)
        where u.account_id = ? and u.id = v.id
        returning u.id`,
      [JSON.stringify(values), accountId],
    )) as { rows: { id: string }[] };
    const updated = new Set(rows.map((row) => row.id));
    await writeRowsMany(db, accountId, items.map(({ current, doc }) => ({ userId: current.id, before: current.doc, doc })));
    return items.map(({ current, doc, updatedBy, at }) => {
      if (!updated.has(current.id)) throw new Error(`User ${current.id} vanished during a batched update`);
      return { ...current, doc, version: current.version + 1, updatedAt: new Date(at.getTime()), updatedBy };
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

  /** The users of the account holding any of these unique values (keys as uniqueKeysOf gives them): one round trip. */
  async uniqueHolders(
    db: Executor,
    accountId: string,
    keys: { userNames: readonly string[]; emails: readonly string[]; extensions: readonly string[]; smsNumbers: readonly string[] },
  ): Promise<UniqueHolder[]> {
    const rows = await selectRows<{ attribute: UniqueHolder['attribute']; key: string; value: string; user_id: string }>(
      db,
      `select 'userName' as attribute, k.v as key, p.value, p.user_id from ${perKeyFrom('?::text[]', 'select user_name as value, id as user_id from users where account_id = ? and lower(user_name) = k.v')}
       union all select 'emails', k.v, p.value, p.user_id from ${perKeyFrom('?::text[]', 'select value, user_id from user_emails where account_id = ? and lower(value) = k.v')}
       union all select 'extensions', k.v, p.value, p.user_id from ${perKeyFrom('?::text[]', 'select number as value, user_id from user_extensions where account_id = ? and number = k.v')}
       union all select 'smsNumber', k.v, p.value, p.user_id from ${perKeyFrom('?::text[]', 'select sms_number as value, id as user_id from users where account_id = ? and sms_number = k.v')}`,
      [[...keys.userNames], accountId, [...keys.emails], accountId, [...keys.extensions], accountId, [...keys.smsNumbers], accountId],
    );
    return rows.map((r) => ({ attribute: r.attribute, key: r.key, value: r.value, userId: r.user_id }));
  },

  async delete(db: Executor, accountId: string, id: string): Promise<void> {
    await db('group_members').where({ account_id: accountId, member_id: id }).delete();
    await db('users').where({ account_id: accountId, id }).delete();
  },

  /** Which unique value of this document another user of the account already has, if any: one round trip. */
  async findConflict(db: Executor, accountId: string, doc: JsonObject, excludeId?: string): Promise<string | undefined> {
    const cols = derivedColumns(doc);
    const emails = rowsOf(doc, 'emails').map((r) => r.value.toLowerCase());
    const extensions = extensionsOf(doc);
    const other = excludeId ?? '00000000-0000-0000-0000-000000000000';
    const { rows } = (await db.raw(
      `select 1 as rank, 'userName' as attribute, null as value from users where account_id = ? and lower(user_name) = ? and id <> ?::uuid
       union all select 2, 'emails', value from user_emails where account_id = ? and lower(value) = any(?::text[]) and user_id <> ?::uuid
       union all select 3, 'extensions', number from user_extensions where account_id = ? and number = any(?::text[]) and user_id <> ?::uuid
       union all select 4, 'smsNumber', sms_number from users where account_id = ? and sms_number = ? and id <> ?::uuid
       order by 1 limit 1`,
      [accountId, cols.user_name.toLowerCase(), other, accountId, emails, other, accountId, extensions, other, accountId, cols.sms_number, other],
    )) as { rows: { attribute: string; value: string | null }[] };
    const hit = rows[0];
    if (!hit) return undefined;
    return hit.value ? `${hit.attribute} (${hit.value})` : hit.attribute;
  },

  async count(db: Executor, accountId: string, where?: { sql: string; bindings: readonly unknown[] }): Promise<number> {
    if (!where) {
      const row = (await db('accounts').where({ id: accountId }).first('user_count')) as { user_count: number } | undefined;
      return row?.user_count ?? 0;
    }
    const rows = await selectRows<{ n: number | string }>(db, `select count(*) as n from users as u where u.account_id = ? and (${where.sql})`, [accountId, ...where.bindings]);
    return Number(rows[0].n);
  },

  /**
   * A page in a stable order (sort key, then id); by offset, or by keyset after a cursor position. The statement
   * is written as text, not through the query builder: it is the hottest list (every IdP's `userName eq` lookup)
   * and its shape is a handful of fixed fragments around the compiled filter.
   */
  async list(db: Executor, accountId: string, query: ListQuery): Promise<ListedUser[]> {
    const order = query.orderBy ?? 'u.created_at';
    const dir = query.descending ? 'desc' : 'asc';
    const orderBy = `order by ${order} ${dir} ${query.descending ? 'nulls first' : 'nulls last'}, u.id ${dir}`;
    const output = `${viewColumnsSql('u', query.withGroups).join(', ')}, (${order})::text as sort_value`;
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
    const total = query.withTotal ? totalColumn(accountId, query.where) : undefined;
    const head = total ? { sql: `select ${output}, ${total.sql}`, bindings: total.bindings } : { sql: `select ${output}`, bindings: [] };
    let sql: string;
    let all: unknown[];
    if (query.offset) {
      // Skip on bare rows first: the output subselects (groups, links) then run for the page only, not the offset.
      sql = `${head.sql} from users as u where u.account_id = ? and u.id in (select u.id from users as u where ${conditions.join(' and ')} ${orderBy} offset ? limit ?) ${orderBy}`;
      all = [...head.bindings, accountId, ...bindings, query.offset, query.limit];
    } else {
      sql = `${head.sql} from users as u where ${conditions.join(' and ')} ${orderBy} limit ?`;
      all = [...head.bindings, ...bindings, query.limit];
    }
    const rows = await selectRows<UserRow & { sort_value: string | null; total_results?: number | string | null }>(db, sql, all);
    return rows.map((r) => ({ ...toView(r), sortValue: r.sort_value, ...(query.withTotal ? { total: Number(r.total_results ?? 0) } : {}) }));
  },

  async setRegistration(db: Executor, accountId: string, id: string, registered: boolean, passwordHash: string | null, meta: { updatedBy: string; at: Date }): Promise<void> {
    await db('users').where({ account_id: accountId, id }).update({
      registered,
      password_hash: passwordHash,
      version: db.raw('version + 1'),
      updated_by: meta.updatedBy,
      updated_at: meta.at,
    });
  },
};

export { ENTERPRISE as ENTERPRISE_URN, SWITCHBOARD as SWITCHBOARD_URN };
