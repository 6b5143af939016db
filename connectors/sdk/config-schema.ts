import { ConnectorConfigError } from './errors.js';
import type { ConfigProperty, ConfigSchema, JsonValue } from './types.js';

/**
 * Validates `raw` against a connector's `ConfigSchema` and returns it with defaults applied.
 * Throws one `ConnectorConfigError` listing every problem (`bindPassword: required`, …).
 * Covers the subset of JSON Schema that `ConfigProperty` describes; semantic checks (a URL's
 * scheme, two options that exclude each other) stay in the connector's `parseConfig`.
 */
export function validateConfig<T>(schema: ConfigSchema, raw: unknown, connectorKind?: string): T {
  const issues: string[] = [];
  const value = check(schema, raw, '', issues);
  if (issues.length > 0) throw new ConnectorConfigError(issues, connectorKind);
  return value as T;
}

function check(schema: ConfigProperty, raw: unknown, path: string, issues: string[]): unknown {
  const at = path || 'configuration';
  if (raw === undefined) {
    // A default is itself checked, so an object default (`{}`) gets its properties' defaults.
    return schema.default === undefined ? undefined : check({ ...schema, default: undefined }, structuredClone(schema.default), path, issues);
  }
  switch (schema.type) {
    case 'string':
      if (typeof raw !== 'string') return void issues.push(`${at}: must be a string`);
      if (schema.pattern && !new RegExp(schema.pattern).test(raw)) issues.push(`${at}: must match ${schema.pattern}`);
      break;
    case 'number':
    case 'integer':
      if (typeof raw !== 'number' || !Number.isFinite(raw) || (schema.type === 'integer' && !Number.isInteger(raw))) {
        return void issues.push(`${at}: must be ${schema.type === 'integer' ? 'an integer' : 'a number'}`);
      }
      if (schema.minimum !== undefined && raw < schema.minimum) issues.push(`${at}: must be at least ${schema.minimum}`);
      if (schema.maximum !== undefined && raw > schema.maximum) issues.push(`${at}: must be at most ${schema.maximum}`);
      break;
    case 'boolean':
      if (typeof raw !== 'boolean') return void issues.push(`${at}: must be true or false`);
      break;
    case 'array': {
      if (!Array.isArray(raw)) return void issues.push(`${at}: must be an array`);
      const items = schema.items;
      return items ? raw.map((item, i) => check(items, item, `${path}[${i}]`, issues)) : raw;
    }
    case 'object': {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return void issues.push(`${at}: must be an object`);
      const input = raw as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const properties = schema.properties ?? {};
      for (const name of schema.required ?? []) {
        if (input[name] === undefined || input[name] === null || input[name] === '') issues.push(`${join(path, name)}: required`);
      }
      for (const [name, value] of Object.entries(input)) {
        const property = properties[name];
        if (property) continue;
        if (schema.additionalProperties === false) issues.push(`${join(path, name)}: unknown option`);
        else if (typeof schema.additionalProperties === 'object') {
          out[name] = check(schema.additionalProperties, value, join(path, name), issues);
        } else out[name] = value;
      }
      for (const [name, property] of Object.entries(properties)) {
        const value = check(property, input[name], join(path, name), issues);
        if (value !== undefined) out[name] = value;
      }
      return out;
    }
  }
  if (schema.enum && !schema.enum.includes(raw as JsonValue)) {
    issues.push(`${at}: must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  return raw;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** A copy of `config` with every `writeOnly` property replaced by `'********'` (for display and logs). */
export function redactSecrets(schema: ConfigProperty, config: unknown): unknown {
  if (schema.writeOnly) return config === undefined ? undefined : '********';
  if (schema.type === 'object' && typeof config === 'object' && config !== null && !Array.isArray(config)) {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(config)) {
      const property = schema.properties?.[name] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      out[name] = property ? redactSecrets(property, value) : value;
    }
    return out;
  }
  if (schema.type === 'array' && Array.isArray(config) && schema.items) {
    const items = schema.items;
    return config.map((item) => redactSecrets(items, item));
  }
  return config;
}
