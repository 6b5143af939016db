import SCIMMY from 'scimmy';
import { DomainError } from '../domain/errors.js';
import { checkResourceLimits } from '../domain/attribute-limits.js';
import type { AttributeDef, ResourceTypeDef } from '../domain/scim-schema.js';

type ScimmySchema = InstanceType<typeof SCIMMY.Types.SchemaDefinition>;
export type JsonObject = Record<string, unknown>;

const booleanWord = /^(true|false)$/i;

/** Entra ID sends booleans as "True"/"False"; read them by the attribute's declared type. */
function normaliseValue(attribute: AttributeDef, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (attribute.multiValued && Array.isArray(value)) {
    return value.map((item) => normaliseValue({ ...attribute, multiValued: false }, item));
  }
  if (attribute.type === 'boolean' && typeof value === 'string' && booleanWord.test(value.trim())) {
    return value.trim().toLowerCase() === 'true';
  }
  if (attribute.type === 'complex' && typeof value === 'object' && !Array.isArray(value)) {
    const out: JsonObject = {};
    for (const [key, sub] of Object.entries(value as JsonObject)) {
      const def = attribute.subAttributes?.find((s) => s.name.toLowerCase() === key.toLowerCase());
      out[key] = def ? normaliseValue(def, sub) : sub;
    }
    return out;
  }
  return value;
}

export function normaliseBooleans(body: JsonObject, resourceType: ResourceTypeDef): JsonObject {
  const out: JsonObject = {};
  const extensions = new Map(resourceType.extensions.map((e) => [e.schema.id.toLowerCase(), e.schema]));
  for (const [key, value] of Object.entries(body)) {
    const extension = extensions.get(key.toLowerCase());
    if (extension && value && typeof value === 'object' && !Array.isArray(value)) {
      const inner: JsonObject = {};
      for (const [name, v] of Object.entries(value as JsonObject)) {
        const def = extension.attributes.find((a) => a.name.toLowerCase() === name.toLowerCase());
        inner[name] = def ? normaliseValue(def, v) : v;
      }
      out[key] = inner;
      continue;
    }
    const def = resourceType.schema.attributes.find((a) => a.name.toLowerCase() === key.toLowerCase());
    out[key] = def ? normaliseValue(def, value) : value;
  }
  return out;
}

/** RFC 7643 §2.5: null is the same as unassigned; drop it before validation. */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== null).map(withoutNulls);
  if (value && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value as JsonObject)) if (v !== null) out[k] = withoutNulls(v);
    return out;
  }
  return value;
}

interface CanonicalMiss {
  path: string;
  allowed: readonly string[];
  got?: unknown;
}

/**
 * The attribute named `name` (at any depth, extensions included) whose canonical values the input breaks: its
 * path, the values allowed and the one given. scimmy's own error names only the attribute.
 */
function canonicalMiss(resourceType: ResourceTypeDef, input: JsonObject, name: string): CanonicalMiss | undefined {
  const lower = name.toLowerCase();
  // An extension's attributes follow its URN after a colon (urn:…:User:accountAdmin), sub-attributes after a dot.
  const search = (attributes: readonly AttributeDef[], value: unknown, path: string, separator = '.'): CanonicalMiss | undefined => {
    for (const attribute of attributes) {
      const label = path ? `${path}${separator}${attribute.name}` : attribute.name;
      const key = value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value).find((k) => k.toLowerCase() === attribute.name.toLowerCase()) : undefined;
      const given = key === undefined ? undefined : (value as JsonObject)[key];
      const items = attribute.multiValued && Array.isArray(given) ? given : [given];
      if (attribute.name.toLowerCase() === lower && attribute.canonicalValues) {
        const bad = items.find((item) => item !== undefined && !attribute.canonicalValues!.includes(item as string));
        if (bad !== undefined || given === undefined) return { path: label, allowed: attribute.canonicalValues, ...(bad !== undefined ? { got: bad } : {}) };
      }
      if (attribute.subAttributes) {
        for (const item of items) {
          const found = search(attribute.subAttributes, item, label);
          if (found && found.got !== undefined) return found;
        }
      }
    }
    return undefined;
  };
  const inCore = search(resourceType.schema.attributes, input, '');
  if (inCore?.got !== undefined) return inCore;
  for (const extension of resourceType.extensions) {
    const key = Object.keys(input).find((k) => k.toLowerCase() === extension.schema.id.toLowerCase());
    const found = search(extension.schema.attributes, key ? input[key] : undefined, extension.schema.id, ':');
    if (found?.got !== undefined) return found;
  }
  return inCore;
}

/**
 * scimmy reports schema violations as TypeErrors or its own SCIMError; both become one DomainError. A value outside an
 * attribute's canonical values is reported with the values allowed (what the client needs to fix it).
 */
export function toDomainError(error: unknown, resourceType?: ResourceTypeDef, input?: JsonObject): DomainError {
  if (error instanceof DomainError) return error;
  const e = error as { status?: number; scimType?: string; message?: string };
  const detail = e.message ?? String(error);
  const canonical = /^Attribute '([^']+)' contains non-canonical value( from complex attribute '[^']+')?$/.exec(detail);
  const miss = canonical && resourceType && input ? canonicalMiss(resourceType, input, canonical[1]!) : undefined;
  if (miss) {
    const allowed = miss.allowed.length > 0 ? `one of ${miss.allowed.map((v) => JSON.stringify(v)).join(', ')}` : 'left out (no value is allowed)';
    return new DomainError('invalidValue', `${miss.path} must be ${allowed}${miss.got !== undefined ? `, not ${JSON.stringify(miss.got)}` : ''}`);
  }
  if (e.scimType === 'mutability') return new DomainError('mutability', detail);
  if (e.scimType === 'invalidSyntax') return new DomainError('invalidSyntax', detail);
  return new DomainError('invalidValue', detail);
}

/** A schema id as identity providers send them: a URN, or a URL (Microsoft's ADSCIM extension URNs are http URLs). */
const SCHEMA_ID = /^(urn:[a-z0-9][a-z0-9-]{0,31}:\S+|https?:\/\/\S+)$/i;

/**
 * The document without extension schemas we do not define (RFC 7643 §3: extensions a service provider does not
 * support): Entra ID adds Microsoft's own URN beside the core one on Users and Groups. Their attribute blocks go
 * with them; the rest is validated as usual.
 */
function withoutSchemas(input: JsonObject, unknown: string[]): JsonObject {
  const drop = new Set(unknown.map((s) => s.toLowerCase()));
  const out: JsonObject = {};
  for (const key in input) if (!drop.has(key.toLowerCase())) out[key] = input[key];
  out.schemas = (input.schemas as string[]).filter((s) => !drop.has(s.toLowerCase()));
  return out;
}

/**
 * Validates and canonicalises an incoming resource (POST/PUT) with scimmy: attribute names to their
 * canonical case, types checked, required attributes enforced, readOnly and unknown attributes dropped.
 */
export function coerceResource(body: unknown, resourceType: ResourceTypeDef, schema: ScimmySchema): JsonObject {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new DomainError('invalidSyntax', 'The request body must be a JSON object');
  }
  let input = body as JsonObject;
  const schemas = input.schemas;
  if (schemas !== undefined) {
    if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string')) throw new DomainError('invalidSyntax', 'schemas must be an array of schema URNs');
    const known = new Set([resourceType.schema.id, ...resourceType.extensions.map((e) => e.schema.id)].map((s) => s.toLowerCase()));
    const unknown = (schemas as string[]).filter((s) => !known.has(s.toLowerCase()));
    const malformed = unknown.filter((s) => !SCHEMA_ID.test(s));
    if (malformed.length > 0) throw new DomainError('invalidValue', `schemas holds ${malformed.map((s) => JSON.stringify(s)).join(', ')}, which is no schema URN or URL`);
    if (!(schemas as string[]).some((s) => s.toLowerCase() === resourceType.schema.id.toLowerCase())) {
      throw new DomainError('invalidValue', `schemas must include ${resourceType.schema.id}`);
    }
    if (unknown.length > 0) input = withoutSchemas(input, unknown);
  }
  try {
    const coerced = schema.coerce(normaliseBooleans(withoutNulls(input) as JsonObject, resourceType), 'in') as JsonObject;
    delete coerced.meta;
    delete coerced.id;
    // Users are held to their limits on their one write path (UserService), which PATCH, Bulk, sync and import share.
    if (resourceType.name !== 'User') checkResourceLimits(resourceType.name, coerced);
    return coerced;
  } catch (error) {
    throw toDomainError(error, resourceType, input);
  }
}
