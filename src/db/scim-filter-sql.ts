/**
 * Compiles a parsed SCIM filter (src/domain/scim-filter.ts) to one parameterised boolean SQL expression for
 * knex `whereRaw(sql, bindings)`. Input values only ever travel as `?` bindings; the SQL text is built from
 * the mapping (schema names and column expressions) alone.
 *
 * Every condition yields true or false, never NULL, so `not` is exact: `not (a or b)` means neither, and
 * `x ne "v"` holds for a resource without x. Multi-valued attributes match when any element matches; the
 * conditions of a value filter (`emails[type eq "work" and value eq "a@x"]`) apply to one and the same element.
 */
import { DomainError } from '../domain/errors.js';
import { orGroupKey, withNullAsPresence, type ComparisonNode, type FilterNode, type ComparisonOperator, type ComparisonValue } from '../domain/scim-filter.js';
import {
  resolveAttributePath, UnknownAttributeError,
  type AttributeDef, type AttributeType, type ResolvedPath, type ResourceTypeDef,
} from '../domain/scim-schema.js';

/** SQL type of a column expression; 'unknown' compares strings through `::text`, which is safe for uuid columns too. */
export type SqlType = 'text' | 'uuid' | 'boolean' | 'timestamptz' | 'numeric' | 'unknown';

export type IndexedOperator = 'eq' | 'sw' | 'co' | 'ew';

/** Where one attribute value is read from. */
export type ValueExpr =
  /** A typed SQL expression, e.g. `u.user_name`, `r.is_primary`, `'W/"' || u.version || '"'`. */
  | {
    kind: 'sql';
    sql: string;
    sqlType: SqlType;
    nullable: boolean;
    /** Stored values have no letter case (digits, or already lower-cased): compare without lower() so plain indexes apply. */
    caseless?: boolean;
    /**
     * The operators an index answers on this expression within one account, as the compiler writes them (eq as
     * `=`, sw as a LIKE prefix, co and ew as LIKE on a trigram index): a condition with one of them reads only the
     * rows it matches. An `or` whose every branch is so answered is read as a union of index scans (IndexedOr).
     */
    indexed?: readonly IndexedOperator[];
  }
  /** A value inside jsonb: `json` is the jsonb expression, `text` the same value as text (`->>`). */
  | { kind: 'jsonb'; json: string; text: string }
  /** A constant known when compiling (meta.resourceType): conditions on it fold to true or false. */
  | { kind: 'const'; value: string };

/** The elements of a multi-valued attribute, as a correlated FROM clause. */
export interface Collection {
  /** e.g. `user_emails r` or `jsonb_array_elements(…) with ordinality as e(v, n)`. */
  from: string;
  /** Correlation with the outer row, e.g. `r.account_id = u.account_id and r.user_id = u.id` ('' for none). */
  where: string;
  /** The element itself, for multi-valued attributes of a simple type (`licenses`). */
  element?: ValueExpr;
  /** A sub-attribute of the element by its schema name, or undefined when this collection does not hold it. */
  subAttribute?: (name: string) => ValueExpr | undefined;
  /** ORDER BY putting the primary element first, else the first element (for sorting by a multi-valued attribute). */
  primaryFirst: string;
  /** The elements are rows of a table of their own, keyed by account and owner: see OwnedRows. */
  owned?: OwnedRows;
}

/**
 * How the rows of `Collection.from` belong to the resource: `account` and `owner` columns of the rows, and the
 * resource's `key` the owner column holds (`r.account_id`, `r.user_id`, `u.id`). With the account known when
 * compiling (FilterScope), a condition an index answers is read uncorrelated, once:
 * `u.id = any(array(select r.user_id from user_emails r where <condition> and r.account_id = ?))`, which the planner
 * can OR with other index scans (BitmapOr) where it cannot combine a correlated `exists` with anything.
 */
export interface OwnedRows {
  account: string;
  owner: string;
  key: string;
}

export type AttributeStorage =
  | { kind: 'value'; expr: ValueExpr }
  /** Multi-valued: `fallback` is used when a condition names a sub-attribute `collection` does not hold. */
  | { kind: 'collection'; collection: Collection; fallback?: Collection }
  /** A singular complex attribute as a whole (only `pr` applies to it), e.g. `u.data->'name'`. */
  | { kind: 'object'; json: string }
  | { kind: 'unavailable'; reason: string };

export interface ResourceSqlMapping {
  readonly resourceType: ResourceTypeDef;
  /** The alias of the resource table in the query, e.g. 'u' in `from users u`. */
  readonly alias: string;
  /**
   * Storage of a resolved path: for a multi-valued attribute the path of the attribute itself (no
   * sub-attribute); for a singular complex attribute either the whole attribute or one sub-attribute.
   */
  storage(path: ResolvedPath): AttributeStorage;
  /** For sortBy: a refusal message (e.g. smsNumber) or a better expression (an indexed column). */
  sortRule?(path: ResolvedPath): { refuse: string } | { sql: string } | undefined;
}

/** What a filter is compiled for: the account listed (every row a list reads is of one account). */
export interface FilterScope {
  accountId: string;
}

export interface CompiledFilter {
  sql: string;
  bindings: unknown[];
}

const invalidFilter = (detail: string): DomainError => new DomainError('invalidFilter', detail);
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const stringTypes = new Set<AttributeType>(['string', 'reference', 'binary']);

/**
 * resolveAttributePath, plus: an unqualified name that is not in the core schema but in exactly one extension
 * means that extension's attribute (`extensions eq "1001"` for the switchboard extension's extensions).
 */
export function resolveLenient(resourceType: ResourceTypeDef, path: string): ResolvedPath {
  try {
    return resolveAttributePath(resourceType, path);
  } catch (error) {
    if (!(error instanceof UnknownAttributeError) || path.includes(':')) throw error;
    const found = resourceType.extensions.flatMap(({ schema }) => {
      try {
        return [resolveAttributePath(resourceType, `${schema.id}:${path}`)];
      } catch {
        return [];
      }
    });
    if (found.length === 1) return found[0]!;
    throw error;
  }
}

/** Resolves a path for a filter; unknown attributes are invalidFilter naming the path. */
function resolveForFilter(resourceType: ResourceTypeDef, path: string): ResolvedPath {
  try {
    return resolveLenient(resourceType, path);
  } catch (error) {
    if (error instanceof UnknownAttributeError) {
      throw invalidFilter(`Unknown attribute '${path}' for resource type ${resourceType.name}`);
    }
    throw error;
  }
}

/** `%`, `_` and `\` stand for themselves in co/sw/ew: escape them for LIKE (default escape character `\`). */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The LIKE pattern of co, sw or ew. */
function likePattern(op: ComparisonOperator, value: string): string {
  const escaped = escapeLike(value);
  return op === 'co' ? `%${escaped}%` : op === 'sw' ? `${escaped}%` : `%${escaped}`;
}

class Compiler {
  readonly bindings: unknown[] = [];
  /**
   * IndexedOr: inside an `or` whose every branch an index answers (and every enclosing `or` too, under no `not`),
   * a condition on owned rows is read uncorrelated (OwnedRows), so that the planner ORs index scans instead of
   * reading every row of the account. Elsewhere it stays `exists`: a semi-join (or anti-join under `not`) planned
   * with the statistics of both tables, and a hashed sub-plan where the account is read anyway, which an
   * uncorrelated array is not (`id = any(array)` compares each row with every element: a branch such as
   * `emails.value sw "j"` holds some 10,000 ids).
   */
  private orIndexable = true;
  private inOr = false;
  /** How many uncorrelated arrays (anyElement) were written so far. */
  private arrays = 0;
  constructor(private readonly mapping: ResourceSqlMapping, private readonly scope: FilterScope | undefined) {}

  private bind(value: unknown): string {
    this.bindings.push(value);
    return '?';
  }

  node(node: FilterNode): string {
    switch (node.op) {
      case 'or':
        return this.or(node.filters);
      case 'and':
        return this.joined('and', node.filters.map((f) => () => this.node(f)));
      case 'not':
        return `(not ${this.negated(() => this.node(node.filter))})`;
      case '[]':
        return this.valuePath(node.attrPath, node.filter);
      default:
        return this.attributeCondition(node.attrPath, node.op, node.op === 'pr' ? undefined : node.value);
    }
  }

  /**
   * An `or` with the comparisons of one attribute (orGroupKey) answered together: one `= any(…)` / `like any(…)`,
   * inside one sub-query for a multi-valued attribute. 400 `emails.value co` terms were 400 correlated sub-queries
   * per user (33 s over 50,000 users); as one, PostgreSQL reads user_emails once, or its trigram index.
   */
  private or(filters: FilterNode[]): string {
    const groups = new Map<string, ComparisonNode[]>();
    const parts: (FilterNode | ComparisonNode[])[] = [];
    for (const f of filters) {
      const key = orGroupKey(f);
      if (key === undefined) {
        parts.push(f);
        continue;
      }
      let group = groups.get(key);
      if (!group) {
        group = [];
        groups.set(key, group);
        parts.push(group);
      }
      group.push(f as ComparisonNode);
    }
    const outer = { orIndexable: this.orIndexable, inOr: this.inOr };
    this.orIndexable = outer.orIndexable && this.scope !== undefined
      && parts.every((p) => (!Array.isArray(p) ? this.indexed(p) : p.length === 1 ? this.indexed(p[0]!) : p.every((t) => t.op === 'eq' && this.indexed(t))));
    this.inOr = true;
    try {
      return this.joined('or', parts.map((p) => () => (!Array.isArray(p) ? this.node(p) : p.length === 1 ? this.node(p[0]!) : this.anyOf(p))));
    } finally {
      this.orIndexable = outer.orIndexable;
      this.inOr = outer.inOr;
    }
  }

  /**
   * The terms of an `and` or `or`, those holding an uncorrelated array last: PostgreSQL evaluates them in the order
   * written, and `id = any(array)` compares a row with each element in turn (a bitmap heap scan rechecks every row
   * it fetches), so a row another term decides never reaches it. Counting `emails.value sw "j" or userName sw "j"`
   * (10,091 of 100,000 users, an array of 13,445 ids): 1.7-1.8 s with the array first, 0.6-0.9 s last, 1.2-1.5 s as
   * `exists` over every user (EXPLAIN ANALYZE, loaded machine). Every term is true or false, never NULL, so the
   * order changes nothing else.
   */
  private joined(op: 'and' | 'or', terms: (() => string)[]): string {
    const compiled = terms.map((compile) => {
      const [arrays, from] = [this.arrays, this.bindings.length];
      const sql = compile();
      return { sql, bindings: this.bindings.splice(from), array: this.arrays > arrays };
    });
    const ordered = [...compiled.filter((c) => !c.array), ...compiled.filter((c) => c.array)];
    for (const c of ordered) this.bindings.push(...c.bindings);
    return `(${ordered.map((c) => c.sql).join(` ${op} `)})`;
  }

  /** Compiles what a `not` negates: no index answers a negation, so no branch inside is read as IndexedOr. */
  private negated(compile: () => string): string {
    const outer = this.orIndexable;
    this.orIndexable = false;
    try {
      return compile();
    } finally {
      this.orIndexable = outer;
    }
  }

  /**
   * Whether an index answers the condition within the account (ValueExpr.indexed; for a multi-valued attribute,
   * only on owned rows): a comparison with an indexed operator, an `and` with one such term, an `or` of them all.
   * A filter this cannot read (an unknown attribute) is not indexed here: compiling it raises the error.
   */
  private indexed(node: FilterNode): boolean {
    try {
      switch (node.op) {
        case 'and':
          return node.filters.some((f) => this.indexed(f));
        case 'or':
          return node.filters.every((f) => this.indexed(f));
        case 'not':
        case 'pr':
          return false;
        case '[]': {
          const path = resolveForFilter(this.mapping.resourceType, node.attrPath);
          if (!path.attribute.multiValued || path.attribute.type !== 'complex' || path.subAttribute) return false;
          const storage = this.storage(path);
          if (storage.kind !== 'collection') return false;
          const subs = new Map<string, string>();
          collectSubAttributes(node.filter, (relative) => {
            subs.set(relative, resolveForFilter(this.mapping.resourceType, `${path.canonical}.${relative}`).subAttribute!.name);
          });
          // The collection valuePath reads: the rows, unless a sub-attribute is only in the jsonb fallback.
          const collection = chooseCollection(storage, [...subs.values()], path.canonical);
          if (!collection.owned) return false;
          const within = (f: FilterNode): boolean => {
            switch (f.op) {
              case 'and': return f.filters.some(within);
              case 'or': return f.filters.every(within);
              case 'not': case 'pr': case '[]': return false;
              default: return indexedComparison(collection.subAttribute!(subs.get(f.attrPath)!), f);
            }
          };
          return within(node.filter);
        }
        default: {
          const path = resolveForFilter(this.mapping.resourceType, node.attrPath);
          const { attribute } = path;
          if (!attribute.multiValued) {
            const storage = this.storage(path);
            return storage.kind === 'value' && indexedComparison(storage.expr, node);
          }
          const storage = this.storage(attributeOnly(path));
          if (storage.kind !== 'collection') return false;
          if (attribute.type !== 'complex') return storage.collection.owned !== undefined && indexedComparison(storage.collection.element, node);
          const sub = path.subAttribute ?? attribute.subAttributes?.find((s) => s.name === 'value');
          if (!sub) return false;
          const collection = chooseCollection(storage, [sub.name], path.canonical);
          return collection.owned !== undefined && indexedComparison(collection.subAttribute!(sub.name), node);
        }
      }
    } catch (error) {
      if (error instanceof DomainError) return false;
      throw error;
    }
  }

  /** The elements of `collection` on which `condition` holds, read uncorrelated when IndexedOr allows it, else `exists`. */
  private anyElement(collection: Collection, condition: string, indexed: boolean): string {
    const owned = collection.owned;
    if (!indexed || !owned || !this.scope || !this.inOr || !this.orIndexable) return exists(collection, condition);
    this.arrays++;
    return `${owned.key} = any(array(select ${owned.owner} from ${collection.from} where ${condition} and ${owned.account} = ${this.bind(this.scope.accountId)}::uuid))`;
  }

  /** Comparisons of one attribute with eq, co, sw or ew, as one condition; one by one where that is not possible. */
  private anyOf(terms: ComparisonNode[]): string {
    const oneByOne = () => terms.map((t) => this.node(t)).join(' or ');
    const path = resolveForFilter(this.mapping.resourceType, terms[0]!.attrPath);
    const { attribute } = path;
    let expr: ValueExpr | undefined;
    let def: AttributeDef | undefined;
    let collection: Collection | undefined;
    if (attribute.multiValued) {
      const storage = this.storage(attributeOnly(path));
      if (storage.kind !== 'collection') return oneByOne();
      if (attribute.type === 'complex') {
        def = path.subAttribute ?? attribute.subAttributes?.find((s) => s.name === 'value');
        if (!def) return oneByOne();
        collection = chooseCollection(storage, [def.name], path.canonical);
        expr = collection.subAttribute!(def.name);
      } else {
        collection = storage.collection;
        expr = collection.element;
        def = attribute;
      }
    } else if (attribute.type !== 'complex' || path.subAttribute) {
      const storage = this.storage(path);
      if (storage.kind === 'value') {
        expr = storage.expr;
        def = path.subAttribute ?? attribute;
      }
    }
    const condition = expr && def ? this.stringAnyOf(expr, def, terms) : undefined;
    if (condition === undefined) return oneByOne();
    // `= any(…)` is one btree search; `like any(…)` is not (a btree reads one LIKE prefix as a range).
    const indexed = terms.every((t) => t.op === 'eq' && indexedComparison(expr, t));
    return collection ? this.anyElement(collection, condition, indexed) : condition;
  }

  /** What stringLeaf compares for each term, as one condition; undefined when the values are not compared as text. */
  private stringAnyOf(expr: ValueExpr, def: AttributeDef, terms: ComparisonNode[]): string | undefined {
    if (!stringTypes.has(def.type) || def.type === 'binary' || expr.kind === 'const') return undefined;
    const caseExact = def.caseExact === true;
    const values = terms.map((t) => ({ op: t.op, value: caseExact ? (t.value as string) : (t.value as string).toLowerCase() }));
    if (expr.kind === 'sql' && expr.sqlType === 'uuid') {
      if (values.some((v) => v.op !== 'eq')) return undefined;
      // As stringLeaf: a uuid's text is lower case, so another spelling names no resource.
      const ids = values.map((v) => v.value).filter((v) => uuidPattern.test(v) && v === v.toLowerCase());
      return ids.length === 0 ? 'false' : guard(expr, `${expr.sql} = any(${this.bind(ids)}::uuid[])`);
    }
    const text = expr.kind === 'jsonb' ? expr.text : expr.sqlType === 'unknown' ? `(${expr.sql})::text` : expr.sql;
    const compared = !caseExact && !(expr.kind === 'sql' && expr.caseless) ? `lower(${text})` : text;
    const equal = values.filter((v) => v.op === 'eq').map((v) => v.value);
    const patterns = values.filter((v) => v.op !== 'eq').map((v) => likePattern(v.op, v.value));
    const parts = [
      ...(equal.length > 0 ? [`${compared} = any(${this.bind(equal)}::text[])`] : []),
      ...(patterns.length > 0 ? [`${compared} like any(${this.bind(patterns)}::text[])`] : []),
    ];
    return guard(expr, parts.length === 1 ? parts[0]! : `(${parts.join(' or ')})`, text);
  }

  private storage(path: ResolvedPath): AttributeStorage {
    const storage = this.mapping.storage(path);
    if (storage.kind === 'unavailable') throw invalidFilter(storage.reason);
    return storage;
  }

  /** `attrPath op value` (or `attrPath pr`) at the level of the resource. */
  private attributeCondition(attrPath: string, op: ComparisonOperator | 'pr', value: ComparisonValue | undefined): string {
    const path = resolveForFilter(this.mapping.resourceType, attrPath);
    const { attribute } = path;
    // On a multi-valued attribute, ne means that no element equals the value (so also true when there is none).
    if (attribute.multiValued && op === 'ne') return `(not ${this.negated(() => this.attributeCondition(attrPath, 'eq', value))})`;
    if (attribute.multiValued) {
      const storage = this.storage(attributeOnly(path));
      if (storage.kind !== 'collection') throw new Error(`${path.canonical}: a multi-valued attribute needs a collection mapping`);
      const comparison = op === 'pr' ? undefined : { op, value: value ?? null };
      if (attribute.type !== 'complex') {
        const collection = storage.collection;
        const indexed = comparison !== undefined && indexedComparison(collection.element, comparison);
        return this.anyElement(collection, this.leaf(collection.element!, attribute, path.canonical, op, value), indexed);
      }
      let sub = path.subAttribute;
      if (!sub) {
        if (op === 'pr') return exists(storage.collection, 'true');
        // RFC 7644 §3.4.2.2: a multi-valued complex attribute compared as a whole means its value sub-attribute.
        sub = attribute.subAttributes?.find((s) => s.name === 'value');
        if (!sub) throw invalidFilter(`'${path.canonical}' has no value sub-attribute; name one of its sub-attributes`);
      }
      const collection = chooseCollection(storage, [sub.name], path.canonical);
      const expr = collection.subAttribute!(sub.name)!;
      const indexed = comparison !== undefined && indexedComparison(expr, comparison);
      return this.anyElement(collection, this.leaf(expr, sub, `${attribute.name}.${sub.name}`, op, value), indexed);
    }
    if (attribute.type === 'complex' && !path.subAttribute) {
      const storage = this.storage(path);
      if (op === 'pr' && storage.kind === 'object') return jsonbPresent(storage.json);
      // A singular reference attribute compared as a whole (Entra ID's `manager eq "<id>"` for the enterprise
      // manager) means its value, as for multi-valued attributes (RFC 7644 §3.4.2.2).
      if (op !== 'pr' && attribute.subAttributes?.some((s) => s.name === 'value')) return this.attributeCondition(`${path.canonical}.value`, op, value);
      throw invalidFilter(`'${path.canonical}' is complex: compare one of its sub-attributes, e.g. '${path.canonical}.${attribute.subAttributes?.[0]?.name ?? 'value'}'`);
    }
    const storage = this.storage(path);
    if (storage.kind !== 'value') throw new Error(`${path.canonical}: a singular attribute needs a value mapping`);
    return this.leaf(storage.expr, path.subAttribute ?? attribute, path.canonical, op, value);
  }

  /** `emails[type eq "work" and value co "@x"]`: every condition on the same element. */
  private valuePath(attrPath: string, filter: FilterNode): string {
    const path = resolveForFilter(this.mapping.resourceType, attrPath);
    if (path.subAttribute || path.attribute.type !== 'complex') {
      throw invalidFilter(`'${attrPath}' is not a complex attribute, so it cannot take a value filter '[…]'`);
    }
    const subs = new Map<string, AttributeDef>();
    collectSubAttributes(filter, (relative) => {
      if (relative.includes(':') || relative.includes('.')) {
        throw invalidFilter(`Inside '${attrPath}[…]' name sub-attributes of ${path.attribute.name} only, not '${relative}'`);
      }
      const sub = resolveForFilter(this.mapping.resourceType, `${path.canonical}.${relative}`).subAttribute!;
      subs.set(relative, sub);
    });
    if (!path.attribute.multiValued) {
      // A singular complex attribute: the conditions read its sub-attributes at the resource level.
      return this.node(prefixPaths(filter, path.canonical));
    }
    const storage = this.storage(path);
    if (storage.kind !== 'collection') throw new Error(`${path.canonical}: a multi-valued attribute needs a collection mapping`);
    const collection = chooseCollection(storage, [...subs.values()].map((s) => s.name), path.canonical);
    const element = (node: FilterNode): string => {
      switch (node.op) {
        case 'and':
        case 'or':
          return `(${node.filters.map(element).join(` ${node.op} `)})`;
        case 'not':
          return `(not ${element(node.filter)})`;
        case '[]':
          throw invalidFilter('Value filters cannot be nested');
        default: {
          const sub = subs.get(node.attrPath)!;
          const value = node.op === 'pr' ? undefined : node.value;
          return this.leaf(collection.subAttribute!(sub.name)!, sub, `${path.attribute.name}.${sub.name}`, node.op, value);
        }
      }
    };
    return this.anyElement(collection, element(filter), this.indexed({ op: '[]', attrPath, filter }));
  }

  /** One comparison on one value expression, typed by the attribute definition. Never NULL. */
  private leaf(expr: ValueExpr, def: AttributeDef, name: string, op: ComparisonOperator | 'pr', value: ComparisonValue | undefined): string {
    if (op === 'pr') return present(expr, def);
    if (value === null) {
      throw invalidFilter(`'${name} ${op} null' compares nothing: null is only meaningful with eq (absent) and ne (present)`);
    }
    if (op === 'ne') return `(not ${this.leaf(expr, def, name, 'eq', value)})`;
    const type = def.type;
    if (type === 'boolean') return this.booleanLeaf(expr, name, op, value!);
    if (type === 'integer' || type === 'decimal') return this.numberLeaf(expr, type, name, op, value!);
    if (type === 'dateTime') return this.dateLeaf(expr, name, op, value!);
    if (stringTypes.has(type)) return this.stringLeaf(expr, def, name, op, value!);
    throw invalidFilter(`'${name}' is complex: compare one of its sub-attributes`);
  }

  private stringLeaf(expr: ValueExpr, def: AttributeDef, name: string, op: ComparisonOperator, value: string | number | boolean): string {
    if (typeof value !== 'string') throw invalidFilter(`'${name}' is a string attribute: compare it with a double-quoted string, not ${JSON.stringify(value)}`);
    if (def.type === 'binary' && op !== 'eq') throw invalidFilter(`'${op}' is not defined for the binary attribute '${name}' (use eq, ne or pr)`);
    const caseExact = def.type === 'binary' || def.caseExact === true;
    if (expr.kind === 'const') return constantString(expr.value, caseExact, op, value) ? 'true' : 'false';
    if (expr.kind === 'sql' && expr.sqlType === 'uuid') {
      // A uuid's text is lower case: a caseExact id (RFC 7643 §3.1) in another case names no resource.
      const wanted = caseExact ? value : value.toLowerCase();
      if (op === 'eq') return uuidPattern.test(wanted) && wanted === wanted.toLowerCase() ? guard(expr, `${expr.sql} = ${this.bind(wanted)}::uuid`) : 'false';
      return guard(expr, this.textComparison(`${expr.sql}::text`, op, wanted));
    }
    const text = expr.kind === 'jsonb' ? expr.text : expr.sqlType === 'unknown' ? `(${expr.sql})::text` : expr.sql;
    const fold = !caseExact && !(expr.kind === 'sql' && expr.caseless);
    const compared = fold ? `lower(${text})` : text;
    const comparedValue = caseExact ? value : value.toLowerCase();
    return guard(expr, this.textComparison(compared, op, comparedValue), text);
  }

  private textComparison(sql: string, op: ComparisonOperator, value: string): string {
    if (op === 'co' || op === 'sw' || op === 'ew') return `${sql} like ${this.bind(likePattern(op, value))}`;
    return `${sql} ${sqlOperator[op]} ${this.bind(value)}`;
  }

  private booleanLeaf(expr: ValueExpr, name: string, op: ComparisonOperator, value: string | number | boolean): string {
    if (op === 'gt' || op === 'ge' || op === 'lt' || op === 'le') throw invalidFilter(`Ordering is not defined for booleans: '${name} ${op}' (use eq, ne or pr)`);
    if (op !== 'eq') throw invalidFilter(`'${op}' is not defined for the boolean attribute '${name}' (use eq, ne or pr)`);
    // Entra ID sends booleans as the strings "True" / "False" (as in its PATCH values): read them by the attribute's type.
    if (typeof value === 'string' && /^(true|false)$/i.test(value)) value = value.toLowerCase() === 'true';
    if (typeof value !== 'boolean') throw invalidFilter(`'${name}' is boolean: compare it with true or false, not ${JSON.stringify(value)}`);
    if (expr.kind === 'jsonb') return `coalesce(${expr.json} = ${this.bind(JSON.stringify(value))}::jsonb, false)`;
    if (expr.kind === 'const') throw new Error('boolean constants are not supported');
    return guard(expr, `${expr.sql} = ${this.bind(value)}`);
  }

  private numberLeaf(expr: ValueExpr, type: 'integer' | 'decimal', name: string, op: ComparisonOperator, value: string | number | boolean): string {
    if (op === 'co' || op === 'sw' || op === 'ew') throw invalidFilter(`'${op}' is not defined for the number attribute '${name}'`);
    if (typeof value !== 'number' || (type === 'integer' && !Number.isInteger(value))) {
      throw invalidFilter(`'${name}' is ${type === 'integer' ? 'an integer' : 'a decimal'}: compare it with ${type === 'integer' ? 'an integer' : 'a number'}, not ${JSON.stringify(value)}`);
    }
    if (expr.kind === 'jsonb') {
      return `coalesce(${jsonbNumber(expr)} ${sqlOperator[op]} ${this.bind(value)}::numeric, false)`;
    }
    if (expr.kind === 'const') throw new Error('number constants are not supported');
    return guard(expr, `${expr.sql} ${sqlOperator[op]} ${this.bind(value)}`);
  }

  /**
   * dateTime values compare at millisecond precision (what SCIM responses show): a stored
   * 12:00:00.123456 equals "12:00:00.123Z". Written as ranges on the raw column so its index applies.
   */
  private dateLeaf(expr: ValueExpr, name: string, op: ComparisonOperator, value: string | number | boolean): string {
    if (op === 'co' || op === 'sw' || op === 'ew') throw invalidFilter(`'${op}' is not defined for the dateTime attribute '${name}'`);
    const ms = typeof value === 'string' ? parseDateTime(value) : undefined;
    if (ms === undefined) throw invalidFilter(`'${name}' is a dateTime: compare it with an xsd:dateTime string such as "2026-01-31T12:00:00Z", not ${JSON.stringify(value)}`);
    if (expr.kind === 'const') throw new Error('dateTime constants are not supported');
    const column = expr.kind === 'jsonb' ? jsonbTimestamp(expr) : expr.sql;
    const from = new Date(ms).toISOString();
    const to = new Date(ms + 1).toISOString();
    const at = (bound: string) => `${this.bind(bound)}::timestamptz`;
    let sql: string;
    switch (op) {
      case 'eq': sql = `${column} >= ${at(from)} and ${column} < ${at(to)}`; break;
      case 'gt': sql = `${column} >= ${at(to)}`; break;
      case 'ge': sql = `${column} >= ${at(from)}`; break;
      case 'lt': sql = `${column} < ${at(from)}`; break;
      default: sql = `${column} < ${at(to)}`; break;
    }
    return expr.kind === 'jsonb' ? `coalesce(${sql}, false)` : guard(expr, sql);
  }
}

/** The path of the attribute itself: "emails.value" → "emails". */
export function attributeOnly(path: ResolvedPath): ResolvedPath {
  if (!path.subAttribute) return path;
  return { ...path, subAttribute: undefined, canonical: path.canonical.slice(0, -(path.subAttribute.name.length + 1)) };
}

/** Whether an index answers `expr op value` (ValueExpr.indexed), for a string value. */
function indexedComparison(expr: ValueExpr | undefined, comparison: { op: ComparisonOperator | 'pr'; value?: ComparisonValue }): boolean {
  const { op } = comparison;
  if (expr?.kind !== 'sql' || typeof comparison.value !== 'string' || (op !== 'eq' && op !== 'sw' && op !== 'co' && op !== 'ew')) return false;
  return expr.indexed?.includes(op) === true;
}

const sqlOperator: Record<'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le', string> = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };

/** `cmp` is NULL only when the value is; `x is not null and cmp` keeps index use where coalesce() would not. */
function guard(expr: ValueExpr, cmp: string, text?: string): string {
  if (expr.kind === 'sql' && !expr.nullable) return cmp;
  if (expr.kind === 'sql' && /\bselect\b/i.test(expr.sql)) return `coalesce(${cmp}, false)`;
  const value = text ?? (expr.kind === 'jsonb' ? expr.text : expr.kind === 'sql' ? expr.sql : "''");
  return `(${value} is not null and ${cmp})`;
}

function constantString(actual: string, caseExact: boolean, op: ComparisonOperator, value: string): boolean {
  const a = caseExact ? actual : actual.toLowerCase();
  const v = caseExact ? value : value.toLowerCase();
  switch (op) {
    case 'eq': return a === v;
    case 'co': return a.includes(v);
    case 'sw': return a.startsWith(v);
    case 'ew': return a.endsWith(v);
    case 'gt': return a > v;
    case 'ge': return a >= v;
    case 'lt': return a < v;
    case 'le': return a <= v;
    default: return a !== v;
  }
}

/** Present: not null, not an empty string, not an empty array or object (RFC 7644 §3.4.2.2). */
function present(expr: ValueExpr, def: AttributeDef): string {
  if (expr.kind === 'const') return expr.value !== '' ? 'true' : 'false';
  if (expr.kind === 'jsonb') return jsonbPresent(expr.json);
  const isText = stringTypes.has(def.type) && expr.sqlType !== 'uuid';
  if (isText) {
    const text = expr.sqlType === 'unknown' ? `(${expr.sql})::text` : expr.sql;
    return expr.nullable ? `(${expr.sql} is not null and ${text} <> '')` : `${text} <> ''`;
  }
  return expr.nullable ? `(${expr.sql} is not null)` : 'true';
}

function jsonbPresent(json: string): string {
  return `coalesce(${json} not in ('null'::jsonb, '""'::jsonb, '[]'::jsonb, '{}'::jsonb), false)`;
}

/** A jsonb number as numeric; NULL for anything else (no cast error on unexpected data). */
export function jsonbNumber(expr: { json: string }): string {
  return `(case when jsonb_typeof(${expr.json}) = 'number' then (${expr.json})::numeric end)`;
}

/** A jsonb string that looks like an ISO date as timestamptz; NULL for anything else. */
export function jsonbTimestamp(expr: { json: string; text: string }): string {
  return `(case when jsonb_typeof(${expr.json}) = 'string' and ${expr.text} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' then (${expr.text})::timestamptz end)`;
}

function exists(collection: Collection, condition: string): string {
  const where = [collection.where, condition === 'true' ? '' : condition].filter((c) => c !== '').join(' and ');
  return `exists (select 1 from ${collection.from}${where ? ` where ${where}` : ''})`;
}

function chooseCollection(storage: AttributeStorage & { kind: 'collection' }, subNames: string[], canonical: string): Collection {
  const holds = (c: Collection | undefined) => c?.subAttribute !== undefined && subNames.every((n) => c.subAttribute!(n) !== undefined);
  if (holds(storage.collection)) return storage.collection;
  if (holds(storage.fallback)) return storage.fallback!;
  throw invalidFilter(`'${canonical}.${subNames.find((n) => storage.collection.subAttribute?.(n) === undefined)}' is not filterable`);
}

function collectSubAttributes(node: FilterNode, visit: (attrPath: string) => void): void {
  switch (node.op) {
    case 'and':
    case 'or':
      node.filters.forEach((f) => collectSubAttributes(f, visit));
      return;
    case 'not':
      collectSubAttributes(node.filter, visit);
      return;
    case '[]':
      throw invalidFilter('Value filters cannot be nested');
    default:
      visit(node.attrPath);
  }
}

function prefixPaths(node: FilterNode, prefix: string): FilterNode {
  switch (node.op) {
    case 'and':
    case 'or':
      return { op: node.op, filters: node.filters.map((f) => prefixPaths(f, prefix)) };
    case 'not':
      return { op: 'not', filter: prefixPaths(node.filter, prefix) };
    case '[]':
      throw invalidFilter('Value filters cannot be nested');
    default:
      return { ...node, attrPath: `${prefix}.${node.attrPath}` };
  }
}

const dateTimePattern = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

/** xsd:dateTime (a date alone is midnight UTC; no offset means UTC) → epoch milliseconds, or undefined. */
export function parseDateTime(value: string): number | undefined {
  const m = dateTimePattern.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', zone = 'Z'] = m;
  const ms = fraction ? fraction.slice(1, 4).padEnd(3, '0') : '000';
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const time = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}${offset}`);
  if (Number.isNaN(time)) return undefined;
  // Date.parse accepts 2026-02-31 as March 3rd: check the calendar date survived.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  return time;
}

/** The filter as a boolean SQL expression with `?` placeholders, for `whereRaw(sql, bindings)`. */
export function compileFilter(node: FilterNode, mapping: ResourceSqlMapping, scope?: FilterScope): CompiledFilter {
  const compiler = new Compiler(mapping, scope);
  const sql = compiler.node(withNullAsPresence(node));
  return { sql, bindings: compiler.bindings };
}

export interface SortExpression {
  sql: string;
  type: AttributeType;
}

const invalidSort = (detail: string): DomainError => new DomainError('invalidValue', detail);

/** A typed, sortable SQL expression of one value (strings folded to lower() unless caseExact). */
function sortValue(expr: ValueExpr, def: AttributeDef): string {
  if (expr.kind === 'const') return `'${expr.value.replace(/'/g, "''")}'`;
  if (expr.kind === 'jsonb') {
    if (def.type === 'integer' || def.type === 'decimal') return jsonbNumber(expr);
    if (def.type === 'dateTime') return jsonbTimestamp(expr);
    if (def.type === 'boolean') return `(${expr.json} = 'true'::jsonb)`;
    return def.caseExact || def.type === 'binary' ? expr.text : `lower(${expr.text})`;
  }
  if (!stringTypes.has(def.type) || expr.sqlType === 'uuid') return expr.sql;
  const text = expr.sqlType === 'unknown' ? `(${expr.sql})::text` : expr.sql;
  return def.caseExact || def.type === 'binary' || expr.caseless ? text : `lower(${text})`;
}

/**
 * The ORDER BY expression for sortBy (RFC 7644 §3.4.2.3): any singular attribute; a multi-valued attribute
 * sorts by its primary value, else its first. Unknown or unsortable attributes are invalidValue.
 */
export function sortExpression(mapping: ResourceSqlMapping, sortBy: string): SortExpression {
  let path: ResolvedPath;
  try {
    path = resolveLenient(mapping.resourceType, sortBy);
  } catch (error) {
    if (error instanceof UnknownAttributeError) throw invalidSort(`Unknown attribute '${sortBy}' in sortBy for resource type ${mapping.resourceType.name}`);
    throw error;
  }
  const { attribute } = path;
  let def: AttributeDef = path.subAttribute ?? attribute;
  if (attribute.multiValued && attribute.type === 'complex' && !path.subAttribute) {
    const value = attribute.subAttributes?.find((s) => s.name === 'value');
    if (!value) throw invalidSort(`'${path.canonical}' cannot be sorted: name one of its sub-attributes`);
    def = value;
    path = { ...path, subAttribute: value, canonical: `${path.canonical}.value` };
  }
  const rule = mapping.sortRule?.(path);
  if (rule && 'refuse' in rule) throw invalidSort(rule.refuse);
  if (rule && 'sql' in rule) return { sql: rule.sql, type: def.type };
  if (def.type === 'complex') throw invalidSort(`'${path.canonical}' is complex: sort by one of its sub-attributes`);
  const storage = mapping.storage(attribute.multiValued ? attributeOnly(path) : path);
  if (storage.kind === 'unavailable') throw invalidSort(storage.reason.replace(/filterable/g, 'sortable'));
  if (storage.kind === 'value') {
    // A constant (meta.resourceType on a list of one type) orders nothing, and PostgreSQL refuses it in ORDER BY.
    if (storage.expr.kind === 'const') throw invalidSort(`'${path.canonical}' is the same for every resource listed: it cannot be sorted`);
    return { sql: sortValue(storage.expr, def), type: def.type };
  }
  if (storage.kind === 'collection') {
    const collection = attribute.type === 'complex' ? chooseSortCollection(storage, def.name, path.canonical) : storage.collection;
    const expr = attribute.type === 'complex' ? collection.subAttribute!(def.name)! : collection.element!;
    const where = collection.where ? ` where ${collection.where}` : '';
    return { sql: `(select ${sortValue(expr, def)} from ${collection.from}${where} order by ${collection.primaryFirst} limit 1)`, type: def.type };
  }
  throw invalidSort(`'${path.canonical}' cannot be sorted`);
}

function chooseSortCollection(storage: AttributeStorage & { kind: 'collection' }, sub: string, canonical: string): Collection {
  try {
    return chooseCollection(storage, [sub], canonical);
  } catch {
    throw invalidSort(`'${canonical}' is not sortable`);
  }
}
