/**
 * MiCloud Connect export row → record (pure). Anchor: `Username` when present, else `Email` (both compared
 * case-insensitively). A row with neither a phone number nor an extension is a contact, not a user: skipped.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { SWITCHBOARD_USER_URN, type RowOutcome, type ScimAttributes, type ScimName } from '../sdk/index.js';
import type { MicloudColumn } from './config.js';

export type MicloudRow = Readonly<Partial<Record<MicloudColumn, string>>>;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const EXTENSION = /^\d{2,10}$/;

/** `Contact Name`: "Family, Given" when it holds a comma, else "Given Family" split at the last space. */
export function splitContactName(contactName: string): ScimName {
  const comma = contactName.indexOf(',');
  if (comma !== -1) {
    const familyName = contactName.slice(0, comma).trim();
    const givenName = contactName.slice(comma + 1).trim();
    return { ...(givenName ? { givenName } : {}), ...(familyName ? { familyName } : {}) };
  }
  const space = contactName.trim().lastIndexOf(' ');
  if (space === -1) return { familyName: contactName.trim() };
  return { givenName: contactName.slice(0, space).trim(), familyName: contactName.slice(space + 1).trim() };
}

export function micloudAnchor(row: MicloudRow): string | undefined {
  return (row.Username ?? row.Email)?.toLowerCase();
}

function e164(value: string, country: CountryCode | undefined): string | undefined {
  const parsed = parsePhoneNumberFromString(value, country);
  return parsed?.isValid() ? parsed.number : undefined;
}

export function mapMicloudRow(row: MicloudRow, defaultCountry?: CountryCode): RowOutcome {
  const phone = row['Phone Number'];
  const extension = row.Extension;
  if (!phone && !extension) return { type: 'skip', reason: 'a contact: no phone number and no extension' };
  const anchor = micloudAnchor(row);
  if (!anchor) return { type: 'reject', error: 'neither Username nor Email is filled in' };
  const name = row['Contact Name'] ? splitContactName(row['Contact Name']) : { ...(row['First Name'] ? { givenName: row['First Name'] } : {}), ...(row['Last Name'] ? { familyName: row['Last Name'] } : {}) };
  if (!name.familyName && !name.givenName) return { type: 'reject', anchor, error: 'the user has no name (Contact Name, or First Name and Last Name)' };
  const warnings: string[] = [];
  let email = row.Email;
  if (email && !EMAIL.test(email)) {
    warnings.push(`Email "${email}" is not an email address; left out`);
    email = undefined;
  }
  const attributes: ScimAttributes = {
    userName: row.Username ?? email ?? anchor,
    name,
    displayName: [name.givenName, name.familyName].filter(Boolean).join(' '),
  };
  if (email) attributes.emails = [{ value: email, type: 'work', primary: true }];
  const ext: NonNullable<ScimAttributes[typeof SWITCHBOARD_USER_URN]> = {};
  if (extension) {
    if (EXTENSION.test(extension)) ext.extensions = [extension];
    else warnings.push(`Extension "${extension}" is not an extension number; left out`);
  }
  if (phone) {
    const number = e164(phone, defaultCountry);
    if (number) attributes.phoneNumbers = [{ value: number, type: 'work' }];
    else warnings.push(`Phone Number "${phone}" is not a valid phone number${defaultCountry ? '' : ' (set defaultCountry for numbers without +country code)'}; left out`);
  }
  const mobile = row['Mobile Phone'];
  if (mobile) {
    const number = e164(mobile, defaultCountry);
    if (number) ext.mobileNumber = number;
    else warnings.push(`Mobile Phone "${mobile}" is not a valid phone number${defaultCountry ? '' : ' (set defaultCountry for numbers without +country code)'}; left out`);
  }
  if (Object.keys(ext).length > 0) attributes[SWITCHBOARD_USER_URN] = ext;
  return { type: 'record', record: { type: 'record', anchor, attributes, raw: { ...row }, hardKeys: {}, ...(warnings.length > 0 ? { warnings } : {}) } };
}
