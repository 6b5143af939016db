import {
  ConnectorConfigError, fileLocationProperties, fileSourceProperties, columnMapProperty, parseColumnMap, parseFileLocation, parseFileSource, validateConfig,
  type ConfigSchema, type FileLocation, type FileSourceConfig, type RawFileLocation, type RawFileSource,
} from '../sdk/index.js';

/** The columns of the MiCollab / MiVoice Business users export, as its header writes them. */
export const MIVB_COLUMNS = [
  'First Name', 'Last Name', 'Login ID', 'Email Address', 'Directory Number', 'Device Type', 'Voice Mailbox', 'Element', 'Role', 'Department',
] as const;
export type MivbColumn = (typeof MIVB_COLUMNS)[number];
export const MIVB_REQUIRED: readonly MivbColumn[] = ['Last Name', 'Directory Number'];

export interface MivbWriteBack {
  location: FileLocation;
  /** The MiCollab role the bulk-provisioning file gives (a role the MiCollab site defines). */
  role: string;
  timeoutMs: number;
}

export interface MivbConfig {
  file: FileSourceConfig;
  /** The MiVB cluster: one dialling plan, inside which a directory number is unique. */
  clusterId: string;
  columnMap: Record<string, string>;
  writeBack?: MivbWriteBack;
}

export const mivbConfigSchema: ConfigSchema = {
  type: 'object',
  title: 'MiVoice Business (users export)',
  additionalProperties: false,
  required: ['location', 'clusterId'],
  properties: {
    ...fileSourceProperties,
    clusterId: { type: 'string', pattern: '\\S', description: 'The MiVB cluster the export comes from (one dialling plan: a directory number is unique in it).' },
    columnMap: columnMapProperty,
    writeBack: {
      type: 'object',
      additionalProperties: false,
      required: ['location', 'role'],
      description: 'Where MiCollab bulk-provisioning files are put (the username set with the MiVB service): an sftp:// or file:// directory.',
      properties: {
        ...fileLocationProperties,
        role: { type: 'string', pattern: '\\S', description: 'The MiCollab role written in the Role column of the provisioning file.' },
      },
    },
  },
};

interface ValidatedRaw extends RawFileSource {
  clusterId: string;
  columnMap: Record<string, string>;
  writeBack?: RawFileLocation & { role: string };
}

export function parseMivbConfig(raw: unknown): MivbConfig {
  const value = validateConfig<ValidatedRaw>(mivbConfigSchema, raw, 'mivb');
  const issues: string[] = [];
  const file = parseFileSource(value, issues);
  const columnMap = parseColumnMap(value.columnMap, MIVB_COLUMNS, issues);
  let writeBack: MivbWriteBack | undefined;
  if (value.writeBack) {
    const location = parseFileLocation(value.writeBack, issues, 'writeBack.');
    if (location?.scheme === 'https') issues.push('writeBack.location: files are put into an sftp:// or file:// directory');
    if (location) writeBack = { location, role: value.writeBack.role.trim(), timeoutMs: value.timeoutMs };
  }
  if (issues.length > 0 || !file) throw new ConnectorConfigError(issues, 'mivb');
  return { file, clusterId: value.clusterId.trim(), columnMap, writeBack };
}
