import type { AuditWriter } from './audit.js';
import { jsonCopy } from '../lib/json-copy.js';

/**
 * Which source owns which attribute (README, design decisions): data plus one pure function. Attribute keys are
 * top-level SCIM attribute names, URN-qualified for extension attributes.
 */
export type SourceKind = 'scim' | 'ldap' | 'entra' | 'mivb' | 'micloud' | 'csv';
export const sourceKinds: readonly SourceKind[] = ['scim', 'ldap', 'entra', 'mivb', 'micloud', 'csv'];

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';

/** Attributes a source of each kind may own; a link owns those of them its records actually carry. */
export const ownableAttributes: Record<SourceKind, readonly string[]> = {
  scim: [
    'userName', 'name', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale',
    'timezone', 'active', 'emails', 'phoneNumbers', 'addresses', 'photos', 'ims', 'roles', 'entitlements', 'x509Certificates', 'externalId',
    `${ENTERPRISE}:employeeNumber`, `${ENTERPRISE}:costCenter`, `${ENTERPRISE}:organization`, `${ENTERPRISE}:division`,
    `${ENTERPRISE}:department`, `${ENTERPRISE}:manager`, `${SWITCHBOARD}:mobileNumber`,
  ],
  ldap: [
    'userName', 'name', 'displayName', 'title', 'active', 'emails', 'phoneNumbers',
    `${ENTERPRISE}:employeeNumber`, `${ENTERPRISE}:department`, `${ENTERPRISE}:manager`, `${SWITCHBOARD}:mobileNumber`,
  ],
  entra: [
    'userName', 'name', 'displayName', 'title', 'active', 'emails', 'phoneNumbers', 'preferredLanguage',
    `${ENTERPRISE}:employeeNumber`, `${ENTERPRISE}:department`, `${ENTERPRISE}:manager`, `${SWITCHBOARD}:mobileNumber`,
  ],
  // The PBX exports state userName (the email, else the login) and, for MiVB, the department; identity sources
  // come first for both (identityFirst). MiVB never states `username`: the seed applies it once, to the PBX.
  mivb: [
    'userName', 'name', 'displayName', 'emails', `${ENTERPRISE}:department`,
    `${SWITCHBOARD}:extensions`, `${SWITCHBOARD}:username`, `${SWITCHBOARD}:voicemail`, `${SWITCHBOARD}:mivbService`,
  ],
  micloud: ['userName', 'name', 'displayName', 'emails', 'phoneNumbers', `${SWITCHBOARD}:extensions`, `${SWITCHBOARD}:mobileNumber`],
  csv: [],
};

/** Default precedence when two linked sources claim one attribute: identity sources before telephony ones, the PBX for extensions. */
const identityFirst: readonly SourceKind[] = ['scim', 'entra', 'ldap', 'micloud', 'mivb', 'csv'];
const telephonyFirst: readonly SourceKind[] = ['mivb', 'micloud', 'scim', 'entra', 'ldap', 'csv'];
const telephonyAttributes = new Set([`${SWITCHBOARD}:extensions`, `${SWITCHBOARD}:username`, `${SWITCHBOARD}:voicemail`, `${SWITCHBOARD}:mivbService`]);

export type PrecedencePolicy = Partial<Record<string, readonly SourceKind[]>>;

export function precedenceFor(attribute: string, policy: PrecedencePolicy = {}): readonly SourceKind[] {
  return policy[attribute] ?? (telephonyAttributes.has(attribute) ? telephonyFirst : identityFirst);
}

export interface SourceLinkClaim {
  sourceId: string;
  kind: SourceKind;
  ownedAttributes: readonly string[];
}

export interface FieldOwner {
  sourceId: string;
  kind: SourceKind;
}

/** attribute → owning source, choosing by precedence when several linked sources claim it. */
export function fieldOwners(links: readonly SourceLinkClaim[], policy: PrecedencePolicy = {}): Map<string, FieldOwner> {
  const owners = new Map<string, FieldOwner>();
  for (const link of links) {
    for (const attribute of link.ownedAttributes) {
      const current = owners.get(attribute);
      if (!current) {
        owners.set(attribute, { sourceId: link.sourceId, kind: link.kind });
        continue;
      }
      const order = precedenceFor(attribute, policy);
      const rank = (k: SourceKind) => (order.indexOf(k) === -1 ? order.length : order.indexOf(k));
      if (rank(link.kind) < rank(current.kind)) owners.set(attribute, { sourceId: link.sourceId, kind: link.kind });
    }
  }
  return owners;
}

/**
 * Who is writing: an admin (or anything local), or a source. `via`: the writer the audit trail records for a local
 * change (domain/audit.ts: the console, a token, a CSV import, a registration link, the server).
 */
export type Writer = { type: 'admin'; actor: string; via: Exclude<AuditWriter, 'source'> } | { type: 'source'; actor: string; sourceId: string; kind: SourceKind };

/** The writer the audit trail records for a change by `writer`. */
export function auditWriterOf(writer: Writer): AuditWriter {
  return writer.type === 'source' ? 'source' : writer.via;
}

export type JsonObject = Record<string, unknown>;

function read(doc: JsonObject, key: string): unknown {
  const split = key.lastIndexOf(':');
  if (key.startsWith('urn:') && split > 0) return (doc[key.slice(0, split)] as JsonObject | undefined)?.[key.slice(split + 1)];
  return doc[key];
}

function write(doc: JsonObject, key: string, value: unknown): void {
  const split = key.lastIndexOf(':');
  if (key.startsWith('urn:') && split > 0) {
    const urn = key.slice(0, split);
    const ext = { ...((doc[urn] as JsonObject | undefined) ?? {}) };
    if (value === undefined) delete ext[key.slice(split + 1)];
    else ext[key.slice(split + 1)] = value;
    if (Object.keys(ext).length === 0) delete doc[urn];
    else doc[urn] = ext;
    return;
  }
  if (value === undefined) delete doc[key];
  else doc[key] = value;
}

/**
 * JSON equality, blind to object key order: stored documents come back from jsonb with their keys reordered, and
 * an unchanged `emails` must not count as a change (it would bump the version, audit and report it).
 */
function same(a: unknown, b: unknown): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => same(item, other[i]));
  }
  const left = a as JsonObject;
  const right = b as JsonObject;
  const keys = Object.keys(left).filter((k) => left[k] !== undefined);
  if (keys.length !== Object.keys(right).filter((k) => right[k] !== undefined).length) return false;
  return keys.every((k) => Object.prototype.hasOwnProperty.call(right, k) && same(left[k], right[k]));
}

/** The top-level attribute keys (URN-qualified for extensions) in which two documents differ. */
export function changedAttributes(before: JsonObject, after: JsonObject, extensionUrns: readonly string[]): string[] {
  const keys = new Set<string>();
  const collect = (doc: JsonObject) => {
    for (const [k, v] of Object.entries(doc)) {
      if (k === 'schemas') continue;
      if (extensionUrns.includes(k) && v && typeof v === 'object') for (const sub of Object.keys(v as JsonObject)) keys.add(`${k}:${sub}`);
      else keys.add(k);
    }
  };
  collect(before);
  collect(after);
  return [...keys].filter((k) => !same(read(before, k), read(after, k)));
}

/**
 * resolve(owners, writer, current, incoming): an admin writing a source-owned attribute is refused; a source
 * writing an attribute another source owns is ignored (the owner's value stays) and counted.
 */
export function resolveWrite(
  owners: Map<string, FieldOwner>,
  writer: Writer,
  current: JsonObject,
  incoming: JsonObject,
  extensionUrns: readonly string[],
): { next: JsonObject; refused: { attribute: string; owner: FieldOwner }[]; ignored: string[] } {
  const next = jsonCopy(incoming);
  const refused: { attribute: string; owner: FieldOwner }[] = [];
  const ignored: string[] = [];
  for (const attribute of changedAttributes(current, incoming, extensionUrns)) {
    const owner = owners.get(attribute);
    if (!owner) continue;
    if (writer.type === 'admin') refused.push({ attribute, owner });
    else if (owner.sourceId !== writer.sourceId) {
      ignored.push(attribute);
      write(next, attribute, read(current, attribute));
    }
  }
  return { next, refused, ignored };
}
