/**
 * Where each SCIM attribute lives in SQL, as data (README, design decisions): typed columns for hot attributes, rows
 * for emails, phone numbers, extensions and group members, jsonb under `data` for the rest. The filter
 * compiler and sortExpression (scim-filter-sql.ts) read these mappings; nothing else knows the layout.
 */
import { resolveAttributePath, type AttributeType, type ResolvedPath, type ResourceTypeDef } from '../domain/scim-schema.js';
import { resourceTypes, URN } from '../domain/scim-schemas.js';
import type { AttributeStorage, Collection, IndexedOperator, ResourceSqlMapping, SqlType, ValueExpr } from './scim-filter-sql.js';

const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** A column or SQL expression of the row. */
export function column(sql: string, sqlType: SqlType, nullable = true, caseless = false): ValueExpr & { kind: 'sql' } {
  return { kind: 'sql', sql, sqlType, nullable, ...(caseless ? { caseless } : {}) };
}

/** A column the operators `ops` of which an index of the account answers (ValueExpr.indexed): name the index. */
export function indexed(expr: ValueExpr & { kind: 'sql' }, ...ops: IndexedOperator[]): ValueExpr {
  return { ...expr, indexed: ops };
}

/** A value inside jsonb, e.g. jsonbPath('u.data', ['name', 'middleName']). */
export function jsonbPath(base: string, keys: string[]): { kind: 'jsonb'; json: string; text: string } {
  const parents = keys.slice(0, -1).map((k) => `->${literal(k)}`).join('');
  const last = literal(keys[keys.length - 1]!);
  return { kind: 'jsonb', json: `${base}${parents}->${last}`, text: `${base}${parents}->>${last}` };
}

/** The elements of a jsonb array (anything but an array counts as empty, never a cast error). */
export function jsonbArray(json: string, elementType: AttributeType): Collection {
  const array = `(case when jsonb_typeof(${json}) = 'array' then ${json} else '[]'::jsonb end)`;
  if (elementType === 'complex') {
    return {
      from: `jsonb_array_elements(${array}) with ordinality as e(v, n)`,
      where: '',
      subAttribute: (name) => jsonbPath('e.v', [name]),
      primaryFirst: `coalesce(e.v->'primary' = 'true'::jsonb, false) desc, e.n`,
    };
  }
  if (elementType === 'string' || elementType === 'reference' || elementType === 'binary') {
    return { from: `jsonb_array_elements_text(${array}) with ordinality as e(v, n)`, where: '', element: column('e.v', 'text'), primaryFirst: 'e.n' };
  }
  return {
    from: `jsonb_array_elements(${array}) with ordinality as e(v, n)`,
    where: '',
    element: { kind: 'jsonb', json: 'e.v', text: `(e.v #>> '{}')` },
    primaryFirst: 'e.n',
  };
}

/** Rows of a child table `table r`, correlated by `where`. */
export function rows(from: string, where: string, columns: Record<string, ValueExpr>, primaryFirst: string): Collection {
  return { from, where, subAttribute: (name) => columns[name], primaryFirst };
}

const unavailable = (reason: string): AttributeStorage => ({ kind: 'unavailable', reason });

export interface MappingSpec {
  resourceType: ResourceTypeDef;
  alias: string;
  /** jsonb column holding every attribute not listed: core ones at the top level, extension ones under their URN. */
  data?: string;
  /** Storage by attribute path (any spelling resolveAttributePath accepts; checked when the mapping is built). */
  attributes: Record<string, AttributeStorage>;
  /** sortBy refusals and overrides by attribute path. */
  sortRules?: Record<string, { refuse: string } | { sql: string }>;
}

function canonicalKeys<T>(resourceType: ResourceTypeDef, entries: Record<string, T>): Map<string, T> {
  const map = new Map<string, T>();
  for (const [path, value] of Object.entries(entries)) map.set(resolveAttributePath(resourceType, path).canonical, value);
  return map;
}

/** A mapping from declarations; unlisted attributes fall back to `data`, or are not filterable without it. */
export function defineMapping(spec: MappingSpec): ResourceSqlMapping {
  const { resourceType, alias, data } = spec;
  const attributes = canonicalKeys(resourceType, spec.attributes);
  const sortRules = canonicalKeys(resourceType, spec.sortRules ?? {});
  const notFilterable = (path: ResolvedPath) => unavailable(`'${path.canonical}' is not filterable for ${resourceType.name}`);

  const storage = (path: ResolvedPath): AttributeStorage => {
    const listed = attributes.get(path.canonical);
    if (listed) return listed;
    const { attribute, subAttribute } = path;
    if (path.canonical === 'meta.resourceType') return { kind: 'value', expr: { kind: 'const', value: resourceType.name } };
    if (subAttribute) {
      // A sub-attribute of a singular complex attribute stored as one jsonb object (e.g. Account settings).
      const parent = attributes.get(path.canonical.slice(0, -(subAttribute.name.length + 1)));
      if (parent?.kind === 'object') {
        if (subAttribute.multiValued) return { kind: 'collection', collection: jsonbArray(jsonbPath(parent.json, [subAttribute.name]).json, subAttribute.type) };
        if (subAttribute.type === 'complex') return { kind: 'object', json: jsonbPath(parent.json, [subAttribute.name]).json };
        return { kind: 'value', expr: jsonbPath(parent.json, [subAttribute.name]) };
      }
    }
    if (!data || path.schemaId === '') return notFilterable(path);
    const keys = [...(path.extension ? [path.schemaId] : []), attribute.name];
    if (attribute.multiValued) return { kind: 'collection', collection: jsonbArray(jsonbPath(data, keys).json, attribute.type) };
    if (subAttribute) return { kind: 'value', expr: jsonbPath(data, [...keys, subAttribute.name]) };
    if (attribute.type === 'complex') return { kind: 'object', json: jsonbPath(data, keys).json };
    return { kind: 'value', expr: jsonbPath(data, keys) };
  };
  return { resourceType, alias, storage, sortRule: (path) => sortRules.get(path.canonical) };
}

const userExtension = (name: string) => `${URN.switchboardUser}:${name}`;

const linkedTo = (alias: string, kind: string): string =>
  `exists (select 1 from user_source_links l where l.account_id = ${alias}.account_id and l.user_id = ${alias}.id and l.source_kind = '${kind}')`;

/** Users (`from users <alias>`): typed columns, rows for emails, phone numbers, extensions and groups, jsonb for the rest. */
export function usersMapping(alias = 'u'): ResourceSqlMapping {
  const a = alias;
  const ofUser = (table: string) => `${table} r where r.account_id = ${a}.account_id and r.user_id = ${a}.id`;
  const [emailsFrom, emailsWhere] = ofUser('user_emails').split(' where ') as [string, string];
  const [phonesFrom, phonesWhere] = ofUser('user_phone_numbers').split(' where ') as [string, string];
  const [extensionsFrom, extensionsWhere] = ofUser('user_extensions').split(' where ') as [string, string];
  const owned = { account: 'r.account_id', owner: 'r.user_id', key: `${a}.id` };
  // Values: eq and sw on a btree of (account_id, value) (text_pattern_ops, migration 20261207080000); co and ew stay
  // on the trigram indexes, searched across accounts, and are not marked: their matches are not bounded by a prefix.
  const contact = (from: string, where: string, caseless: boolean) => ({
    ...rows(from, where, {
      value: indexed(column('r.value', 'text', false, caseless), 'eq', 'sw'),
      type: column('r.type', 'text'),
      primary: column('r.is_primary', 'boolean', false),
    }, 'r.is_primary desc, r.position'),
    owned,
  });
  return defineMapping({
    resourceType: resourceTypes.user,
    alias,
    data: `${a}.data`,
    attributes: {
      // indexed: the btrees of (account_id, …) for eq (and sw where text_pattern_ops), the trigram indexes for the rest.
      id: { kind: 'value', expr: indexed(column(`${a}.id`, 'uuid', false), 'eq') },
      externalId: { kind: 'value', expr: indexed(column(`${a}.external_id`, 'text'), 'eq') },
      userName: { kind: 'value', expr: indexed(column(`${a}.user_name`, 'text', false), 'eq', 'sw', 'co', 'ew') },
      displayName: { kind: 'value', expr: indexed(column(`${a}.display_name`, 'text'), 'eq', 'sw', 'co', 'ew') },
      'name.givenName': { kind: 'value', expr: indexed(column(`${a}.given_name`, 'text'), 'sw', 'co', 'ew') },
      'name.familyName': { kind: 'value', expr: indexed(column(`${a}.family_name`, 'text'), 'eq', 'sw', 'co', 'ew') },
      active: { kind: 'value', expr: column(`${a}.active`, 'boolean', false) },
      // display (and anything else) is only in data: a condition naming it reads the jsonb array instead.
      emails: { kind: 'collection', collection: contact(emailsFrom, emailsWhere, false), fallback: jsonbArray(`${a}.data->'emails'`, 'complex') },
      // Phone numbers are stored normalised (no letters): compared without lower() so their indexes apply.
      phoneNumbers: { kind: 'collection', collection: contact(phonesFrom, phonesWhere, true), fallback: jsonbArray(`${a}.data->'phoneNumbers'`, 'complex') },
      groups: {
        kind: 'collection',
        collection: rows('group_members r', `r.account_id = ${a}.account_id and r.member_id = ${a}.id`, {
          value: column('r.group_id', 'uuid', false),
          display: column('(select gd.display_name from groups gd where gd.account_id = r.account_id and gd.id = r.group_id)', 'text'),
          type: { kind: 'const', value: 'direct' },
        }, 'r.created_at, r.group_id'),
      },
      password: unavailable("'password' is not filterable"),
      'meta.created': { kind: 'value', expr: column(`${a}.created_at`, 'timestamptz', false) },
      'meta.lastModified': { kind: 'value', expr: column(`${a}.updated_at`, 'timestamptz', false) },
      'meta.version': { kind: 'value', expr: column(`('W/"' || ${a}.version || '"')`, 'text', false) },
      'meta.location': unavailable("'meta.location' is not filterable"),
      [userExtension('accountAdmin')]: { kind: 'value', expr: column(`${a}.account_admin`, 'boolean', false) },
      [userExtension('smsNumber')]: { kind: 'value', expr: indexed(column(`${a}.sms_number`, 'text', true, true), 'eq') },
      [userExtension('extensions')]: {
        kind: 'collection',
        collection: { from: extensionsFrom, where: extensionsWhere, element: indexed(column('r.number', 'text', false, true), 'eq', 'sw'), primaryFirst: 'r.number', owned },
      },
      [userExtension('registered')]: { kind: 'value', expr: column(`${a}.registered`, 'boolean', false) },
      [userExtension('source')]: { kind: 'value', expr: column(`${a}.source`, 'text', false) },
      [userExtension('modifiedBy')]: { kind: 'value', expr: column(`${a}.updated_by`, 'text') },
      // The seed's Property filters (PBX Users, MiCloud Connected, IoT Connected) read the user's source links.
      [`${userExtension('connections')}.pbx`]: { kind: 'value', expr: column(linkedTo(a, 'mivb'), 'boolean', false) },
      [`${userExtension('connections')}.micloud`]: { kind: 'value', expr: column(linkedTo(a, 'micloud'), 'boolean', false) },
      [`${userExtension('connections')}.iot`]: { kind: 'value', expr: column('false', 'boolean', false) },
    },
    sortRules: {
      // A rule of the product seed (managing-users.txt): the SMS number column cannot be sorted.
      [userExtension('smsNumber')]: { refuse: 'Users cannot be ordered by smsNumber' },
      // users.primary_email is the primary (else first) email, kept for this sort and indexed.
      'emails.value': { sql: `lower(${a}.primary_email)` },
    },
  });
}

/** Groups (`from groups <alias>`), members as rows of group_members. */
export function groupsMapping(alias = 'g'): ResourceSqlMapping {
  const a = alias;
  return defineMapping({
    resourceType: resourceTypes.group,
    alias,
    data: `${a}.data`,
    attributes: {
      id: { kind: 'value', expr: column(`${a}.id`, 'uuid', false) },
      externalId: { kind: 'value', expr: column(`${a}.external_id`, 'text') },
      displayName: { kind: 'value', expr: column(`${a}.display_name`, 'text', false) },
      members: {
        kind: 'collection',
        collection: rows('group_members r', `r.account_id = ${a}.account_id and r.group_id = ${a}.id`, {
          value: column('r.member_id', 'uuid', false),
          type: column('r.member_type', 'text', false),
          display: column(
            '(select coalesce(mu.display_name, mu.user_name) from users mu where mu.account_id = r.account_id and mu.id = r.member_id'
            + ' union all select mg.display_name from groups mg where mg.account_id = r.account_id and mg.id = r.member_id limit 1)',
            'text',
          ),
        }, 'r.created_at, r.member_id'),
      },
      'meta.created': { kind: 'value', expr: column(`${a}.created_at`, 'timestamptz', false) },
      'meta.lastModified': { kind: 'value', expr: column(`${a}.updated_at`, 'timestamptz', false) },
      'meta.version': { kind: 'value', expr: column(`('W/"' || ${a}.version || '"')`, 'text', false) },
      'meta.location': unavailable("'meta.location' is not filterable"),
    },
  });
}

/** A column of a simple resource: its SQL, or its SQL with a type (uuid columns), or a jsonb object column. */
export type ColumnSpec = string | { sql: string; type?: SqlType; nullable?: boolean } | { jsonb: string } | AttributeStorage;

const sqlTypeOf: Partial<Record<AttributeType, SqlType>> = { boolean: 'boolean', dateTime: 'timestamptz', integer: 'numeric', decimal: 'numeric' };

/**
 * A mapping for simple resources (Accounts, Tokens, …) from `{ attributePath: 'column_sql' }`. String
 * columns of unknown type compare through `::text` (safe for uuid columns; a no-op on text); `id` is a uuid.
 * Unlisted attributes are not filterable; `meta.version` given as the integer version column becomes the ETag.
 */
export function columnMapping(resourceType: ResourceTypeDef, alias: string, columns: Record<string, ColumnSpec>): ResourceSqlMapping {
  const attributes: Record<string, AttributeStorage> = {};
  for (const [path, spec] of Object.entries(columns)) {
    const resolved = resolveAttributePath(resourceType, path);
    const def = resolved.subAttribute ?? resolved.attribute;
    if (typeof spec === 'object' && 'kind' in spec) {
      attributes[path] = spec;
    } else if (typeof spec === 'object' && 'jsonb' in spec) {
      attributes[path] = def.multiValued ? { kind: 'collection', collection: jsonbArray(spec.jsonb, def.type) } : { kind: 'object', json: spec.jsonb };
    } else {
      const sql = typeof spec === 'string' ? spec : spec.sql;
      const isId = resolved.canonical === 'id';
      const type = typeof spec === 'object' && spec.type ? spec.type : isId ? 'uuid' : sqlTypeOf[def.type] ?? 'unknown';
      const nullable = typeof spec === 'object' && spec.nullable !== undefined ? spec.nullable : !isId;
      attributes[path] = resolved.canonical === 'meta.version'
        ? { kind: 'value', expr: column(`('W/"' || ${sql} || '"')`, 'text', nullable) }
        : { kind: 'value', expr: column(sql, type, nullable) };
    }
  }
  return defineMapping({ resourceType, alias, attributes });
}
