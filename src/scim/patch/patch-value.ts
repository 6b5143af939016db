import { DomainError } from '../../domain/errors.js';
import type { AttributeDef } from '../../domain/scim-schema.js';
import { isJsonObject, type JsonObject, type JsonValue } from './patch-request.js';

const typeNames: Record<AttributeDef['type'], string> = {
  string: 'a string', boolean: 'a boolean', decimal: 'a number', integer: 'an integer', dateTime: 'an ISO 8601 dateTime string',
  binary: 'a base64 string', reference: 'a URI string', complex: 'an object',
};

function wrongType(label: string, def: AttributeDef, value: unknown): DomainError {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `${typeof value} ${JSON.stringify(value)}`;
  return new DomainError('invalidValue', `Attribute "${label}" expects ${def.multiValued ? 'an array of ' : ''}${typeNames[def.type]}, got ${got}.`);
}

/** A value outside an attribute's canonical values: the values allowed, which is what the client needs to fix it. */
function canonicalMiss(label: string, allowed: readonly string[], got: JsonValue): DomainError {
  const expected = allowed.length > 0 ? `one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` : 'left out (no value is allowed)';
  return new DomainError('invalidValue', `${label} must be ${expected}, not ${JSON.stringify(got)}`);
}

/** Entra ID sends booleans as "True"/"False" strings. */
const booleanWord = /^\s*(true|false)\s*$/i;

/**
 * How a value is read. A PATCH value is a part of the resource (`whole` false): unknown sub-attributes are refused
 * (the client named them in a path or value it means), null sub-attributes are kept so a merge can clear them. A
 * resource's attribute in a POST or PUT (`whole` true) states the whole value, as scimmy read it before: unknown
 * sub-attributes are dropped, nulls are unassigned (RFC 7643 §2.5), and required sub-attributes must be there.
 */
export interface CoerceMode {
  whole: boolean;
}

const PART: CoerceMode = { whole: false };

/**
 * Coerces one (single) value to the attribute's type. Lenient only where the big clients need it:
 * Entra's "True"/"False" strings for booleans, and a bare string for a complex attribute with a "value"
 * sub-attribute (Entra's manager: "<id>" means manager: {value: "<id>"}). Values outside an attribute's canonical
 * values are refused (RFC 7643 §2.3.1: in any case unless the attribute is caseExact). Sub-attribute keys come back in canonical spelling; readOnly sub-attributes in a request are
 * ignored (RFC 7643 §2.2).
 */
export function coerceSingle(def: AttributeDef, value: JsonValue, label: string, mode: CoerceMode = PART): JsonValue {
  const coerced = coerceType(def, value, label, mode);
  const allowed = def.canonicalValues;
  if (!allowed || def.type === 'complex' || allowed.includes(coerced as string)) return coerced;
  // A string that is not caseExact matches its canonical value in any case, and takes its spelling (Entra's "user").
  const lower = typeof coerced === 'string' && !def.caseExact ? coerced.toLowerCase() : undefined;
  const spelled = lower === undefined ? undefined : allowed.find((v) => v.toLowerCase() === lower);
  if (spelled === undefined) throw canonicalMiss(label, allowed, coerced);
  return spelled;
}

function coerceType(def: AttributeDef, value: JsonValue, label: string, mode: CoerceMode): JsonValue {
  switch (def.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && booleanWord.test(value)) return value.trim().toLowerCase() === 'true';
      throw wrongType(label, def, value);
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      throw wrongType(label, def, value);
    case 'decimal':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      throw wrongType(label, def, value);
    case 'dateTime':
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return value;
      throw wrongType(label, def, value);
    case 'string':
    case 'binary':
    case 'reference':
      if (typeof value === 'string') return value;
      throw wrongType(label, def, value);
    case 'complex': {
      const subs = def.subAttributes ?? [];
      if (typeof value === 'string' && subs.some((s) => s.name === 'value')) value = { value };
      if (!isJsonObject(value)) throw wrongType(label, def, value);
      const out: JsonObject = {};
      for (const key in value) {
        const sub = value[key]!;
        const lower = key.toLowerCase();
        const subDef = subs.find((s) => s.name.toLowerCase() === lower);
        if (!subDef) {
          if (mode.whole) continue;
          throw new DomainError('invalidPath', `"${key}" is not a sub-attribute of "${label}" (known: ${subs.map((s) => s.name).join(', ')}).`);
        }
        if (subDef.mutability === 'readOnly') continue;
        if (sub === null) {
          if (!mode.whole) out[subDef.name] = null;
          continue;
        }
        const coerced = coerceAttribute(subDef, sub, `${label}.${subDef.name}`, mode);
        if (!(mode.whole && isUnassigned(coerced))) out[subDef.name] = coerced;
      }
      if (mode.whole) requirePresent(subs, out, `${label}.`);
      return out;
    }
  }
}

/** Refuses a value that leaves out a required attribute (readOnly ones are the server's to set). */
export function requirePresent(attributes: readonly AttributeDef[], value: Readonly<Record<string, unknown>>, prefix: string): void {
  for (const attribute of attributes) {
    if (attribute.required && attribute.mutability !== 'readOnly' && value[attribute.name] === undefined) {
      throw new DomainError('invalidValue', `Attribute "${prefix}${attribute.name}" is required: add it.`);
    }
  }
}

/**
 * A coerced value that states nothing: a complex value left without sub-attributes (`"name": {}`, or only unknown
 * ones dropped) or an empty array. In a whole resource it is unassigned (RFC 7643 §2.5), so it is neither stored
 * nor returned nor claimed by the writer's source.
 */
export function isUnassigned(value: JsonValue): boolean {
  return Array.isArray(value) ? value.length === 0 : isJsonObject(value) && Object.keys(value).length === 0;
}

/** Coerces a value for a whole attribute: an array for a multi-valued one (a lone value is taken as one element). */
export function coerceAttribute(def: AttributeDef, value: JsonValue, label: string, mode: CoerceMode = PART): JsonValue {
  if (!def.multiValued) return coerceSingle(def, value, label, mode);
  const items = Array.isArray(value) ? value : [value];
  const single = { ...def, multiValued: false };
  const coerced = items.filter((v) => v !== null).map((v) => stripNulls(coerceSingle(single, v, label, mode)));
  return mode.whole ? coerced.filter((v) => !isUnassigned(v)) : coerced;
}

export function stripNulls(value: JsonValue): JsonValue {
  if (!isJsonObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null));
}

/**
 * Structural equality, insensitive to key order; a key holding undefined counts as absent (as in JSON). Walked in
 * place: the sorted-key JSON text of both sides it used to compare cost 12-25 µs of a PATCH's CPU (two copies and two
 * serialisations of the whole user per PATCH, _reads-cpu.ts writes profile); test/unit/patch-value.test.ts holds it to
 * that comparison.
 */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  let count = 0;
  for (const key in a) {
    if (a[key] === undefined) continue;
    if (!jsonEqual(a[key], b[key])) return false;
    count++;
  }
  for (const key in b) if (b[key] !== undefined) count--;
  return count === 0;
}

/** Equality of two values of one attribute, honouring caseExact for strings. */
export function valueEqual(def: AttributeDef, a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (typeof a === 'string' && typeof b === 'string' && !def.caseExact && def.type !== 'binary') return a.toLowerCase() === b.toLowerCase();
  return jsonEqual(a, b);
}
