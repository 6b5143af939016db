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

/**
 * Coerces one (single) value to the attribute's type. Lenient only where the big clients need it:
 * Entra's "True"/"False" strings for booleans, and a bare string for a complex attribute with a "value"
 * sub-attribute (Entra's manager: "<id>" means manager: {value: "<id>"}). Sub-attribute keys come back
 * in canonical spelling; readOnly sub-attributes in a request are ignored (RFC 7643 §2.2); null sub-attributes
 * are kept as null so a merge can clear them.
 */
export function coerceSingle(def: AttributeDef, value: JsonValue, label: string): JsonValue {
  switch (def.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
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
      if (typeof value === 'string' && subs.some((s) => s.name === 'value')) return { value };
      if (!isJsonObject(value)) throw wrongType(label, def, value);
      const out: JsonObject = {};
      for (const [key, sub] of Object.entries(value)) {
        const subDef = subs.find((s) => s.name.toLowerCase() === key.toLowerCase());
        if (!subDef) {
          throw new DomainError('invalidPath', `"${key}" is not a sub-attribute of "${label}" (known: ${subs.map((s) => s.name).join(', ')}).`);
        }
        if (subDef.mutability === 'readOnly') continue;
        out[subDef.name] = sub === null ? null : coerceAttribute(subDef, sub, `${label}.${subDef.name}`);
      }
      return out;
    }
  }
}

/** Coerces a value for a whole attribute: an array for a multi-valued one (a lone value is taken as one element). */
export function coerceAttribute(def: AttributeDef, value: JsonValue, label: string): JsonValue {
  if (!def.multiValued) return coerceSingle(def, value, label);
  const items = Array.isArray(value) ? value : [value];
  return items.filter((v) => v !== null).map((v) => stripNulls(coerceSingle({ ...def, multiValued: false }, v, label)));
}

export function stripNulls(value: JsonValue): JsonValue {
  if (!isJsonObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null));
}

function canonicalJson(value: JsonValue | undefined): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (isJsonObject(value)) return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonicalJson(value[k])]));
  return value;
}

/** Structural equality, insensitive to key order. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return JSON.stringify(canonicalJson(a)) === JSON.stringify(canonicalJson(b));
}

/** Equality of two values of one attribute, honouring caseExact for strings. */
export function valueEqual(def: AttributeDef, a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (typeof a === 'string' && typeof b === 'string' && !def.caseExact && def.type !== 'binary') return a.toLowerCase() === b.toLowerCase();
  return jsonEqual(a, b);
}
