import { isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import {
  ConnectorConfigError, columnMapProperty, fileSourceProperties, parseColumnMap, parseFileSource, validateConfig,
  type ConfigSchema, type FileSourceConfig, type RawFileSource,
} from '../sdk/index.js';

/**
 * The columns MiCloud Connect writes: the Account Portal users export (`Contact Name`, `Service/Phone Name`,
 * `Phone Number`, `Extension`, `Email`, role flags) and the Account Console import template (`FIRST NAME`,
 * `LAST NAME`, `LOCATION`, `MOBILE PHONE`, `EMAIL`, `USERNAME`, `ROLE`, plus `EXTENSION`, `PHONE NUMBER`).
 * Headers match ignoring case and spaces, so `EMAIL` is `Email` and `PHONE NUMBER` is `Phone Number`.
 */
export const MICLOUD_COLUMNS = [
  'Contact Name', 'First Name', 'Last Name', 'Service/Phone Name', 'Phone Number', 'Extension', 'Email', 'Mobile Phone', 'Username', 'Location', 'Role',
  'DM', 'PM', 'BC', 'EC', 'TC',
] as const;
export type MicloudColumn = (typeof MICLOUD_COLUMNS)[number];

/** Each group: one of its alternatives must be in the header. */
export const MICLOUD_ONE_OF: ReadonlyArray<ReadonlyArray<readonly MicloudColumn[]>> = [
  [['Contact Name'], ['First Name', 'Last Name']],
  [['Username'], ['Email']],
  [['Phone Number'], ['Extension']],
];

export interface MicloudConfig {
  file: FileSourceConfig;
  /** Country for phone numbers written without a +country code. */
  defaultCountry?: CountryCode;
  columnMap: Record<string, string>;
}

export const micloudConfigSchema: ConfigSchema = {
  type: 'object',
  title: 'MiCloud Connect (users export)',
  additionalProperties: false,
  required: ['location'],
  properties: {
    ...fileSourceProperties,
    defaultCountry: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO country for phone numbers written without +country code, e.g. US.' },
    columnMap: columnMapProperty,
  },
};

interface ValidatedRaw extends RawFileSource {
  defaultCountry?: string;
  columnMap: Record<string, string>;
}

export function parseMicloudConfig(raw: unknown): MicloudConfig {
  const value = validateConfig<ValidatedRaw>(micloudConfigSchema, raw, 'micloud');
  const issues: string[] = [];
  const file = parseFileSource(value, issues);
  const columnMap = parseColumnMap(value.columnMap, MICLOUD_COLUMNS, issues);
  if (value.defaultCountry && !isSupportedCountry(value.defaultCountry)) issues.push(`defaultCountry: "${value.defaultCountry}" is not a known country code`);
  if (issues.length > 0 || !file) throw new ConnectorConfigError(issues, 'micloud');
  return { file, defaultCountry: value.defaultCountry as CountryCode | undefined, columnMap };
}
