import { DomainError } from './errors.js';

type JsonObject = Record<string, unknown>;

/**
 * The longest value, in characters, each attribute may hold: what the database can index (a btree entry holds at
 * most about 2,700 bytes, so a 3,000-character userName fails inside PostgreSQL) and what any directory or identity
 * provider sends. Listed per resource type by attribute path (sub-attributes as `name.givenName`, extension
 * attributes by their name); every other string is held to DEFAULT_MAX_LENGTH. Advertised in /Schemas.
 */
export const DEFAULT_MAX_LENGTH = 2048;

export const maxLengths: Record<string, Record<string, number>> = {
  User: {
    userName: 256,
    externalId: 256,
    displayName: 256,
    nickName: 256,
    title: 256,
    userType: 64,
    preferredLanguage: 64,
    locale: 64,
    timezone: 64,
    profileUrl: 1024,
    'name.formatted': 512,
    'name.givenName': 256,
    'name.familyName': 256,
    'name.middleName': 256,
    'name.honorificPrefix': 64,
    'name.honorificSuffix': 64,
    'emails.value': 254, // RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets
    'phoneNumbers.value': 64,
    employeeNumber: 64,
    department: 256,
    organization: 256,
    division: 256,
    costCenter: 256,
    mobileNumber: 32,
    username: 256,
  },
  Group: { displayName: 256, externalId: 256 },
  Account: { name: 256, externalId: 256 },
  Token: { description: 256 },
  Source: { name: 256 },
};

/** The limit of one attribute path of a resource type. */
export function maxLengthOf(resourceType: string, path: string): number {
  return maxLengths[resourceType]?.[path] ?? DEFAULT_MAX_LENGTH;
}

/**
 * Every string of a resource document within its limit (400 invalidValue naming the attribute and the limit), and
 * every multi-valued attribute within `maxValues` values. Extension attributes are named without their URN. The
 * document is bounded in depth by the JSON guard at the edge, so the walk is shallow.
 */
export function checkResourceLimits(resourceType: string, doc: JsonObject, options: { maxValues?: number; uncapped?: readonly string[] } = {}): void {
  const visit = (value: unknown, path: string, top: string): void => {
    if (typeof value === 'string') {
      const limit = maxLengthOf(resourceType, path);
      if (value.length > limit) throw new DomainError('invalidValue', `${path} is ${value.length} characters long; the limit is ${limit} characters`);
      return;
    }
    if (Array.isArray(value)) {
      if (options.maxValues !== undefined && value.length > options.maxValues && !options.uncapped?.includes(top)) {
        throw new DomainError('invalidValue', `${path} has ${value.length} values; the limit is ${options.maxValues} values per attribute`);
      }
      for (const item of value) visit(item, path, top);
      return;
    }
    if (value && typeof value === 'object') {
      for (const key in value as JsonObject) visit((value as JsonObject)[key], path === '' || key.startsWith('urn:') ? key : `${path}.${key}`, top);
    }
  };
  for (const key in doc) {
    if (key === 'schemas' || key === 'meta') continue;
    const value = doc[key];
    // An extension's attributes are named as themselves (urn:…:User:mobileNumber → mobileNumber).
    if (key.includes(':') && value && typeof value === 'object' && !Array.isArray(value)) {
      for (const name in value as JsonObject) visit((value as JsonObject)[name], name, name);
    } else visit(value, key, key);
  }
}

/** RFC 5321 §4.5.3.1: a local part of at most 64 octets, a domain of at most 255; what fails, or undefined. */
const utf8 = new TextEncoder();

export function emailLengthViolation(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  const local = at === -1 ? address : address.slice(0, at);
  const domain = at === -1 ? '' : address.slice(at + 1);
  if (utf8.encode(local).length > 64) return `the email address ${JSON.stringify(address.slice(0, 80))}… has a local part (before @) longer than 64 characters`;
  if (utf8.encode(domain).length > 255) return `the email address ${JSON.stringify(address.slice(0, 80))}… has a domain longer than 255 characters`;
  return undefined;
}

/** A user's email addresses, each at most once whatever its case; the first repeated one, or undefined. */
export function repeatedEmail(doc: JsonObject): string | undefined {
  const list = doc.emails;
  if (!Array.isArray(list)) return undefined;
  const seen = new Set<string>();
  for (const item of list) {
    const value = item && typeof item === 'object' ? (item as JsonObject).value : undefined;
    if (typeof value !== 'string') continue;
    const key = value.toLowerCase();
    if (seen.has(key)) return value;
    seen.add(key);
  }
  return undefined;
}

/**
 * A directory's record listing one address twice (mail and a proxy address differing in case): the later copies
 * go, the primary flag staying with the address. Pulled records are what the directory holds; SCIM clients are
 * told instead (repeatedEmail).
 */
export function withoutRepeatedEmails(doc: JsonObject): void {
  const list = doc.emails;
  if (!Array.isArray(list)) return;
  const kept = new Map<string, JsonObject>();
  for (const item of list as JsonObject[]) {
    const value = item && typeof item === 'object' ? item.value : undefined;
    if (typeof value !== 'string') continue;
    const first = kept.get(value.toLowerCase());
    if (!first) kept.set(value.toLowerCase(), item);
    else if (item.primary === true) first.primary = true;
  }
  doc.emails = (list as JsonObject[]).filter((item) => !(item && typeof item.value === 'string') || kept.get(item.value.toLowerCase()) === item);
}
