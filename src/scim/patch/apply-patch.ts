import { DomainError } from '../../domain/errors.js';
import type { AttributeDef, ResourceTypeDef } from '../../domain/scim-schema.js';
import { equalityConjunction, matchesFilter, parsePatchPath, type PatchPath } from './patch-path.js';
import { isJsonObject, type JsonObject, type JsonValue, type PatchOpName, type PatchOperation } from './patch-request.js';
import { coerceAttribute, coerceSingle, jsonEqual, stripNulls, valueEqual } from './patch-value.js';

export interface ApplyPatchOptions {
  /** The resource's own id: Okta repeats it in a no-path replace value ({"id": "<own id>", ...}); it is then ignored. */
  id?: string;
}

export interface PatchResult {
  resource: JsonObject;
  changed: boolean;
  /** Canonical paths of the attributes the patch actually changed, in first-change order ("name.givenName", "emails", "urn:…:manager"). */
  touched: string[];
}

interface Run {
  resource: JsonObject;
  resourceType: ResourceTypeDef;
  options: ApplyPatchOptions;
  touched: string[];
}

/**
 * Applies PATCH operations (RFC 7644 §3.5.2) to a stored resource: core attributes at the top level, extension
 * attributes under their URN key, no id/meta. Atomic: works on a clone, so a failing operation throws a
 * DomainError and leaves `resource` untouched. `resource` may be any JSON object (Record<string, unknown> is
 * accepted so callers with a looser JSON type need no cast).
 */
export function applyPatch(
  resource: JsonObject | Record<string, unknown>, ops: PatchOperation[], resourceType: ResourceTypeDef, options: ApplyPatchOptions = {},
): PatchResult {
  const working = structuredClone(resource) as JsonObject;
  const touched = applyOperationsInPlace(working, ops, resourceType, options);
  normalizeSchemas(working, resourceType);
  return { resource: working, changed: !jsonEqual(resource as JsonObject, working), touched };
}

/** Applies the operations to `working` in place (callers clone first); returns the touched paths. */
export function applyOperationsInPlace(working: JsonObject, ops: PatchOperation[], resourceType: ResourceTypeDef, options: ApplyPatchOptions = {}): string[] {
  const touched: string[] = [];
  ops.forEach((op, index) => applyOperationAt(working, op, index, resourceType, options, touched));
  return touched;
}

/** Applies one operation in place; errors name the operation (`Operations[index]`). Appends to `touched`. */
export function applyOperationAt(
  working: JsonObject, op: PatchOperation, index: number, resourceType: ResourceTypeDef, options: ApplyPatchOptions, touched: string[],
): void {
  withOperation(index, op, () => applyOperation({ resource: working, resourceType, options, touched }, op));
}

/** Runs `fn`, adding which operation failed to the detail of a DomainError. */
export function withOperation<T>(index: number, op: PatchOperation, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof DomainError) {
      throw new DomainError(error.kind, `${error.detail} (Operations[${index}]: ${op.op}${op.path !== undefined ? ` "${op.path}"` : ''})`);
    }
    throw error;
  }
}

function schemaIdOf(resourceType: ResourceTypeDef, name: string): string | undefined {
  const lower = name.toLowerCase();
  return [resourceType.schema, ...resourceType.extensions.map((e) => e.schema)].find((s) => s.id.toLowerCase() === lower)?.id;
}

function applyOperation(run: Run, op: PatchOperation): void {
  if (op.path === undefined) {
    applyWithoutPath(run, op.op, op.value as JsonObject);
    return;
  }
  const schemaId = schemaIdOf(run.resourceType, op.path);
  if (schemaId !== undefined) {
    // A path that is a schema URN addresses all of that schema's attributes.
    if (op.op === 'remove') {
      const container = schemaId === run.resourceType.schema.id ? run.resource : run.resource[canonicalKey(run.resource, schemaId) ?? schemaId];
      if (schemaId === run.resourceType.schema.id || !isJsonObject(container)) {
        if (schemaId === run.resourceType.schema.id) throw new DomainError('invalidPath', `The core schema "${schemaId}" cannot be removed.`);
        return;
      }
      for (const key of Object.keys(container)) applyPath(run, 'remove', parsePatchPath(run.resourceType, `${schemaId}:${key}`), undefined);
      return;
    }
    if (!isJsonObject(op.value)) throw new DomainError('invalidValue', `The value for "${schemaId}" must be an object of its attributes.`);
    applyWithoutPath(run, op.op, { [schemaId]: op.value });
    return;
  }
  applyPath(run, op.op, parsePatchPath(run.resourceType, op.path), op.value);
}

/**
 * RFC 7644 §3.5.2.1/§3.5.2.3 without a path: the value's keys are attribute names, dotted paths
 * (Entra: "name.givenName"), URN-qualified names ("urn:…:enterprise:2.0:User:department") or schema URNs
 * whose value holds that schema's attributes.
 */
function applyWithoutPath(run: Run, op: PatchOpName, value: JsonObject): void {
  for (const [key, v] of Object.entries(value)) {
    if (key.toLowerCase() === 'schemas') continue; // managed by the server from the attributes present
    const schemaId = schemaIdOf(run.resourceType, key);
    if (schemaId !== undefined) {
      if (!isJsonObject(v)) throw new DomainError('invalidValue', `The value of "${key}" must be an object of its attributes.`);
      for (const [name, inner] of Object.entries(v)) applyPath(run, op, parsePatchPath(run.resourceType, `${schemaId}:${name}`), inner);
      continue;
    }
    if (key.toLowerCase() === 'id' && run.options.id !== undefined && v === run.options.id) continue;
    applyPath(run, op, parsePatchPath(run.resourceType, key), v);
  }
}

/** Finds `name` among the keys case-insensitively and renames it to the canonical spelling. */
function canonicalKey(object: JsonObject, name: string): string | undefined {
  if (name in object) return name;
  const lower = name.toLowerCase();
  const found = Object.keys(object).find((k) => k.toLowerCase() === lower);
  if (found === undefined) return undefined;
  object[name] = object[found];
  delete object[found];
  return name;
}

function containerFor(run: Run, path: PatchPath, create: boolean): JsonObject | undefined {
  if (!path.extension) return run.resource;
  const key = canonicalKey(run.resource, path.schemaId);
  const existing = key === undefined ? undefined : run.resource[key];
  if (isJsonObject(existing)) return existing;
  if (!create) return undefined;
  const fresh: JsonObject = {};
  run.resource[path.schemaId] = fresh;
  return fresh;
}

function applyPath(run: Run, op: PatchOpName, path: PatchPath, value: JsonValue | undefined): void {
  const { attribute, subAttribute } = path;
  if (attribute.mutability === 'readOnly') {
    throw new DomainError('mutability', `Attribute "${path.canonical}" is readOnly and cannot be changed.`);
  }
  if (subAttribute?.mutability === 'readOnly') {
    throw new DomainError('mutability', `Attribute "${path.target}" is readOnly and cannot be changed.`);
  }
  const container = containerFor(run, path, op !== 'remove');
  if (!container) return; // remove from an extension the resource does not have: nothing to do
  canonicalKey(container, attribute.name);
  const before = structuredClone(container[attribute.name]);
  const written = new Set<JsonValue>();
  if (path.filter) applyFiltered(op, path, container, value, written);
  else if (subAttribute) applySubAttribute(op, path, container, value);
  else applyWhole(op, path, container, value, written);
  const after = container[attribute.name];
  normalizePrimary(attribute, path.canonical, after, written);
  if (jsonEqual(before, after)) return;
  if (attribute.mutability === 'immutable' && before !== undefined) {
    throw new DomainError('mutability', `Attribute "${path.canonical}" is immutable: it may be set once but not changed.`);
  }
  // RFC 7644 §3.5.2.2: removing (or unassigning) a required attribute is a "mutability" error.
  if (attribute.required && after === undefined) {
    throw new DomainError('mutability', `Attribute "${path.canonical}" is required and cannot be removed; replace it instead.`);
  }
  if (!run.touched.includes(path.target)) run.touched.push(path.target);
}

/** Two elements of a multi-valued attribute are the same value: same "value" (and same "type" when both say), else equal. */
function sameElement(attribute: AttributeDef, existing: JsonValue, incoming: JsonValue): boolean {
  if (attribute.type !== 'complex' || !isJsonObject(existing) || !isJsonObject(incoming)) return valueEqual(attribute, existing, incoming);
  const valueDef = attribute.subAttributes?.find((s) => s.name === 'value');
  if (valueDef && incoming.value !== undefined && existing.value !== undefined) {
    const typeDef = attribute.subAttributes?.find((s) => s.name === 'type');
    const sameType = !typeDef || incoming.type === undefined || existing.type === undefined || valueEqual(typeDef, existing.type, incoming.type);
    return valueEqual(valueDef, existing.value, incoming.value) && sameType;
  }
  return Object.entries(incoming).every(([k, v]) => k === 'primary' || jsonEqual(existing[k], v));
}

function mergeInto(target: JsonObject, patch: JsonObject): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else target[k] = v;
  }
}

function setOrDelete(container: JsonObject, name: string, value: JsonValue | undefined): void {
  const empty = value === undefined || value === null || (Array.isArray(value) && value.length === 0) || (isJsonObject(value) && Object.keys(value).length === 0);
  if (empty) delete container[name];
  else container[name] = value;
}

function applyWhole(op: PatchOpName, path: PatchPath, container: JsonObject, value: JsonValue | undefined, written: Set<JsonValue>): void {
  const def = path.attribute;
  const name = def.name;
  const existing = container[name];
  if (op === 'remove') {
    if (def.multiValued && value !== undefined && value !== null) {
      // Entra: {"op":"Remove","path":"members","value":[{"value":"<id>"}]} removes only those values.
      const toRemove = coerceAttribute(def, value, path.canonical) as JsonValue[];
      const kept = Array.isArray(existing) ? existing.filter((el) => !toRemove.some((r) => sameElement(def, el, r))) : undefined;
      setOrDelete(container, name, kept);
    } else delete container[name];
    return;
  }
  // null (RFC 7643 §2.5: unassigned), and "" for a complex attribute (Entra clearing manager), clear the attribute.
  if (value === null || value === undefined || (def.type === 'complex' && !def.multiValued && value === '')) {
    delete container[name];
    return;
  }
  if (def.multiValued) {
    const items = coerceAttribute(def, value, path.canonical) as JsonValue[];
    if (op === 'replace') {
      items.forEach((item) => written.add(item));
      setOrDelete(container, name, items);
      return;
    }
    const list = Array.isArray(existing) ? existing : [];
    for (const item of items) {
      const duplicate = list.find((el) => sameElement(def, el, item));
      if (duplicate === undefined) {
        list.push(item);
        written.add(item);
      } else if (isJsonObject(duplicate) && isJsonObject(item)) {
        mergeInto(duplicate, item);
        written.add(duplicate);
      }
    }
    setOrDelete(container, name, list);
    return;
  }
  const coerced = coerceSingle(def, value, path.canonical);
  if (def.type === 'complex') {
    // RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged.
    const merged = isJsonObject(existing) ? existing : {};
    mergeInto(merged, coerced as JsonObject);
    setOrDelete(container, name, merged);
    return;
  }
  container[name] = coerced;
}

function setSub(element: JsonObject, sub: AttributeDef, value: JsonValue | undefined, label: string): void {
  if (value === null || value === undefined) {
    delete element[sub.name];
    return;
  }
  const coerced = coerceSingle(sub, value, label);
  if (sub.mutability === 'immutable' && element[sub.name] !== undefined && !jsonEqual(element[sub.name], coerced)) {
    throw new DomainError('mutability', `Attribute "${label}" is immutable: it may be set once but not changed.`);
  }
  element[sub.name] = coerced;
}

function applySubAttribute(op: PatchOpName, path: PatchPath, container: JsonObject, value: JsonValue | undefined): void {
  const def = path.attribute;
  const sub = path.subAttribute!;
  const existing = container[def.name];
  if (def.multiValued) {
    if (op !== 'remove') {
      throw new DomainError('invalidPath', `Say which ${def.name} element to change with a filter, e.g. ${def.name}[type eq "work"].${sub.name}.`);
    }
    if (Array.isArray(existing)) {
      for (const el of existing) if (isJsonObject(el)) delete el[sub.name];
      setOrDelete(container, def.name, existing.filter((el) => !isJsonObject(el) || Object.keys(el).length > 0));
    }
    return;
  }
  const element = isJsonObject(existing) ? existing : {};
  setSub(element, sub, op === 'remove' ? undefined : value, path.target);
  setOrDelete(container, def.name, element);
}

function applyFiltered(op: PatchOpName, path: PatchPath, container: JsonObject, value: JsonValue | undefined, written: Set<JsonValue>): void {
  const def = path.attribute;
  const single: AttributeDef = { ...def, multiValued: false };
  const sub = path.subAttribute;
  const existing = container[def.name];
  const list: JsonValue[] = Array.isArray(existing) ? existing : [];
  const matched = list.filter((el) => matchesFilter(path.filter!, def, el));
  if (op === 'remove') {
    // RFC 7644 §3.5.2.2 lets a server answer noTarget when the filter matches nothing. We answer success without
    // change instead: the caller's goal (the element is gone) already holds, a retried PATCH stays idempotent,
    // and Entra and Okta treat a 400 on an already-removed member or email as a failed provisioning cycle.
    if (sub) {
      for (const el of matched) if (isJsonObject(el)) delete el[sub.name];
      setOrDelete(container, def.name, list);
    } else setOrDelete(container, def.name, list.filter((el) => !matched.includes(el)));
    return;
  }
  if (matched.length === 0) {
    // Entra: add/replace on "emails[type eq \"work\"].value" for a user without a work email creates that email,
    // with the filter's eq values as its sub-attributes. RFC 7644 §3.5.2.3 says noTarget, which we keep for
    // filters that do not say what the new element is.
    const seed = equalityConjunction(path.filter!);
    if (!seed) {
      throw new DomainError('noTarget', `No ${def.name} element matches "${path.target}", and only a filter of "eq" comparisons joined by "and" can create one.`);
    }
    if (def.type === 'complex') {
      const element = stripNulls(coerceSingle(single, seed, path.canonical)) as JsonObject;
      list.push(element);
      matched.push(element);
    } else {
      list.push(coerceSingle(single, seed.value ?? seed[Object.keys(seed)[0]], path.canonical));
      matched.push(list[list.length - 1]);
    }
  }
  for (const el of matched) {
    if (sub) {
      if (isJsonObject(el)) setSub(el, sub, value, path.target);
      written.add(el);
    } else if (def.type === 'complex') {
      if (value === null || value === undefined) throw new DomainError('invalidValue', `A value is needed to ${op} "${path.target}".`);
      if (isJsonObject(el)) mergeInto(el, coerceSingle(single, value, path.canonical) as JsonObject);
      written.add(el);
    } else {
      if (value === null || value === undefined) throw new DomainError('invalidValue', `A value is needed to ${op} "${path.target}".`);
      list[list.indexOf(el)] = coerceSingle(single, value, path.canonical);
    }
  }
  setOrDelete(container, def.name, list);
}

/** RFC 7643 §2.4: at most one element has primary true; a newly written primary wins over older ones. */
function normalizePrimary(def: AttributeDef, label: string, value: JsonValue | undefined, written: Set<JsonValue>): void {
  if (!def.multiValued || def.type !== 'complex' || !Array.isArray(value)) return;
  if (!def.subAttributes?.some((s) => s.name === 'primary')) return;
  const primaries = value.filter((el): el is JsonObject => isJsonObject(el) && el.primary === true);
  if (primaries.length <= 1) return;
  const fresh = primaries.filter((el) => written.has(el));
  if (fresh.length > 1) throw new DomainError('invalidValue', `At most one "${label}" value may have "primary": true (RFC 7643 §2.4).`);
  const keep = fresh[0] ?? primaries[0];
  for (const el of primaries) if (el !== keep) el.primary = false;
}

/** The schemas array lists the core schema and each extension present; empty extension objects are dropped. */
export function normalizeSchemas(resource: JsonObject, resourceType: ResourceTypeDef): void {
  const present = [resourceType.schema.id];
  for (const { schema } of resourceType.extensions) {
    const key = canonicalKey(resource, schema.id);
    if (key === undefined) continue;
    const value = resource[key];
    if (isJsonObject(value) && Object.keys(value).length > 0) present.push(schema.id);
    else delete resource[key];
  }
  const current = resource.schemas;
  const same = Array.isArray(current) && current.length === present.length
    && present.every((id) => current.some((c) => typeof c === 'string' && c.toLowerCase() === id.toLowerCase()));
  if (!same) resource.schemas = present;
}
