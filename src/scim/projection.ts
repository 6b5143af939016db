import { DomainError } from '../domain/errors.js';
import { commonAttributes, resolveAttributePath, UnknownAttributeError, type AttributeDef, type ResourceTypeDef } from '../domain/scim-schema.js';

/**
 * attributes / excludedAttributes (RFC 7644 §3.4.2.5) honouring each attribute's `returned`, compiled once per
 * resource type and parameter set: shaping a list page is then plain object copying.
 */
type SubSelection = true | Set<string>;
interface Plan {
  core: Map<string, SubSelection>;
  extensions: Map<string, Map<string, SubSelection>>;
}

export type JsonObject = Record<string, unknown>;

function defaultIncluded(attribute: AttributeDef): boolean {
  return attribute.returned === 'always' || attribute.returned === 'default' || attribute.returned === undefined;
}

function compile(resourceType: ResourceTypeDef, attributes: string[], excluded: string[]): Plan {
  const core = new Map<string, SubSelection>();
  const extensions = new Map<string, Map<string, SubSelection>>();
  const targetFor = (schemaId: string, extension: boolean): Map<string, SubSelection> => {
    if (!extension) return core;
    let map = extensions.get(schemaId);
    if (!map) extensions.set(schemaId, (map = new Map()));
    return map;
  };
  const allSchemas = [
    { id: resourceType.schema.id, extension: false, attrs: [...commonAttributes, ...resourceType.schema.attributes] },
    ...resourceType.extensions.map((e) => ({ id: e.schema.id, extension: true, attrs: e.schema.attributes })),
  ];
  // A bare schema URN names every attribute of that schema (RFC 7644 §3.10: "urn:…:enterprise:2.0:User").
  const schemaNamed = (path: string) => allSchemas.find((s) => s.id.toLowerCase() === path.trim().toLowerCase());
  // A name that is no attribute of the resource type (`attributes=shoeSize`) is refused: ignoring it silently
  // hides a client's typo behind a response that looks complete.
  const resolve = (path: string) => {
    try {
      return resolveAttributePath(resourceType, path);
    } catch (error) {
      if (error instanceof UnknownAttributeError) {
        throw new DomainError('invalidValue', `'${path}' in attributes or excludedAttributes is no attribute of ${resourceType.name}`);
      }
      throw error;
    }
  };

  if (attributes.length > 0) {
    for (const schema of allSchemas) {
      for (const attr of schema.attrs) if (attr.returned === 'always') targetFor(schema.id, schema.extension).set(attr.name, true);
    }
    for (const path of attributes) {
      const whole = schemaNamed(path);
      if (whole) {
        for (const attr of whole.attrs) if (defaultIncluded(attr)) targetFor(whole.id, whole.extension).set(attr.name, true);
        continue;
      }
      const resolved = resolve(path);
      if (!resolved || resolved.attribute.returned === 'never') continue;
      const target = targetFor(resolved.schemaId, resolved.extension);
      if (!resolved.subAttribute) {
        target.set(resolved.attribute.name, true);
        continue;
      }
      if (resolved.subAttribute.returned === 'never') continue;
      const existing = target.get(resolved.attribute.name);
      if (existing === true) continue;
      const subs = existing ?? new Set<string>();
      subs.add(resolved.subAttribute.name);
      for (const sub of resolved.attribute.subAttributes ?? []) if (sub.returned === 'always') subs.add(sub.name);
      target.set(resolved.attribute.name, subs);
    }
    return { core, extensions };
  }

  const excludedTop = new Set<string>();
  const excludedSubs = new Map<string, Set<string>>();
  for (const path of excluded) {
    const whole = schemaNamed(path);
    if (whole) {
      if (whole.extension) for (const attr of whole.attrs) if (attr.returned !== 'always') excludedTop.add(`${whole.id}:${attr.name}`);
      continue;
    }
    const resolved = resolve(path);
    if (!resolved || resolved.attribute.returned === 'always') continue;
    const key = `${resolved.extension ? resolved.schemaId + ':' : ''}${resolved.attribute.name}`;
    if (!resolved.subAttribute) excludedTop.add(key);
    else if (resolved.subAttribute.returned !== 'always') {
      const set = excludedSubs.get(key) ?? new Set<string>();
      set.add(resolved.subAttribute.name);
      excludedSubs.set(key, set);
    }
  }
  for (const schema of allSchemas) {
    for (const attr of schema.attrs) {
      const key = `${schema.extension ? schema.id + ':' : ''}${attr.name}`;
      if (!defaultIncluded(attr) || excludedTop.has(key)) continue;
      const dropped = excludedSubs.get(key);
      if (dropped && attr.subAttributes) {
        const keep = new Set(attr.subAttributes.filter((s) => !dropped.has(s.name) && defaultIncluded(s)).map((s) => s.name));
        targetFor(schema.id, schema.extension).set(attr.name, keep);
      } else targetFor(schema.id, schema.extension).set(attr.name, true);
    }
  }
  return { core, extensions };
}

function pick(value: unknown, selection: SubSelection): unknown {
  if (selection === true) return value;
  const pickOne = (item: unknown): unknown => {
    if (item === null || typeof item !== 'object') return item;
    const out: JsonObject = {};
    for (const key of selection) if ((item as JsonObject)[key] !== undefined) out[key] = (item as JsonObject)[key];
    return out;
  };
  return Array.isArray(value) ? value.map(pickOne) : pickOne(value);
}

export interface Projection {
  apply(resource: JsonObject): JsonObject;
  /** Whether an attribute (top-level, canonical) is in the output: lets callers skip loading it. */
  includes(attribute: string, extensionUrn?: string): boolean;
}

/** Whether `path` names an attribute (or a whole schema) of `resourceType`: what a projection accepts. */
export function namesAttributeOf(resourceType: ResourceTypeDef, path: string): boolean {
  const schemaIds = [resourceType.schema.id, ...resourceType.extensions.map((e) => e.schema.id)].map((id) => id.toLowerCase());
  if (schemaIds.includes(path.trim().toLowerCase())) return true;
  try {
    resolveAttributePath(resourceType, path);
    return true;
  } catch (error) {
    if (error instanceof UnknownAttributeError) return false;
    throw error;
  }
}

const cache = new Map<string, Projection>();

export function projectionFor(resourceType: ResourceTypeDef, attributes: string[] = [], excluded: string[] = []): Projection {
  const key = `${resourceType.id}|${attributes.join(',').toLowerCase()}|${excluded.join(',').toLowerCase()}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const plan = compile(resourceType, attributes, excluded);
  const extensionUrns = new Set(resourceType.extensions.map((e) => e.schema.id));
  const projection: Projection = {
    apply(resource) {
      const out: JsonObject = {};
      if (resource.schemas !== undefined) out.schemas = resource.schemas;
      for (const [name, selection] of plan.core) {
        const value = resource[name];
        if (value !== undefined && value !== null) out[name] = pick(value, selection);
      }
      const presentExtensions: string[] = [];
      for (const [urn, attrs] of plan.extensions) {
        const source = resource[urn] as JsonObject | undefined;
        if (!source) continue;
        const ext: JsonObject = {};
        for (const [name, selection] of attrs) {
          const value = source[name];
          if (value !== undefined && value !== null) ext[name] = pick(value, selection);
        }
        if (Object.keys(ext).length > 0) {
          out[urn] = ext;
          presentExtensions.push(urn);
        }
      }
      if (Array.isArray(resource.schemas)) {
        out.schemas = (resource.schemas as string[]).filter((s) => !extensionUrns.has(s) || presentExtensions.includes(s));
      }
      return out;
    },
    includes(attribute, extensionUrn) {
      if (extensionUrn) return plan.extensions.get(extensionUrn)?.has(attribute) ?? false;
      return plan.core.has(attribute);
    },
  };
  if (cache.size > 500) cache.clear();
  cache.set(key, projection);
  return projection;
}

/** Splits on commas outside brackets and quotes. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '[') depth++;
    else if (!quoted && ch === ']') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0 && !quoted) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** Splits a comma-separated attributes parameter (query string or .search array). */
export function attributeList(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  const items = Array.isArray(value) ? value.flatMap((v) => splitTopLevel(String(v))) : splitTopLevel(String(value));
  // Some clients (Microsoft's reference collection) write a value filter here, e.g. emails[type eq "work"]:
  // attributes name whole attributes, so the bracketed part selects the attribute it qualifies.
  return items.map((s) => s.replace(/\[[^\]]*\]/g, '').trim()).filter((s) => s.length > 0);
}
