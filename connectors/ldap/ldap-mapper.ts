/**
 * Pure mapping from an LDAP entry (as ldapts returns it) to a connector record in SCIM vocabulary.
 * No I/O: the connector passes the entry, the resolved attribute map and a DN → anchor lookup.
 */
import type { CountryCode } from 'libphonenumber-js';
import {
  ConnectorError,
  ENTERPRISE_USER_URN,
  formatGuid,
  toE164,
  SWITCHBOARD_USER_URN,
  type EnterpriseUserAttributes,
  type ScimAttributes,
  type SourceRecord,
  type SwitchboardUserAttributes,
  type UnresolvedReference,
} from '../sdk/index.js';
import type { AttributeMap, MapTarget } from './config.js';

export type LdapValue = string | Buffer;
/** An entry as ldapts returns it: `dn` plus attributes, single values unwrapped. */
export interface LdapEntry {
  dn: string;
  [attribute: string]: LdapValue | LdapValue[];
}

export interface MapperOptions {
  attributeMap: AttributeMap;
  defaultCountry?: CountryCode;
}

/** Attributes that hold a GUID in Microsoft's byte order. */
const GUID_ATTRIBUTES = new Set(['objectguid', 'invocationid', 'msds-objectguid']);
const UF_ACCOUNTDISABLE = 0x2;
export const MANAGER_PATH = `${ENTERPRISE_USER_URN}:manager`;

export { formatGuid, guidBytes, toE164 } from '../sdk/index.js';

/** DNs compared case-insensitively, without spaces around separators. */
export function normaliseDn(dn: string): string {
  return dn
    .split(/(?<!\\),/)
    .map((rdn) => rdn.trim().replace(/\s*=\s*/, '='))
    .join(',')
    .toLowerCase();
}

/** Every value of `attribute` (case-insensitive name), `[]` when absent. */
export function entryValues(entry: LdapEntry, attribute: string): LdapValue[] {
  const lower = attribute.toLowerCase();
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn' || name.toLowerCase() !== lower) continue;
    return (Array.isArray(value) ? value : [value]).filter((v) => (typeof v === 'string' ? v.trim() !== '' : v.length > 0));
  }
  return [];
}

function text(attribute: string, value: LdapValue): string {
  if (typeof value === 'string') return value.trim();
  return GUID_ATTRIBUTES.has(attribute.toLowerCase()) && value.length === 16 ? formatGuid(value) : value.toString('base64');
}

/** The entry's attributes by lower-case name, non-empty values only (built once per entry). */
type EntryIndex = Map<string, LdapValue[]>;

function indexEntry(entry: LdapEntry): EntryIndex {
  const index: EntryIndex = new Map();
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const list = (Array.isArray(value) ? value : [value]).filter((v) => (typeof v === 'string' ? v.trim() !== '' : v.length > 0));
    if (list.length > 0) index.set(name.toLowerCase(), list);
  }
  return index;
}

/** The values of the first mapped attribute that has any, as strings. */
function values(index: EntryIndex, map: AttributeMap, target: MapTarget): string[] {
  for (const attribute of map[target]) {
    const found = index.get(attribute.toLowerCase());
    if (found) return found.map((v) => text(attribute, v));
  }
  return [];
}

function first(index: EntryIndex, map: AttributeMap, target: MapTarget): string | undefined {
  return values(index, map, target)[0];
}

/**
 * The entry's anchor. An entry without one cannot be emitted, and skipping it would make a
 * complete read look like a deletion, so this throws (usually an ACL or attributeMap.anchor problem).
 */
export function anchorOf(entry: LdapEntry, map: AttributeMap, index: EntryIndex = indexEntry(entry)): string {
  const anchor = first(index, map, 'anchor');
  if (!anchor) {
    throw new ConnectorError('protocol', `entry "${entry.dn}" has no ${map.anchor.join('/')} (check attributeMap.anchor and the bind DN's read access)`);
  }
  return anchor;
}

/** A JSON-safe copy of the entry: GUIDs formatted, other binary values base64. */
export function rawOf(entry: LdapEntry): Record<string, unknown> {
  const raw: Record<string, unknown> = { dn: entry.dn };
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0) continue;
    const converted = list.map((v) => (typeof v === 'string' ? v : text(name, v)));
    raw[name] = converted.length === 1 ? converted[0] : converted;
  }
  return raw;
}

function parseActive(attribute: string, value: string): boolean | undefined {
  if (attribute.toLowerCase() === 'useraccountcontrol') {
    const flags = Number.parseInt(value, 10);
    return Number.isNaN(flags) ? undefined : (flags & UF_ACCOUNTDISABLE) === 0;
  }
  if (/^(true|yes|1|active|enabled)$/i.test(value)) return true;
  if (/^(false|no|0|inactive|disabled)$/i.test(value)) return false;
  return undefined;
}

/**
 * Maps one entry. `resolveDn` turns a DN into the anchor of an entry already seen in this read;
 * a manager it cannot resolve is emitted as the DN and listed in `references` (by `dn`).
 */
export function mapLdapEntry(entry: LdapEntry, options: MapperOptions, resolveDn: (dn: string) => string | undefined = () => undefined): SourceRecord {
  const map = options.attributeMap;
  const index = indexEntry(entry);
  const anchor = anchorOf(entry, map, index);
  const warnings: string[] = [];
  const references: UnresolvedReference[] = [];
  const attributes: ScimAttributes = {};

  const userName = first(index, map, 'userName');
  if (userName) attributes.userName = userName;
  const name = {
    givenName: first(index, map, 'name.givenName'),
    familyName: first(index, map, 'name.familyName'),
    formatted: first(index, map, 'name.formatted'),
  };
  if (name.givenName || name.familyName || name.formatted) attributes.name = dropUndefined(name);
  const displayName = first(index, map, 'displayName');
  if (displayName) attributes.displayName = displayName;
  const title = first(index, map, 'title');
  if (title) attributes.title = title;

  for (const attribute of map.active) {
    const value = index.get(attribute.toLowerCase())?.[0];
    if (value === undefined) continue;
    const active = parseActive(attribute, text(attribute, value));
    if (active === undefined) warnings.push(`${attribute} "${text(attribute, value)}" is not a recognised account state; active left out`);
    else attributes.active = active;
    break;
  }

  const emails = unique(values(index, map, 'emails.work'));
  if (emails.length > 0) attributes.emails = emails.map((value, i) => (i === 0 ? { value, type: 'work', primary: true } : { value, type: 'work' }));
  const phones = unique(values(index, map, 'phoneNumbers.work'));
  if (phones.length > 0) attributes.phoneNumbers = phones.map((value) => ({ value, type: 'work' }));

  const enterprise: EnterpriseUserAttributes = {};
  const employeeNumber = first(index, map, 'employeeNumber');
  if (employeeNumber) enterprise.employeeNumber = employeeNumber;
  const department = first(index, map, 'department');
  if (department) enterprise.department = department;
  const managerDn = first(index, map, 'manager');
  if (managerDn) {
    const managerAnchor = resolveDn(managerDn);
    if (managerAnchor) enterprise.manager = { value: managerAnchor };
    else {
      enterprise.manager = { value: managerDn };
      references.push({ path: MANAGER_PATH, by: 'dn', value: managerDn });
    }
  }
  if (Object.keys(enterprise).length > 0) attributes[ENTERPRISE_USER_URN] = enterprise;

  const switchboard: SwitchboardUserAttributes = {};
  const mobile = first(index, map, 'mobileNumber');
  if (mobile) {
    const e164 = toE164(mobile, options.defaultCountry);
    if (e164) switchboard.mobileNumber = e164;
    else {
      warnings.push(
        `${map.mobileNumber.join('/')} "${mobile}" is not a valid phone number${options.defaultCountry ? ` (default country ${options.defaultCountry})` : ' (no defaultCountry configured)'}; mobileNumber left out`,
      );
    }
  }
  const extensions = unique(values(index, map, 'extensions'));
  if (extensions.length > 0) switchboard.extensions = extensions;
  if (Object.keys(switchboard).length > 0) attributes[SWITCHBOARD_USER_URN] = switchboard;

  const record: SourceRecord = {
    type: 'record',
    anchor,
    attributes,
    raw: rawOf(entry),
    hardKeys: employeeNumber ? { externalId: anchor, employeeNumber } : { externalId: anchor },
    referenceKeys: { dn: entry.dn },
  };
  // An Active Directory object: the person Entra ID syncs from it carries this objectGUID as its onPremisesImmutableId.
  if (map.anchor[0]?.toLowerCase() === 'objectguid') record.hardKeys.onPremisesObjectGuid = anchor;
  if (references.length > 0) record.references = references;
  if (warnings.length > 0) record.warnings = warnings;
  return record;
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
