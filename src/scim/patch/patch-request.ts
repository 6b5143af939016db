import { DomainError } from '../../domain/errors.js';
import { URN } from '../urns.js';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** The three PATCH operations of RFC 7644 §3.5.2, lower-cased (Entra sends "Add", "Replace", "Remove"). */
export type PatchOpName = 'add' | 'remove' | 'replace';

/** One validated operation of a PatchOp message. `value` is absent only for a remove without a value. */
export interface PatchOperation {
  op: PatchOpName;
  path?: string;
  value?: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const opNames = new Set<string>(['add', 'remove', 'replace']);

function keyOf(object: Record<string, unknown>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(object).find((k) => k.toLowerCase() === lower);
}

/**
 * Validates a PatchOp message (RFC 7644 §3.5.2) and returns its operations. Paths are only checked for shape
 * here; applyPatch resolves them against the resource type. Throws DomainError invalidSyntax / invalidPath /
 * noTarget with a detail that says what to fix.
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isJsonObject(body)) {
    throw new DomainError('invalidSyntax', 'The PATCH body must be a JSON object with "schemas" and "Operations".');
  }
  const schemas = body[keyOf(body, 'schemas') ?? 'schemas'];
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === URN.patchOp.toLowerCase())) {
    throw new DomainError('invalidSyntax', `"schemas" must be an array containing "${URN.patchOp}".`);
  }
  const operations = body[keyOf(body, 'Operations') ?? 'Operations'];
  if (!Array.isArray(operations) || operations.length === 0) {
    throw new DomainError('invalidSyntax', '"Operations" must be a non-empty array of {"op", "path", "value"} objects.');
  }
  return operations.map((raw, index) => {
    const where = `Operations[${index}]`;
    if (!isJsonObject(raw)) throw new DomainError('invalidSyntax', `${where} must be an object with "op", "path" and "value".`);
    const opRaw = raw[keyOf(raw, 'op') ?? 'op'];
    if (typeof opRaw !== 'string' || !opNames.has(opRaw.toLowerCase())) {
      throw new DomainError('invalidSyntax', `${where}.op must be "add", "remove" or "replace", got ${JSON.stringify(opRaw ?? null)}.`);
    }
    const op = opRaw.toLowerCase() as PatchOpName;
    const pathKey = keyOf(raw, 'path');
    const valueKey = keyOf(raw, 'value');
    const operation: PatchOperation = { op };
    if (pathKey !== undefined && raw[pathKey] !== null) {
      const path = raw[pathKey];
      if (typeof path !== 'string' || path.trim() === '') {
        throw new DomainError('invalidPath', `${where}.path must be a non-empty string such as "emails[type eq \\"work\\"].value".`);
      }
      operation.path = path.trim();
    }
    if (valueKey !== undefined) operation.value = raw[valueKey];
    if (op === 'remove' && operation.path === undefined) {
      // RFC 7644 §3.5.2.2: a remove without a path fails with noTarget.
      throw new DomainError('noTarget', `${where}: "remove" needs a "path" naming what to remove.`);
    }
    if (op !== 'remove' && operation.value === undefined) {
      throw new DomainError('invalidSyntax', `${where}: "${op}" needs a "value".`);
    }
    if (op !== 'remove' && operation.path === undefined && !isJsonObject(operation.value)) {
      throw new DomainError('invalidSyntax', `${where}: "${op}" without a "path" needs an object "value" whose keys are attribute names.`);
    }
    return operation;
  });
}
