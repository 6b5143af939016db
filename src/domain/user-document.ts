/**
 * A user's SCIM document as the write path keeps it: cleaned of what the server computes, and the typed columns,
 * value rows and unique keys derived from it. Pure: the write plan (write-plan.ts) and the users repository both
 * read a document through these functions, so what is checked and what is stored cannot drift apart.
 */
import { computedExtensionAttributes, SWITCHBOARD_URN, type JsonObject } from './user-rules.js';
import { jsonCopy } from '../lib/json-copy.js';

export const ENTERPRISE_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const CORE_USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const EXTENSION_URNS = [ENTERPRISE_URN, SWITCHBOARD_URN] as const;

/** The stored document: a deep copy without id, meta, groups, password and computed extension attributes; one primary per list. */
export function cleanDocument(doc: JsonObject): JsonObject {
  const out = jsonCopy(doc);
  delete out.id;
  delete out.meta;
  delete out.groups;
  delete out.password;
  const ext = out[SWITCHBOARD_URN] as JsonObject | undefined;
  if (ext) {
    for (const key of computedExtensionAttributes) delete ext[key];
    if (Object.keys(ext).length === 0) delete out[SWITCHBOARD_URN];
  }
  // At most one primary per multi-valued attribute (RFC 7643 §2.4): the first one flagged wins.
  for (const attribute of ['emails', 'phoneNumbers', 'addresses', 'ims', 'photos', 'roles', 'entitlements']) {
    const list = out[attribute];
    if (!Array.isArray(list)) continue;
    let seen = false;
    for (const item of list as JsonObject[]) {
      if (item && item.primary === true) {
        if (seen) item.primary = false;
        seen = true;
      }
    }
  }
  const schemas = new Set([CORE_USER_URN]);
  for (const urn of EXTENSION_URNS) if (out[urn] && Object.keys(out[urn] as JsonObject).length > 0) schemas.add(urn);
  out.schemas = [...schemas];
  return out;
}

/** The value of an attribute key (URN-qualified for extension attributes). */
export function readAttribute(doc: JsonObject, key: string): unknown {
  const split = key.lastIndexOf(':');
  if (key.startsWith('urn:') && split > 0) return (doc[key.slice(0, split)] as JsonObject | undefined)?.[key.slice(split + 1)];
  return doc[key];
}

/** Whether a document holds a value for the attribute (an empty list holds none). */
export function holdsAttribute(doc: JsonObject, key: string): boolean {
  const value = readAttribute(doc, key);
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

/** The typed columns derived from a SCIM document: what filters, sorts and uniqueness use. */
export function derivedColumns(doc: JsonObject) {
  const name = (doc.name as JsonObject | undefined) ?? {};
  const emails = (Array.isArray(doc.emails) ? doc.emails : []) as JsonObject[];
  const primary = emails.find((e) => e.primary === true) ?? emails[0];
  const ext = (doc[SWITCHBOARD_URN] as JsonObject | undefined) ?? {};
  return {
    user_name: String(doc.userName),
    external_id: typeof doc.externalId === 'string' ? doc.externalId : null,
    display_name: typeof doc.displayName === 'string' ? doc.displayName : null,
    given_name: typeof name.givenName === 'string' ? name.givenName : null,
    family_name: typeof name.familyName === 'string' ? name.familyName : null,
    active: doc.active === undefined ? true : doc.active === true,
    primary_email: primary && typeof primary.value === 'string' ? primary.value : null,
    sms_number: typeof ext.smsNumber === 'string' && ext.smsNumber !== '' ? ext.smsNumber : null,
    account_admin: ext.accountAdmin === true,
  };
}

export interface ValueRow {
  position: number;
  value: string;
  type: string | null;
  is_primary: boolean;
}

/** The rows of a multi-valued attribute: non-empty values, each once (emails compared case-insensitively). */
export function valueRowsOf(doc: JsonObject, attribute: 'emails' | 'phoneNumbers'): ValueRow[] {
  const items = (Array.isArray(doc[attribute]) ? doc[attribute] : []) as JsonObject[];
  const seen = new Set<string>();
  const rows: ValueRow[] = [];
  items.forEach((item, position) => {
    if (typeof item?.value !== 'string' || item.value === '') return;
    const key = attribute === 'emails' ? item.value.toLowerCase() : item.value;
    if (seen.has(key)) return;
    seen.add(key);
    rows.push({ position, value: item.value, type: typeof item.type === 'string' ? item.type : null, is_primary: item.primary === true });
  });
  return rows;
}

export function extensionsOf(doc: JsonObject): string[] {
  const ext = (doc[SWITCHBOARD_URN] as JsonObject | undefined) ?? {};
  return Array.isArray(ext.extensions) ? [...new Set((ext.extensions as unknown[]).map(String))] : [];
}

/** The attributes unique per account, as their holders are named in a uniqueness error, in the order they are checked. */
export type UniqueAttribute = 'userName' | 'emails' | 'extensions' | 'smsNumber';

/** One unique value of a document: `key` as compared (lower-cased where case does not count), `value` as written. */
export interface UniqueValue {
  attribute: UniqueAttribute;
  key: string;
  value: string;
}

/** The values of a document that must be unique in its account, in the order a conflict is reported. */
export function uniqueValuesOf(doc: JsonObject): UniqueValue[] {
  const cols = derivedColumns(doc);
  const out: UniqueValue[] = [{ attribute: 'userName', key: cols.user_name.toLowerCase(), value: cols.user_name }];
  for (const row of valueRowsOf(doc, 'emails')) out.push({ attribute: 'emails', key: row.value.toLowerCase(), value: row.value });
  for (const number of extensionsOf(doc)) out.push({ attribute: 'extensions', key: number, value: number });
  if (cols.sms_number !== null) out.push({ attribute: 'smsNumber', key: cols.sms_number, value: cols.sms_number });
  return out;
}

/** Whether two documents hold the same unique values (then a write between them cannot create a conflict). */
export function sameUniqueValues(a: JsonObject, b: JsonObject): boolean {
  const text = (doc: JsonObject) => uniqueValuesOf(doc).map((u) => `${u.attribute}\u0000${u.key}`).sort().join('\u0001');
  return text(a) === text(b);
}

/** Who holds a unique value in the account (a fact of the write plan). */
export interface UniqueHolder extends UniqueValue {
  userId: string;
}
