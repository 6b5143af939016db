/**
 * Pure mapping from Microsoft Graph objects (as `/users/delta` and `/groups/delta` return them) to connector
 * items in SCIM vocabulary. No I/O.
 *
 * The user given here is whole: every selected property, and `manager@delta` when the user has a manager (the
 * connector reads again, whole, the users a later delta round reports changed, since such an entry may carry only
 * the changed properties and leaves `manager@delta` out when the manager did not change).
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
}

export const MANAGER_PATH = `${ENTERPRISE_USER_URN}:manager`;

/** `@removed` of a delta entry: `changed` (restorable, e.g. soft-deleted) or `deleted` (gone for good). */
export function removedReason(object: GraphObject): 'changed' | 'deleted' | undefined {
  const removed = object['@removed'];
  if (!removed || typeof removed !== 'object') return undefined;
  return (removed as { reason?: unknown }).reason === 'changed' ? 'changed' : 'deleted';
}

/** A property's non-empty values as strings (`a.b` reads b of complex property a); `[]` when absent or null. */
function lookup(user: GraphObject, property: string): string[] {
  const [head, tail] = property.split('.') as [string, string | undefined];
  let value = user[head];
  if (tail !== undefined) value = value !== null && typeof value === 'object' ? (value as GraphObject)[tail] : undefined;
  const list = Array.isArray(value) ? value : [value];
  return list
    .filter((v) => v !== null && v !== undefined)
    .map((v) => (typeof v === 'string' ? v.trim() : typeof v === 'number' || typeof v === 'boolean' ? String(v) : ''))
    .filter((v) => v !== '');
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

/** The anchor of the manager in `manager@delta` (an entry with `@removed` is a removed manager), if any. */
function managerOf(user: GraphObject): string | undefined {
  const delta = user['manager@delta'];
  if (!Array.isArray(delta)) return undefined;
  const current = delta.find((entry): entry is GraphObject => typeof entry === 'object' && entry !== null && removedReason(entry as GraphObject) === undefined);
  return typeof current?.id === 'string' && current.id !== '' ? current.id : undefined;
}

/** Maps one live, whole user. */
export function mapGraphUser(user: GraphObject, options: EntraMapperOptions): SourceRecord {
  const anchor = typeof user.id === 'string' ? user.id : '';
  const map = options.attributeMap;
  const warnings: string[] = [];
  const attributes: ScimAttributes = {};
  const enterprise: EnterpriseUserAttributes = {};
  const switchboard: SwitchboardUserAttributes = {};
  const name: Record<string, string> = {};

  for (const [target, property] of Object.entries(map) as Array<[MapTarget, string | null]>) {
    if (!property) continue;
    const values = lookup(user, property);
    const [first] = values;
    if (first !== undefined) {
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
          if (active === undefined) warnings.push(`${property} "${first}" is not true or false; active left out`);
          else attributes.active = active;
          break;
        }
        case 'emails.work': {
          const emails = [...new Set(values)];
          attributes.emails = emails.map((value, i) => (i === 0 ? { value, type: 'work', primary: true } : { value, type: 'work' }));
          break;
        }
        case 'phoneNumbers.work':
          attributes.phoneNumbers = [...new Set(values)].map((value) => ({ value, type: 'work' }));
          break;
        case 'mobileNumber': {
          const country = countryOf(user, options.defaultCountry);
          const e164 = toE164(first, country);
          if (e164) switchboard.mobileNumber = e164;
          else warnings.push(`${property} "${first}" is not a valid phone number${country ? ` (country ${country})` : ' (no usageLocation nor defaultCountry)'}; mobileNumber left out`);
          break;
        }
        case 'employeeNumber':
          enterprise.employeeNumber = first;
          break;
        case 'department':
          enterprise.department = first;
          break;
        case 'extensions':
          switchboard.extensions = [...new Set(values)];
          break;
      }
    }
  }
  if (Object.keys(name).length > 0) attributes.name = name;

  const manager = managerOf(user);
  if (manager) enterprise.manager = { value: manager };
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
