import { DomainError } from '../../domain/errors.js';
import { parseScimFilter, type ComparisonValue, type FilterNode } from '../../domain/scim-filter.js';
import { resolveAttributePath, UnknownAttributeError, type AttributeDef, type ResourceTypeDef } from '../../domain/scim-schema.js';
import type { JsonObject, JsonValue } from './patch-request.js';

/**
 * A PATCH path (RFC 7644 §3.5.2: `attrPath / valuePath [subAttr]`) resolved against a resource type:
 * `attr`, `attr.sub`, `urn:…:attr`, `urn:…:attr.sub`, `attr[filter]`, `attr[filter].sub`.
 */
export interface PatchPath {
  /** Schema URN of the attribute; extension attributes are stored under this key. */
  schemaId: string;
  extension: boolean;
  attribute: AttributeDef;
  /** The valuePath filter selecting elements of a multi-valued attribute. */
  filter?: FilterNode;
  subAttribute?: AttributeDef;
  /** Canonical spelling of the attribute, e.g. "emails" or "urn:…:enterprise:2.0:User:manager". */
  canonical: string;
  /** Canonical spelling of the target, with the sub-attribute when there is one, e.g. "name.givenName". */
  target: string;
}

function findByName(attributes: AttributeDef[] | undefined, name: string): AttributeDef | undefined {
  const lower = name.toLowerCase();
  return attributes?.find((a) => a.name.toLowerCase() === lower);
}

/** Index of the "]" closing the "[" at `open`, skipping quoted strings (a filter value may contain "]"). */
function closingBracket(text: string, open: number): number {
  let quoted = false;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ']') return i;
  }
  return -1;
}

function resolve(resourceType: ResourceTypeDef, attrPath: string, whole: string) {
  try {
    return resolveAttributePath(resourceType, attrPath);
  } catch (error) {
    if (error instanceof UnknownAttributeError) {
      throw new DomainError('invalidPath', `Unknown attribute "${attrPath}" in path "${whole}" for ${resourceType.name}.`);
    }
    throw error;
  }
}

/** Checks that every attribute a valuePath filter names is a sub-attribute of the filtered attribute. */
function checkFilter(filter: FilterNode, attribute: AttributeDef, whole: string): void {
  switch (filter.op) {
    case 'and':
    case 'or':
      for (const f of filter.filters) checkFilter(f, attribute, whole);
      return;
    case 'not':
      checkFilter(filter.filter, attribute, whole);
      return;
    case '[]':
      throw new DomainError('invalidFilter', `Nested "[...]" filters are not allowed inside "${whole}".`);
    default: {
      const name = filter.attrPath;
      if (!subAttributeFor(attribute, name)) {
        const allowed = attribute.type === 'complex' ? attribute.subAttributes?.map((s) => s.name).join(', ') : 'value';
        throw new DomainError('invalidFilter', `"${name}" in "${whole}" is not a sub-attribute of ${attribute.name} (expected one of: ${allowed}).`);
      }
    }
  }
}

/** The definition a filter or element sub-attribute name refers to; "value" is the element itself for simple attributes. */
export function subAttributeFor(attribute: AttributeDef, name: string): AttributeDef | undefined {
  if (attribute.type === 'complex') return findByName(attribute.subAttributes, name);
  return name.toLowerCase() === 'value' ? { ...attribute, multiValued: false } : undefined;
}

export function parsePatchPath(resourceType: ResourceTypeDef, path: string): PatchPath {
  const open = path.indexOf('[');
  if (open < 0) {
    const r = resolve(resourceType, path, path);
    const attrCanonical = r.subAttribute ? r.canonical.slice(0, -(r.subAttribute.name.length + 1)) : r.canonical;
    return { schemaId: r.schemaId, extension: r.extension, attribute: r.attribute, subAttribute: r.subAttribute, canonical: attrCanonical, target: r.canonical };
  }
  const close = closingBracket(path, open);
  if (close < 0) throw new DomainError('invalidPath', `Path "${path}" has a "[" without a matching "]".`);
  const rest = path.slice(close + 1);
  if (rest !== '' && !/^\.[A-Za-z$][\w$-]*$/.test(rest)) {
    throw new DomainError('invalidPath', `Path "${path}": after "]" only ".subAttribute" may follow.`);
  }
  const r = resolve(resourceType, path.slice(0, open), path);
  if (r.subAttribute) throw new DomainError('invalidPath', `Path "${path}": a filter applies to an attribute, not to a sub-attribute.`);
  if (!r.attribute.multiValued) {
    throw new DomainError('invalidPath', `Path "${path}": "${r.attribute.name}" is single-valued; a [filter] applies only to multi-valued attributes.`);
  }
  // The list filters' parser: JSON escapes decoded (the library leaves \u00e9 raw), operators in any case, precise errors.
  let filter: FilterNode;
  try {
    filter = parseScimFilter(path.slice(open + 1, close));
  } catch (error) {
    const reason = error instanceof DomainError ? `: ${error.detail}` : '';
    throw new DomainError('invalidFilter', `Path "${path}": the filter "${path.slice(open + 1, close)}" is not valid SCIM filter syntax (RFC 7644 §3.4.2.2)${reason}.`);
  }
  checkFilter(filter, r.attribute, path);
  let subAttribute: AttributeDef | undefined;
  if (rest) {
    if (r.attribute.type !== 'complex') throw new DomainError('invalidPath', `Path "${path}": "${r.attribute.name}" has no sub-attributes.`);
    subAttribute = findByName(r.attribute.subAttributes, rest.slice(1));
    if (!subAttribute) throw new DomainError('invalidPath', `Path "${path}": "${rest.slice(1)}" is not a sub-attribute of ${r.attribute.name}.`);
  }
  return {
    schemaId: r.schemaId, extension: r.extension, attribute: r.attribute, filter, subAttribute,
    canonical: r.canonical, target: subAttribute ? `${r.canonical}.${subAttribute.name}` : r.canonical,
  };
}

function elementValue(attribute: AttributeDef, element: JsonValue, name: string): JsonValue | undefined {
  if (attribute.type !== 'complex') return element;
  if (typeof element !== 'object' || element === null || Array.isArray(element)) return undefined;
  const lower = name.toLowerCase();
  const key = Object.keys(element).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : element[key];
}

function compare(op: string, actual: JsonValue | undefined, expected: ComparisonValue | undefined, def: AttributeDef): boolean {
  if (op === 'pr') return actual !== undefined && actual !== null && !(Array.isArray(actual) && actual.length === 0);
  if (actual === undefined || actual === null) return op === 'ne' ? expected !== null : op === 'eq' && expected === null;
  let a: unknown = actual;
  let e: unknown = expected;
  if (typeof a === 'string' && typeof e === 'string') {
    if (def.type === 'dateTime') {
      const ta = Date.parse(a);
      const te = Date.parse(e);
      if (!Number.isNaN(ta) && !Number.isNaN(te)) {
        a = ta;
        e = te;
      }
    } else if (!def.caseExact) {
      a = a.toLowerCase();
      e = e.toLowerCase();
    }
  }
  if (typeof a === 'boolean' && typeof e === 'string' && /^(true|false)$/i.test(e)) e = e.toLowerCase() === 'true';
  switch (op) {
    case 'eq': return a === e;
    case 'ne': return a !== e;
    case 'co': return typeof a === 'string' && typeof e === 'string' && a.includes(e);
    case 'sw': return typeof a === 'string' && typeof e === 'string' && a.startsWith(e);
    case 'ew': return typeof a === 'string' && typeof e === 'string' && a.endsWith(e);
    case 'gt': return typeof a === typeof e && (a as number) > (e as number);
    case 'ge': return typeof a === typeof e && (a as number) >= (e as number);
    case 'lt': return typeof a === typeof e && (a as number) < (e as number);
    case 'le': return typeof a === typeof e && (a as number) <= (e as number);
    default: return false;
  }
}

/** Evaluates a valuePath filter against one element, honouring each sub-attribute's caseExact. */
export function matchesFilter(filter: FilterNode, attribute: AttributeDef, element: JsonValue): boolean {
  switch (filter.op) {
    case 'and': return filter.filters.every((f) => matchesFilter(f, attribute, element));
    case 'or': return filter.filters.some((f) => matchesFilter(f, attribute, element));
    case 'not': return !matchesFilter(filter.filter, attribute, element);
    case '[]': return false; // refused by checkFilter before any element is tested
    case 'pr': return compare('pr', elementValue(attribute, element, filter.attrPath), undefined, subAttributeFor(attribute, filter.attrPath)!);
    default: {
      const def = subAttributeFor(attribute, filter.attrPath)!;
      return compare(filter.op, elementValue(attribute, element, filter.attrPath), filter.value, def);
    }
  }
}

/**
 * The sub-attribute values a filter pins when it is a conjunction of `eq` (`type eq "work" and primary eq true`),
 * or undefined for any other filter. Entra relies on this to create the element a valuePath did not find.
 */
export function equalityConjunction(filter: FilterNode): JsonObject | undefined {
  if (filter.op === 'eq') return { [filter.attrPath]: filter.value };
  if (filter.op === 'and') {
    const out: JsonObject = {};
    for (const f of filter.filters) {
      const part = equalityConjunction(f);
      if (!part) return undefined;
      Object.assign(out, part);
    }
    return out;
  }
  return undefined;
}
