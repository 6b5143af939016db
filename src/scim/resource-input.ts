import { DomainError } from '../domain/errors.js';
import { checkResourceLimits } from '../domain/attribute-limits.js';
import { commonAttributes, type AttributeDef, type ResourceTypeDef } from '../domain/scim-schema.js';
import { coerceAttribute, isUnassigned, requirePresent, type CoerceMode } from './patch/patch-value.js';
import { isJsonObject, type JsonValue } from './patch/patch-request.js';

export type JsonObject = Record<string, unknown>;

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

const WHOLE: CoerceMode = { whole: true };

/** The value of each key, by its lower-cased name (the last of two spellings wins, as it did with scimmy). */
function byLowerName(input: JsonObject): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const key in input) values.set(key.toLowerCase(), input[key]);
  return values;
}

/**
 * The attributes of one schema, coerced into `out` in the schema's order: unknown and readOnly attributes dropped
 * (RFC 7643 §2.2: the server's to set), nulls and values that state nothing unassigned (§2.5), required ones enforced.
 */
function coerceAttributes(attributes: readonly AttributeDef[], values: Map<string, unknown>, prefix: string, out: JsonObject): void {
  for (const attribute of attributes) {
    if (attribute.mutability === 'readOnly') continue;
    const value = values.get(attribute.name.toLowerCase());
    if (value === undefined || value === null) continue;
    const coerced = coerceAttribute(attribute, value as JsonValue, `${prefix}${attribute.name}`, WHOLE);
    if (!isUnassigned(coerced)) out[attribute.name] = coerced;
  }
  requirePresent(attributes, out, prefix);
}

/**
 * An extension's attributes as sent: in its block (`"urn:…:enterprise:2.0:User": {…}`), and, as some clients
 * send them, under namespaced keys beside it (`"urn:…:enterprise:2.0:User:manager.value": "…"`).
 */
function extensionValues(id: string, values: Map<string, unknown>): Map<string, unknown> | undefined {
  const lowerId = id.toLowerCase();
  const block = values.get(lowerId);
  if (block !== undefined && block !== null && !isJsonObject(block)) {
    throw new DomainError('invalidValue', `"${id}" must be an object of that extension's attributes`);
  }
  let found = isJsonObject(block) ? byLowerName(block) : undefined;
  for (const [key, value] of values) {
    if (!key.startsWith(`${lowerId}:`)) continue;
    const [name, sub] = key.slice(lowerId.length + 1).split('.', 2) as [string, string | undefined];
    found ??= new Map();
    if (sub === undefined) {
      found.set(name, value);
    } else {
      const parent = found.get(name);
      found.set(name, { ...(isJsonObject(parent) ? parent : {}), [sub]: value });
    }
  }
  return found;
}

/**
 * Validates and canonicalises an incoming resource (POST/PUT) with the coercer PATCH values go through
 * (patch/patch-value.ts): attribute names to their canonical case, types and canonical values checked, required
 * attributes enforced, readOnly and unknown attributes dropped, extensions read by their URN.
 */
export function coerceResource(body: unknown, resourceType: ResourceTypeDef): JsonObject {
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
  const values = byLowerName(input);
  const coerced: JsonObject = { schemas: [resourceType.schema.id] };
  coerceAttributes(commonAttributes, values, '', coerced);
  coerceAttributes(resourceType.schema.attributes, values, '', coerced);
  const named = new Set(((input.schemas as string[] | undefined) ?? []).map((s) => s.toLowerCase()));
  for (const { schema, required } of resourceType.extensions) {
    const extension = extensionValues(schema.id, values);
    if (!extension) {
      if (required) throw new DomainError('invalidValue', `The schema extension ${schema.id} is required: add its attributes`);
      continue;
    }
    const out: JsonObject = {};
    coerceAttributes(schema.attributes, extension, `${schema.id}:`, out);
    coerced[schema.id] = out;
    named.add(schema.id.toLowerCase());
  }
  // schemas: the core schema, then each extension the resource holds or names (canonical spelling, once each).
  (coerced.schemas as string[]).push(...resourceType.extensions.map((e) => e.schema.id).filter((id) => named.has(id.toLowerCase())));
  // Users are held to their limits on their one write path (UserService), which PATCH, Bulk, sync and import share.
  if (resourceType.name !== 'User') checkResourceLimits(resourceType.name, coerced);
  return coerced;
}
