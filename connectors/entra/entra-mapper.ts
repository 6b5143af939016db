/**
 * Pure mapping from Microsoft Graph objects (as `/users/delta` and `/groups/delta` return them) to connector
 * items in SCIM vocabulary. No I/O.
 *
 * A delta page after the first round may carry only the changed properties of an object ("at least the updated
 * properties"), with an emptied property sent as `null`: such records are `partial`, their absent attributes are
 * unchanged and emptied ones are listed in `cleared`. `manager@delta` follows the same rule: absent means
 * unchanged, an entry with `@removed` means the manager was removed.
 */
import { isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import {
  ENTERPRISE_USER_URN,
  SWITCHBOARD_USER_URN,
  formatGuid,
  toE164,
  type EnterpriseUserAttributes,
  type ScimAttributes,
  type SourceDelete,
  type SourceGroup,
  type SourceGroupDelete,
  type SourceRecord,
  type SwitchboardUserAttributes,
} from '../sdk/index.js';
import type { AttributeMap, MapTarget } from './config.js';

/** A Graph object as JSON. */
export type GraphObject = Record<string, unknown>;

export interface EntraMapperOptions {
  attributeMap: AttributeMap;
  defaultCountry?: CountryCode;
  /** An incremental round: absent properties are unchanged. */
  partial: boolean;
}

export const MANAGER_PATH = `${ENTERPRISE_USER_URN}:manager`;

/** Where each map target lands, as a cleared path. */
const TARGET_PATHS: Record<MapTarget, string> = {
  userName: 'userName',
  'name.givenName': 'name.givenName',
  'name.familyName': 'name.familyName',
  'name.formatted': 'name.formatted',
  displayName: 'displayName',
  title: 'title',
  active: 'active',
  'emails.work': 'emails',
  'phoneNumbers.work': 'phoneNumbers',
  mobileNumber: `${SWITCHBOARD_USER_URN}:mobileNumber`,
  employeeNumber: `${ENTERPRISE_USER_URN}:employeeNumber`,
  department: `${ENTERPRISE_USER_URN}:department`,
  extensions: `${SWITCHBOARD_USER_URN}:extensions`,
};

/** `@removed` of a delta entry: `changed` (restorable, e.g. soft-deleted) or `deleted` (gone for good). */
export function removedReason(object: GraphObject): 'changed' | 'deleted' | undefined {
  const removed = object['@removed'];
  if (!removed || typeof removed !== 'object') return undefined;
  return (removed as { reason?: unknown }).reason === 'changed' ? 'changed' : 'deleted';
}

type Lookup = { present: false } | { present: true; values: string[] };

/** A property's values as strings (`a.b` reads b of complex property a); `present` tells absent from null. */
function lookup(user: GraphObject, property: string): Lookup {
  const [head, tail] = property.split('.') as [string, string | undefined];
  if (!(head in user)) return { present: false };
  let value = user[head];
  if (tail !== undefined) {
    if (value === null || value === undefined) return { present: true, values: [] };
    if (typeof value !== 'object' || !(tail in (value as GraphObject))) return { present: false };
    value = (value as GraphObject)[tail];
  }
  const list = Array.isArray(value) ? value : [value];
  const values = list
    .filter((v) => v !== null && v !== undefined)
    .map((v) => (typeof v === 'string' ? v.trim() : typeof v === 'number' || typeof v === 'boolean' ? String(v) : ''))
    .filter((v) => v !== '');
  return { present: true, values };
}

/** The objectGUID behind `onPremisesImmutableId` (base64 of its 16 bytes), or undefined when it is not one. */
export function objectGuidOfImmutableId(immutableId: string): string | undefined {
  if (!/^[A-Za-z0-9+/]{22}==$/.test(immutableId)) return undefined;
  const bytes = Buffer.from(immutableId, 'base64');
  return bytes.length === 16 ? formatGuid(bytes) : undefined;
}

function parseActive(value: string): boolean | undefined {
  if (/^(true|1|yes|enabled)$/i.test(value)) return true;
  if (/^(false|0|no|disabled)$/i.test(value)) return false;
  return undefined;
}

/** The anchor of the manager in `manager@delta`: a string, `null` when removed, undefined when not sent. */
function managerOf(user: GraphObject): string | null | undefined {
  const delta = user['manager@delta'];
  if (delta === undefined) return undefined;
  if (!Array.isArray(delta)) return null;
  const current = delta.find((entry): entry is GraphObject => typeof entry === 'object' && entry !== null && removedReason(entry as GraphObject) === undefined);
  return typeof current?.id === 'string' && current.id !== '' ? current.id : null;
}

/** Maps one live user of a delta page. */
export function mapGraphUser(user: GraphObject, options: EntraMapperOptions): SourceRecord {
  const anchor = typeof user.id === 'string' ? user.id : '';
  const map = options.attributeMap;
  const warnings: string[] = [];
  const cleared: string[] = [];
  const attributes: ScimAttributes = {};
  const enterprise: EnterpriseUserAttributes = {};
  const switchboard: SwitchboardUserAttributes = {};
  const name: Record<string, string> = {};

  for (const target of Object.keys(TARGET_PATHS) as MapTarget[]) {
    const property = map[target];
    if (!property) continue;
    const found = lookup(user, property);
    if (!found.present) continue;
    const [first] = found.values;
    let set = false;
    if (first !== undefined) {
      set = true;
      switch (target) {
        case 'userName':
        case 'displayName':
        case 'title':
          attributes[target] = first;
          break;
        case 'name.givenName':
          name.givenName = first;
          break;
        case 'name.familyName':
          name.familyName = first;
          break;
        case 'name.formatted':
          name.formatted = first;
          break;
        case 'active': {
          const active = parseActive(first);
          if (active === undefined) {
            warnings.push(`${property} "${first}" is not true or false; active left out`);
            set = false;
          } else attributes.active = active;
          break;
        }
        case 'emails.work': {
          const emails = [...new Set(found.values)];
          attributes.emails = emails.map((value, i) => (i === 0 ? { value, type: 'work', primary: true } : { value, type: 'work' }));
          break;
        }
        case 'phoneNumbers.work':
          attributes.phoneNumbers = [...new Set(found.values)].map((value) => ({ value, type: 'work' }));
          break;
        case 'mobileNumber': {
          const country = countryOf(user, options.defaultCountry);
          const e164 = toE164(first, country);
          if (e164) switchboard.mobileNumber = e164;
          else {
            warnings.push(`${property} "${first}" is not a valid phone number${country ? ` (country ${country})` : ' (no usageLocation nor defaultCountry)'}; mobileNumber left out`);
            set = false;
          }
          break;
        }
        case 'employeeNumber':
          enterprise.employeeNumber = first;
          break;
        case 'department':
          enterprise.department = first;
          break;
        case 'extensions':
          switchboard.extensions = [...new Set(found.values)];
          break;
      }
    }
    if (!set && options.partial) cleared.push(TARGET_PATHS[target]);
  }
  if (Object.keys(name).length > 0) attributes.name = name;

  const manager = managerOf(user);
  if (typeof manager === 'string') enterprise.manager = { value: manager };
  else if (manager === null && options.partial) cleared.push(MANAGER_PATH);
  if (Object.keys(enterprise).length > 0) attributes[ENTERPRISE_USER_URN] = enterprise;
  if (Object.keys(switchboard).length > 0) attributes[SWITCHBOARD_USER_URN] = switchboard;

  const record: SourceRecord = { type: 'record', anchor, attributes, raw: user, hardKeys: { externalId: anchor } };
  if (enterprise.employeeNumber) record.hardKeys.employeeNumber = enterprise.employeeNumber;
  const immutableId = user.onPremisesImmutableId;
  if (typeof immutableId === 'string' && immutableId !== '') {
    const guid = objectGuidOfImmutableId(immutableId);
    if (guid) record.hardKeys.onPremisesObjectGuid = guid;
    else warnings.push(`onPremisesImmutableId "${immutableId}" is not the base64 of an objectGUID; no hybrid match`);
  }
  if (options.partial) {
    record.partial = true;
    if (cleared.length > 0) record.cleared = cleared;
  }
  if (warnings.length > 0) record.warnings = warnings;
  return record;
}

/** The user's country for phone numbers: its usageLocation, else the configured default. */
function countryOf(user: GraphObject, defaultCountry: CountryCode | undefined): CountryCode | undefined {
  const location = user.usageLocation;
  return typeof location === 'string' && isSupportedCountry(location.toUpperCase()) ? (location.toUpperCase() as CountryCode) : defaultCountry;
}

/**
 * A removed user: `changed` (in the recycle bin, restorable for 30 days) is a soft delete that deactivates;
 * `deleted` (permanently deleted) is the delete path.
 */
export function mapRemovedUser(user: GraphObject): SourceDelete {
  const anchor = String(user.id);
  return removedReason(user) === 'changed' ? { type: 'delete', anchor, soft: true } : { type: 'delete', anchor };
}

/**
 * One group of a `/groups/delta` page. `members@delta` lists users (`#microsoft.graph.user`) and nested groups
 * (`#microsoft.graph.group`); other member types (devices, contacts, service principals) are not ours.
 */
export function mapGraphGroup(group: GraphObject, partial: boolean): SourceGroup | SourceGroupDelete {
  const anchor = String(group.id);
  if (removedReason(group) !== undefined) return { type: 'group-delete', anchor };
  const members: SourceGroup['members'] = [];
  const removedMembers: string[] = [];
  const delta = group['members@delta'];
  for (const entry of Array.isArray(delta) ? delta : []) {
    if (typeof entry !== 'object' || entry === null) continue;
    const member = entry as GraphObject;
    if (typeof member.id !== 'string') continue;
    if (removedReason(member) !== undefined) {
      removedMembers.push(member.id);
      continue;
    }
    const type = member['@odata.type'];
    if (type === '#microsoft.graph.user') members.push({ anchor: member.id, type: 'User' });
    else if (type === '#microsoft.graph.group') members.push({ anchor: member.id, type: 'Group' });
  }
  const raw: GraphObject = { ...group };
  delete raw['members@delta'];
  const out: SourceGroup = { type: 'group', anchor, members, partial, raw };
  if (typeof group.displayName === 'string') out.displayName = group.displayName;
  if (removedMembers.length > 0) out.removedMembers = removedMembers;
  return out;
}
