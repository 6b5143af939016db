/**
 * The pure parts of a sync run (README, design decisions): what a record writes (merge over the current document), whether
 * it changed (its hash), what it reports (the diff), which keys match it to a user, and the deletion threshold's
 * arithmetic. The engine (src/sync/) does the I/O around these.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { counted } from '../lib/counted.js';
import { changedAttributes } from './ownership.js';
import { CORE_USER_URN, ENTERPRISE_URN, EXTENSION_URNS, readAttribute } from './user-document.js';
import type { JsonObject } from './user-rules.js';

/** A connector's record, as far as the pure parts read it. */
export interface RecordFacts {
  anchor: string;
  /** The record's SCIM attributes (a connector's typed attributes, read here as plain JSON). */
  attributes: object;
  raw: unknown;
  hardKeys?: { externalId?: string; employeeNumber?: string; onPremisesObjectGuid?: string };
}

/** A hash of what the record would write: an equal hash on the link means the record is unchanged. */
export function recordHash(attributes: JsonObject, raw: unknown): string {
  return createHash('sha256').update(JSON.stringify([attributes, raw])).digest('hex').slice(0, 32);
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0) && value !== '';
}

const isExtension = (key: string, value: unknown) => (EXTENSION_URNS as readonly string[]).includes(key) && !!value && typeof value === 'object';

/** Top-level attribute keys (URN-qualified for extension attributes) a record states a value for. */
export function presentKeys(attributes: JsonObject): string[] {
  const keys: string[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (isExtension(key, value)) {
      for (const [sub, v] of Object.entries(value as JsonObject)) if (isPresent(v)) keys.push(`${key}:${sub}`);
    } else if (isPresent(value)) keys.push(key);
  }
  return keys;
}

function removeAttribute(doc: JsonObject, key: string): void {
  const split = key.lastIndexOf(':');
  if (key.startsWith('urn:') && split > 0) {
    const urn = key.slice(0, split);
    const ext = doc[urn] as JsonObject | undefined;
    if (!ext) return;
    const copy = { ...ext };
    delete copy[key.slice(split + 1)];
    if (Object.keys(copy).length === 0) delete doc[urn];
    else doc[urn] = copy;
    return;
  }
  delete doc[key];
}

/**
 * The next document: the record's attributes over the current user's document (extensions merged one level
 * deeper); attributes this source stated last time and no longer states are removed. The result shares values
 * with `current` and `attributes` (only the top level and the extension objects it changes are new): the write
 * path copies a document once before it changes or stores it (cleanDocument), and a deep copy here as well cost
 * a second copy of every record, and its garbage, in a full sync.
 */
export function mergeRecord(current: JsonObject | undefined, attributes: JsonObject, previouslyOwned: readonly string[]): JsonObject {
  const next: JsonObject = { ...(current ?? { schemas: [CORE_USER_URN] }) };
  // A value equal to the stored one keeps the stored form: jsonb reorders object keys, and the write path's diff
  // (ownership, audit, run results) compares JSON text, so `{value, type}` against a stored `{type, value}` would
  // count as a change.
  const put = (target: JsonObject, key: string, value: unknown) => {
    if (!isDeepStrictEqual(target[key], value)) target[key] = value;
  };
  for (const [key, value] of Object.entries(attributes)) {
    if (isExtension(key, value)) {
      const ext: JsonObject = { ...((next[key] as JsonObject | undefined) ?? {}) };
      for (const [sub, v] of Object.entries(value as JsonObject)) put(ext, sub, v);
      next[key] = ext;
    } else put(next, key, value);
  }
  const stated = new Set(presentKeys(attributes));
  for (const key of previouslyOwned) if (!stated.has(key) && key !== 'active') removeAttribute(next, key);
  return next;
}

/** A run result's changes: attribute → { old, new } for each attribute that differs. */
export function diffOf(before: JsonObject, after: JsonObject): Record<string, { old: unknown; new: unknown }> {
  const changes: Record<string, { old: unknown; new: unknown }> = {};
  for (const key of changedAttributes(before, after, EXTENSION_URNS)) {
    if (key === 'meta' || key === 'id') continue;
    changes[key] = { old: readAttribute(before, key) ?? null, new: readAttribute(after, key) ?? null };
  }
  return changes;
}

/** The anchor a record gives as its manager (before it is resolved to a user id). */
export function managerAnchorOf(attributes: JsonObject): string | undefined {
  const manager = (attributes[ENTERPRISE_URN] as JsonObject | undefined)?.manager as { value?: string } | undefined;
  return manager?.value || undefined;
}

/** The record's manager, given as an anchor of its source, as the linked user's id; one that is not linked (yet) is left out. */
export function resolveManager(attributes: JsonObject, userOfAnchor: (anchor: string) => string | undefined): JsonObject {
  const managerAnchor = managerAnchorOf(attributes);
  if (!managerAnchor) return attributes;
  const enterprise = { ...(attributes[ENTERPRISE_URN] as JsonObject) };
  const userId = userOfAnchor(managerAnchor);
  if (userId) enterprise.manager = { value: userId };
  else delete enterprise.manager;
  return { ...attributes, [ENTERPRISE_URN]: enterprise };
}

/** The kinds of match keys, hard ones first: `kind:value`, email and userName lower-cased. */
export type MatchKind = 'externalId' | 'employeeNumber' | 'email' | 'userName';

/** The emails a record states. */
export function recordEmails(record: RecordFacts): string[] {
  const attributes = record.attributes as JsonObject;
  const emails = Array.isArray(attributes.emails) ? (attributes.emails as JsonObject[]) : [];
  return emails.map((e) => e?.value).filter((v): v is string => typeof v === 'string' && v !== '');
}

/** The keys a record is matched by (soft ones only when the source allows soft matching), as `matchKeysOf` writes them. */
export function recordMatchKeys(record: RecordFacts, softMatch: boolean): { kind: MatchKind; value: string }[] {
  const keys: { kind: MatchKind; value: string }[] = [];
  if (record.hardKeys?.externalId) keys.push({ kind: 'externalId', value: record.hardKeys.externalId });
  if (record.hardKeys?.employeeNumber) keys.push({ kind: 'employeeNumber', value: record.hardKeys.employeeNumber });
  if (!softMatch) return keys;
  for (const email of recordEmails(record)) keys.push({ kind: 'email', value: email.toLowerCase() });
  const userName = (record.attributes as JsonObject).userName;
  if (typeof userName === 'string' && userName !== '') keys.push({ kind: 'userName', value: userName.toLowerCase() });
  return keys;
}

/** The match keys (`kind:value`) a stored document answers to. */
export function matchKeysOf(doc: JsonObject | undefined): string[] {
  if (!doc) return [];
  const keys: string[] = [];
  if (typeof doc.externalId === 'string') keys.push(`externalId:${doc.externalId}`);
  const employeeNumber = (doc[ENTERPRISE_URN] as JsonObject | undefined)?.employeeNumber;
  if (employeeNumber !== undefined && employeeNumber !== null && typeof employeeNumber !== 'object') keys.push(`employeeNumber:${String(employeeNumber)}`);
  if (typeof doc.userName === 'string') keys.push(`userName:${doc.userName.toLowerCase()}`);
  for (const email of Array.isArray(doc.emails) ? (doc.emails as JsonObject[]) : []) if (typeof email?.value === 'string') keys.push(`email:${email.value.toLowerCase()}`);
  return keys;
}

/** A source's deletion threshold: the smaller of a count and a percentage of the linked users. */
export interface DeleteThreshold {
  count: number;
  percent: number;
}

/** How many linked users a run may deactivate without confirmation. */
export function deletionLimit(threshold: DeleteThreshold, linked: number): number {
  return Math.min(threshold.count, Math.floor((threshold.percent * linked) / 100));
}

/** Whether the deactivations pass the threshold (or were confirmed), and the numbers the refusal names. */
export function thresholdCheck(threshold: DeleteThreshold, linked: number, deactivations: number, allowDeletes: boolean): { stop: false } | { stop: true; message: string } {
  const limit = deletionLimit(threshold, linked);
  if (deactivations <= limit || allowDeletes) return { stop: false };
  return {
    stop: true,
    message:
      // The one place the advice is given: API clients and the CLI (which prints this as it is) read the same words.
      `deletion threshold exceeded: ${deactivations} of ${counted(linked, 'linked user')} would be deactivated, more than the limit of ${limit} ` +
      `(the smaller of ${counted(threshold.count, 'user')} and ${threshold.percent} %); nothing was deactivated. ` +
      'Check the directory, then run again with allowDeletes (switchboard sync run --allow-deletes) to confirm',
  };
}

/**
 * What one batch of a run changes that a later batch's records look up: the anchors of its records (`anchor:`,
 * whether written or not) and the match keys its users answered to before or answer to after its writes
 * (`kind:value`, matchKeysOf). A later batch whose records read none of them may be planned before it commits.
 */
export function batchKeys(anchors: Iterable<string>, writes: readonly { current?: { doc: JsonObject } | undefined; next: JsonObject }[]): Set<string> {
  const keys = new Set<string>();
  for (const anchor of anchors) keys.add(`anchor:${anchor}`);
  for (const w of writes) {
    for (const key of matchKeysOf(w.current?.doc)) keys.add(key);
    for (const key of matchKeysOf(w.next)) keys.add(key);
  }
  return keys;
}

/** Whether a record reads one of these keys (batchKeys): its anchor's link, its manager's, or a user by one of its match keys. */
export function readsBatchKeys(record: RecordFacts, keys: ReadonlySet<string>, softMatch: boolean): boolean {
  if (keys.size === 0) return false;
  if (keys.has(`anchor:${record.anchor}`)) return true;
  const manager = managerAnchorOf(record.attributes as JsonObject);
  if (manager !== undefined && keys.has(`anchor:${manager}`)) return true;
  return recordMatchKeys(record, softMatch).some(({ kind, value }) => keys.has(`${kind}:${value}`));
}
