/**
 * The Users CSV: the columns of the seed's New User form (Import Users, and the export that re-imports), how a
 * header names them, how one row becomes the next SCIM document of a user, and how a user becomes a row. Pure:
 * the import service reads and writes, the write path (UserService) judges the document by the seed's rules.
 */
import { DomainError } from './errors.js';
import { extensionOf, SWITCHBOARD_URN, type JsonObject } from './user-rules.js';

const ENTERPRISE_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export const importColumns = [
  { key: 'firstName', header: 'First Name' },
  { key: 'lastName', header: 'Last Name' },
  { key: 'email', header: 'Email' },
  { key: 'mobileNumber', header: 'Mobile Number' },
  { key: 'mobileCountry', header: 'Mobile Country' },
  { key: 'extensions', header: 'Extensions' },
  { key: 'accountAdmin', header: 'Account Admin' },
  { key: 'smsNumber', header: 'SMS Number' },
  { key: 'licenses', header: 'Licenses' },
  { key: 'department', header: 'Department' },
  { key: 'title', header: 'Title' },
] as const;
export type ImportColumn = (typeof importColumns)[number]['key'];

/** Read-only columns of the export: an import ignores them, so an exported file imports back as it is. */
export const exportOnlyColumns = ['Registered', 'Source', 'Modified On', 'Modified By'] as const;
/** Columns the import report adds to the input's: an import ignores them, so a fixed report imports back. */
export const reportColumns = ['Line', 'Outcome', 'Reason'] as const;

/** What `GET /Imports/template` answers, and the export's first columns. */
export const templateHeader: readonly string[] = importColumns.map((c) => c.header);

/** Header names match ignoring case and spaces ("first name", "FirstName", "E mail" does not). */
export function headerKey(name: string): string {
  return name.replace(/\s+/g, '').toLowerCase();
}

const byKey = new Map<string, ImportColumn>(importColumns.map((c) => [headerKey(c.header), c.key]));
byKey.set(headerKey('Licences'), 'licenses');
const ignored = new Set([...exportOnlyColumns, ...reportColumns].map(headerKey));

/** Where each known column sits in a record; -1 for a column the file does not have. */
export type ColumnIndex = Record<ImportColumn, number>;

/**
 * The columns of a header row. A column the import does not know is a 400 naming it, unless `ignoreUnknown`; a
 * column named twice, and a file without Email, are 400s too: nothing is written for a file that cannot be read.
 */
export function resolveHeader(header: readonly string[], ignoreUnknown: boolean): ColumnIndex {
  const index = Object.fromEntries(importColumns.map((c) => [c.key, -1])) as ColumnIndex;
  const unknown: string[] = [];
  header.forEach((raw, i) => {
    const name = raw.trim();
    const key = byKey.get(headerKey(name));
    if (key === undefined) {
      if (name === '' && header.length > 1 && i === header.length - 1) return; // a trailing delimiter on the header
      if (!ignored.has(headerKey(name))) unknown.push(name === '' ? `(empty, column ${i + 1})` : `"${name}"`);
      return;
    }
    if (index[key] !== -1) throw new DomainError('invalidValue', `The header names the column "${name}" twice (columns ${index[key] + 1} and ${i + 1})`);
    index[key] = i;
  });
  if (unknown.length > 0 && !ignoreUnknown) {
    throw new DomainError(
      'invalidValue',
      `Unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} in the header (line 1). The columns are: ${templateHeader.join(', ')} (matched ignoring case and spaces); send ignoreUnknownColumns=true to skip others`,
    );
  }
  if (index.email === -1) throw new DomainError('invalidValue', `The header (line 1) has no Email column; the columns are: ${templateHeader.join(', ')}`);
  return index;
}

/** OWASP CSV injection: a cell starting with one of these is read as a formula by spreadsheets. */
const FORMULA_START = /^[=+\-@\t\r]/;
const E164 = /^\+\d{1,15}$/;

/** The export's escaping: a leading `'` before a formula-like cell, except a phone number in E.164. */
export function escapeCell(value: string): string {
  return FORMULA_START.test(value) && !E164.test(value) ? `'${value}` : value;
}

/** The import's unescaping: drops the `'` the export put before a formula-like cell. */
export function unescapeCell(value: string): string {
  return value.length > 1 && value[0] === "'" && FORMULA_START.test(value.slice(1)) ? value.slice(1) : value;
}

/** The longest cell a row may carry; a longer one fails its row, not the import. */
export const MAX_CELL_CHARS = 4096;

/** The cells of one record by column, unescaped and trimmed; '' for an empty cell, undefined for a column not in the file. */
export type RowCells = Partial<Record<ImportColumn, string>>;

/** A record's cells by column; a cell longer than MAX_CELL_CHARS is a row error naming the column. */
export function cellsOf(record: readonly string[], columns: ColumnIndex): RowCells {
  const cells: RowCells = {};
  for (const { key, header } of importColumns) {
    const i = columns[key];
    // A short record (fewer cells than the header) leaves the missing columns as they are.
    if (i === -1 || i >= record.length) continue;
    const raw = record[i]!;
    if (raw.length > MAX_CELL_CHARS) throw new DomainError('invalidValue', `${header} is ${raw.length} characters long; a cell holds at most ${MAX_CELL_CHARS}`);
    cells[key] = unescapeCell(raw.trim()).trim();
  }
  return cells;
}

/** The key an email is matched on (the file's duplicates, the account's users): lower case, as uniqueness compares. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

function parseYesNo(value: string, header: string): boolean {
  const v = value.toLowerCase();
  if (v === 'yes' || v === 'true' || v === 'y' || v === '1') return true;
  if (v === 'no' || v === 'false' || v === 'n' || v === '0') return false;
  throw new DomainError('invalidValue', `${header} must be yes, no, true or false, not "${value}"`);
}

function split(value: string, separators: RegExp): string[] {
  return value.split(separators).map((s) => s.trim()).filter((s) => s !== '');
}

/** `wanted`, or `kept` when both hold the same values (compared by `key`): re-importing a list in another order changes nothing. */
function sameOrNew(kept: unknown, wanted: string[], key: (s: string) => string): string[] {
  if (!Array.isArray(kept)) return wanted;
  const a = kept.map((v) => key(String(v))).sort();
  const b = wanted.map(key).sort();
  return a.length === b.length && a.every((v, i) => v === b[i]) ? kept.map(String) : wanted;
}

/**
 * The next SCIM document of the user a row describes: `current` (undefined for a new user) with the row's columns
 * written over it. A column the file does not have leaves the attribute as it is; an empty cell clears it. A new
 * user's userName is its email, its email the primary work address, its displayName "First Last". Whether the
 * result is allowed (names and email mandatory, E.164 mobile, SMS pool, seats, ownership, uniqueness) is the
 * write path's to say, as for the Add User form.
 */
export function rowToDocument(current: JsonObject | undefined, cells: RowCells): JsonObject {
  const email = cells.email ?? '';
  if (email === '') throw new DomainError('invalidValue', 'Email is mandatory: the cell is empty');
  // A shallow copy, as the sync's mergeRecord: the objects this function changes (name, the extensions) are copied
  // below, the rest is shared with `current`, and the write path copies the document once before it changes or
  // stores it (cleanDocument). The deep copy this was cost a second copy of every updated user and its garbage.
  const next: JsonObject = { ...(current ?? { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] }) };
  const name = { ...((next.name as JsonObject | undefined) ?? {}) };
  const setOrClear = (target: JsonObject, key: string, value: string | undefined) => {
    if (value === undefined) return;
    if (value === '') delete target[key];
    else target[key] = value;
  };
  setOrClear(name, 'givenName', cells.firstName);
  setOrClear(name, 'familyName', cells.lastName);
  if (Object.keys(name).length > 0) next.name = name;
  else delete next.name;
  if (!current) {
    next.userName = email;
    next.emails = [{ value: email, type: 'work', primary: true }];
    const display = [name.givenName, name.familyName].filter((s) => typeof s === 'string' && s !== '').join(' ');
    if (display !== '') next.displayName = display;
  }
  setOrClear(next, 'title', cells.title);

  const enterprise = { ...((next[ENTERPRISE_URN] as JsonObject | undefined) ?? {}) };
  setOrClear(enterprise, 'department', cells.department);
  if (Object.keys(enterprise).length > 0) next[ENTERPRISE_URN] = enterprise;
  else delete next[ENTERPRISE_URN];

  const before = extensionOf(current ?? {});
  const ext = { ...extensionOf(next) };
  if (cells.mobileNumber !== undefined) {
    if (cells.mobileNumber === '') {
      delete ext.mobileNumber;
      delete ext.mobileCountry;
    } else ext.mobileNumber = cells.mobileNumber;
  }
  if (cells.mobileCountry !== undefined && cells.mobileNumber !== '') {
    if (cells.mobileCountry === '') delete ext.mobileCountry;
    else if (!/^[A-Za-z]{2}$/.test(cells.mobileCountry)) {
      throw new DomainError('invalidValue', `Mobile Country must be an ISO 3166 alpha-2 code such as BE or US, not "${cells.mobileCountry}"`);
    } else ext.mobileCountry = cells.mobileCountry.toUpperCase();
  }
  if (cells.extensions !== undefined) {
    const list = split(cells.extensions, /[\s;,]+/);
    if (list.length === 0) delete ext.extensions;
    else ext.extensions = sameOrNew(before.extensions, list, (s) => s);
  }
  if (cells.accountAdmin !== undefined) {
    const admin = cells.accountAdmin === '' ? false : parseYesNo(cells.accountAdmin, 'Account Admin');
    // "no" for a user that never had the right leaves it absent: a re-import changes nothing.
    if (admin) ext.accountAdmin = true;
    else if (ext.accountAdmin === true) ext.accountAdmin = false;
  }
  setOrClear(ext, 'smsNumber', cells.smsNumber);
  if (cells.licenses !== undefined) {
    const list = split(cells.licenses, /;/);
    if (list.length === 0) delete ext.licenses;
    else ext.licenses = sameOrNew(before.licenses, list, (s) => s.toLowerCase());
  }
  if (Object.keys(ext).length > 0) next[SWITCHBOARD_URN] = ext;
  else delete next[SWITCHBOARD_URN];
  return next;
}

/** What the export writes for one user (the SCIM resource, computed attributes included). */
export interface ExportedUser {
  doc: JsonObject;
  registered: boolean;
  source: string;
  updatedAt: Date;
  updatedBy: string | null;
}

export const exportHeader: readonly string[] = [...templateHeader, ...exportOnlyColumns];

function primaryEmail(doc: JsonObject): string {
  const list = Array.isArray(doc.emails) ? (doc.emails as JsonObject[]) : [];
  const chosen = list.find((e) => e && e.primary === true && typeof e.value === 'string') ?? list.find((e) => e && typeof e.value === 'string');
  return chosen ? String(chosen.value) : '';
}

/** One export row, in exportHeader's order, escaped against formula injection. */
export function userToRow(user: ExportedUser): string[] {
  const doc = user.doc;
  const name = (doc.name as JsonObject | undefined) ?? {};
  const ext = extensionOf(doc);
  const enterprise = (doc[ENTERPRISE_URN] as JsonObject | undefined) ?? {};
  const text = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String).join(';') : '');
  return [
    text(name.givenName), text(name.familyName), primaryEmail(doc), text(ext.mobileNumber), text(ext.mobileCountry), list(ext.extensions),
    ext.accountAdmin === true ? 'yes' : 'no', text(ext.smsNumber), list(ext.licenses), text(enterprise.department), text(doc.title),
    user.registered ? 'yes' : 'no', user.source, user.updatedAt.toISOString(), user.updatedBy ?? '',
  ].map(escapeCell);
}
