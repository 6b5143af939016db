import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { Account } from './account.js';
import { DomainError } from './errors.js';

export type JsonObject = Record<string, unknown>;
export const SWITCHBOARD_URN = 'urn:switchboard:scim:schemas:extension:2.0:User';
export const MITEAM_MEETINGS = 'MiTeam Meetings';

/** Extension attributes the server computes; whatever a client sends for them is dropped. */
export const computedExtensionAttributes = ['registered', 'source', 'lockedAttributes', 'modifiedBy', 'connections', 'advanced'] as const;

export function extensionOf(doc: JsonObject): JsonObject {
  return (doc[SWITCHBOARD_URN] as JsonObject | undefined) ?? {};
}

const PHONE_TEXT = /^\+?[\d\s().\/-]+$/;

/** mobileNumber in E.164 (libphonenumber-js), read in mobileCountry when written nationally. */
export function normaliseMobile(doc: JsonObject): void {
  const ext = extensionOf(doc);
  const raw = ext.mobileNumber;
  if (raw === undefined || raw === null || raw === '') {
    if (doc[SWITCHBOARD_URN]) {
      delete (doc[SWITCHBOARD_URN] as JsonObject).mobileNumber;
      delete (doc[SWITCHBOARD_URN] as JsonObject).mobileCountry;
    }
    return;
  }
  if (typeof raw !== 'string') throw new DomainError('invalidValue', 'mobileNumber must be a string');
  // libphonenumber finds a number inside any text ("+32 470 00 00 0x" reads as another, shorter number): only the
  // characters of a written phone number are accepted, so what is stored is what was sent.
  if (!PHONE_TEXT.test(raw)) {
    throw new DomainError('invalidValue', `mobileNumber "${raw.replace(/\u0000/g, '\\u0000')}" may hold only digits, spaces and + ( ) . - /; write it in E.164 form (e.g. +14155550123)`);
  }
  const country = typeof ext.mobileCountry === 'string' && ext.mobileCountry !== '' ? (ext.mobileCountry.toUpperCase() as CountryCode) : undefined;
  const parsed = parsePhoneNumberFromString(raw, country);
  if (!parsed || !parsed.isValid()) {
    throw new DomainError('invalidValue', `mobileNumber "${raw}" is not a valid phone number${country ? ` in ${country}` : ''}; write it in E.164 form (e.g. +14155550123) or set mobileCountry`);
  }
  const out = doc[SWITCHBOARD_URN] as JsonObject;
  out.mobileNumber = parsed.number;
  if (parsed.country) out.mobileCountry = parsed.country;
}

/** The seed's licensing rules for MiTeam Meetings: integration on, MiCollab off, a subscription, not a partner, within seats. */
export function licenseRuleViolation(account: Account, product: string): string | undefined {
  if (product.toLowerCase() !== MITEAM_MEETINGS.toLowerCase()) {
    const sub = account.subscriptions.find((s) => s.product.toLowerCase() === product.toLowerCase());
    return sub ? undefined : `The account has no subscription for ${product}`;
  }
  if (account.type === 'partner') return 'A partner account cannot be licensed for MiTeam Meetings';
  if (!account.settings.miTeamMeetings) return 'The account does not have the MiTeam Meetings integration turned on';
  if (account.settings.miCollab) return 'MiTeam Meetings licences cannot be managed while the MiCollab integration is on';
  const sub = account.subscriptions.find((s) => s.product.toLowerCase() === MITEAM_MEETINGS.toLowerCase());
  if (!sub || sub.seats < 1) return 'The account has no MiTeam Meetings subscription';
  return undefined;
}

export function seatsOf(account: Account, product: string): number {
  return account.subscriptions.find((s) => s.product.toLowerCase() === product.toLowerCase())?.seats ?? 0;
}

export function licensesOf(doc: JsonObject): string[] {
  const list = extensionOf(doc).licenses;
  return Array.isArray(list) ? list.map(String) : [];
}

export function smsNumberRuleViolation(account: Account, number: string): string | undefined {
  if (!account.settings.twilio.enabled || !account.settings.twilio.userNumbers) {
    return 'SMS numbers need the Twilio integration with its User Numbers option turned on';
  }
  if (!account.settings.twilio.smsPool.includes(number)) return `SMS number ${number} is not in the account's pool`;
  return undefined;
}

/** An address with a local part, an @ and a dotted domain whose last label is not all digits. */
const EMAIL_PATTERN = /^[^\s@"(),:;<>[\]\\]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9-]{2,}$/;

export function isValidEmail(value: string): boolean {
  return EMAIL_PATTERN.test(value);
}

function emailValues(doc: JsonObject | undefined): string[] {
  const list = doc?.emails;
  if (!Array.isArray(list)) return [];
  return list.flatMap((e) => (e && typeof e === 'object' && typeof (e as JsonObject).value === 'string' && (e as JsonObject).value !== '' ? [String((e as JsonObject).value)] : []));
}

function nameOf(doc: JsonObject | undefined, part: 'givenName' | 'familyName'): string | undefined {
  const name = doc?.name;
  const value = name && typeof name === 'object' ? (name as JsonObject)[part] : undefined;
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * The seed's New User form, for what an admin writes (identity providers and directories send what they hold):
 * "Enter the First Name, Last Name, and Email address. These fields are mandatory", "Enter a valid email
 * address". A user an admin creates needs all three; an edit may not empty one the user has, and every address
 * it adds must be valid (one a source wrote earlier is left as it is). The detail says what to fix.
 */
export function adminEntryViolation(before: JsonObject | undefined, next: JsonObject): string | undefined {
  const fields = [
    ['givenName', 'name.givenName (First Name)'],
    ['familyName', 'name.familyName (Last Name)'],
  ] as const;
  for (const [part, label] of fields) {
    if (nameOf(next, part) !== undefined) continue;
    if (!before) return `${label} is mandatory for a new user`;
    if (nameOf(before, part) !== undefined) return `${label} is mandatory and cannot be emptied`;
  }
  const emails = emailValues(next);
  if (emails.length === 0) {
    if (!before) return 'emails (Email) is mandatory for a new user: give at least one address';
    if (emailValues(before).length > 0) return 'emails (Email) is mandatory and cannot be emptied';
  }
  const known = new Set(emailValues(before).map((e) => e.toLowerCase()));
  const invalid = emails.find((e) => !known.has(e.toLowerCase()) && !isValidEmail(e));
  if (invalid !== undefined) return `"${invalid}" is not a valid email address (write it as name@example.com)`;
  return extensionsViolation(before, next);
}

/** PBX extension numbers: digits only (1 to 15), each listed once per user; values a source wrote earlier are kept. */
export function extensionsViolation(before: JsonObject | undefined, next: JsonObject): string | undefined {
  const list = extensionOf(next).extensions;
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) return 'extensions must be a list of extension numbers';
  const earlier = new Set((Array.isArray(extensionOf(before ?? {}).extensions) ? (extensionOf(before ?? {}).extensions as unknown[]) : []).map(String));
  const seen = new Set<string>();
  for (const value of list) {
    const text = typeof value === 'string' ? value : String(value);
    if (!earlier.has(text) && !/^\d{1,15}$/.test(text)) return `extension "${text}" is not an extension number: use digits only (e.g. 2001)`;
    if (seen.has(text)) return `extension ${text} is listed twice`;
    seen.add(text);
  }
  return undefined;
}
