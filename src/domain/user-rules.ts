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
