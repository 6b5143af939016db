/**
 * MiVB users-export row → record (pure). Anchor: `Login ID` when present, else `Element` + `Directory Number`.
 * Writes names, email, userName (the email, else the Login ID), the directory number as the extension, the MiVB
 * service, voicemail and department. The username is never read from the PBX: the seed applies it once, from
 * Switchboard to MiVB (see `provisioningFile`).
 */
import { csvLine, ENTERPRISE_USER_URN, SWITCHBOARD_USER_URN, type OutgoingFile, type RowOutcome, type ScimAttributes, type UsernameWriteBack } from '../sdk/index.js';
import type { MivbColumn } from './config.js';

export type MivbRow = Readonly<Partial<Record<MivbColumn, string>>>;

/** MiVB directory numbers: digits (a leading * or # for feature-style numbers), at most 10. */
const DIRECTORY_NUMBER = /^[*#]?\d{1,10}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function mivbAnchor(row: MivbRow): string | undefined {
  const login = row['Login ID'];
  if (login) return `login:${login.toLowerCase()}`;
  const dn = row['Directory Number'];
  return dn ? `dn:${row.Element ?? ''}:${dn}` : undefined;
}

/** A directory number is unique within one cluster. */
export function directoryNumberKey(row: MivbRow, clusterId: string): { key: string; label: string } | undefined {
  const dn = row['Directory Number'];
  return dn ? { key: `${clusterId}\u0000${dn}`, label: `Directory Number ${dn} (cluster ${clusterId})` } : undefined;
}

function yesNo(value: string | undefined): boolean | undefined | 'invalid' {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (['yes', 'y', 'true', '1'].includes(v)) return true;
  if (['no', 'n', 'false', '0'].includes(v)) return false;
  return 'invalid';
}

export function mapMivbRow(row: MivbRow): RowOutcome {
  const anchor = mivbAnchor(row);
  const familyName = row['Last Name'];
  const dn = row['Directory Number'];
  if (!dn) return { type: 'reject', anchor, error: 'Directory Number is empty' };
  if (!DIRECTORY_NUMBER.test(dn)) return { type: 'reject', anchor, error: `Directory Number "${dn}" is not a directory number (digits, at most 10)` };
  if (!familyName) return { type: 'reject', anchor, error: 'Last Name is empty' };
  const warnings: string[] = [];
  let email = row['Email Address'];
  if (email && !EMAIL.test(email)) {
    warnings.push(`Email Address "${email}" is not an email address; left out`);
    email = undefined;
  }
  const userName = email ?? row['Login ID'];
  const givenName = row['First Name'];
  const attributes: ScimAttributes = {
    name: { familyName, ...(givenName ? { givenName } : {}) },
    displayName: givenName ? `${givenName} ${familyName}` : familyName,
    [SWITCHBOARD_USER_URN]: { extensions: [dn], mivbService: true },
  };
  if (userName) attributes.userName = userName;
  if (email) attributes.emails = [{ value: email, type: 'work', primary: true }];
  const voicemail = yesNo(row['Voice Mailbox']);
  if (voicemail === 'invalid') warnings.push(`Voice Mailbox "${row['Voice Mailbox']}" is not Yes or No; left out`);
  else if (voicemail !== undefined) attributes[SWITCHBOARD_USER_URN]!.voicemail = voicemail;
  if (row.Department) attributes[ENTERPRISE_USER_URN] = { department: row.Department };
  return {
    type: 'record',
    record: {
      type: 'record',
      anchor: anchor!,
      attributes,
      raw: { ...row },
      hardKeys: {},
      ...(warnings.length > 0 ? { warnings } : {}),
    },
  };
}

/** The MiCollab bulk-provisioning columns Switchboard writes. */
export const PROVISIONING_COLUMNS = ['First Name', 'Last Name', 'Login ID', 'Email Address', 'Role'] as const;

/** The file that applies the seed's username to MiCollab and MiVB: one per user, named after the user. */
export function provisioningFile(message: UsernameWriteBack, role: string): OutgoingFile {
  return {
    name: `switchboard-username-${message.userId}.csv`,
    content:
      csvLine(PROVISIONING_COLUMNS) +
      csvLine([message.givenName ?? '', message.familyName ?? '', message.username, message.email ?? '', role]),
  };
}
