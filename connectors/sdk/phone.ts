import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/** E.164, or undefined when the number is not valid for its (or the default) country. */
export function toE164(value: string, defaultCountry?: CountryCode): string | undefined {
  const parsed = parsePhoneNumberFromString(value, defaultCountry);
  return parsed?.isValid() ? parsed.number : undefined;
}
