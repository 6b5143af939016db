/**
 * Generated PBX exports for tests and benches (nothing checked in): MiVB users exports of any size with UTF-8
 * names, their Latin-1 and semicolon variants, and MiCloud Connect exports with contacts and extension-only rows.
 */
import { csvLine } from '../sdk/index.js';

export const MIVB_HEADER = ['First Name', 'Last Name', 'Login ID', 'Email Address', 'Directory Number', 'Device Type', 'Voice Mailbox', 'Element', 'Role', 'Department'];

const GIVEN = ['Zoë', 'Łukasz', 'José', 'Søren', 'Chloé', 'Jürgen', 'Ana', 'Björn', 'Siobhán', 'Renée', 'Ødegaard', 'Ivan'];
const FAMILY = ['Müller', 'Nowak', 'García', 'Ørsted', 'Lefèvre', 'Schröder', 'Silva', 'Åberg', "O'Brien", 'Dupré', 'Østergård', 'Petrov'];
/** Names Latin-1 can write (no Ł). */
const GIVEN_LATIN1 = ['Zoë', 'José', 'Søren', 'Chloé', 'Jürgen', 'Björn'];
const FAMILY_LATIN1 = ['Müller', 'García', 'Ørsted', 'Lefèvre', 'Schröder', 'Åberg'];

export interface MivbRowSpec {
  i: number;
  /** Changes the row's department (a "changed row"). */
  version?: number;
}

export function mivbRow(i: number, version = 0, names: { given: string[]; family: string[] } = { given: GIVEN, family: FAMILY }): string[] {
  const given = names.given[i % names.given.length];
  const family = `${names.family[i % names.family.length]}${i}`;
  return [
    given,
    family,
    `user${i}`,
    `user${i}@example.com`,
    String(100000 + i),
    i % 3 === 0 ? '6930' : 'MiCollab Client',
    i % 2 === 0 ? 'Yes' : 'No',
    `MIVB${1 + (i % 2)}`,
    'UCC Premium',
    version === 0 ? `Dept ${i % 10}` : `Dept ${i % 10} v${version}`,
  ];
}

export interface MivbExportOptions {
  /** Rows whose index is in this set get `version` (their department changes). */
  changed?: { indexes: ReadonlySet<number>; version: number };
  /** Rows left out. */
  without?: ReadonlySet<number>;
  delimiter?: ',' | ';';
  bom?: boolean;
  latin1Names?: boolean;
  /** Extra raw lines appended (malformed rows, conflicts). */
  extraLines?: string[];
}

function line(fields: readonly string[], delimiter: ',' | ';'): string {
  const text = csvLine(fields);
  return delimiter === ',' ? text : `${fields.map((f) => (/[";\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(';')}\r\n`;
}

/** A MiVB users export of `count` rows (`user0` … `user<count-1>`), as a string. */
export function mivbExport(count: number, options: MivbExportOptions = {}): string {
  const delimiter = options.delimiter ?? ',';
  const names = options.latin1Names ? { given: GIVEN_LATIN1, family: FAMILY_LATIN1 } : { given: GIVEN, family: FAMILY };
  const parts: string[] = [`${options.bom ? '\uFEFF' : ''}${line(MIVB_HEADER, delimiter)}`];
  for (let i = 0; i < count; i++) {
    if (options.without?.has(i)) continue;
    const version = options.changed?.indexes.has(i) ? options.changed.version : 0;
    parts.push(line(mivbRow(i, version, names), delimiter));
  }
  for (const extra of options.extraLines ?? []) parts.push(`${extra}\r\n`);
  return parts.join('');
}

/** Streams a large MiVB export in chunks (benches: 100,000 rows without building one string). */
export function* mivbExportChunks(count: number, options: MivbExportOptions = {}, rowsPerChunk = 5000): Generator<string> {
  const delimiter = options.delimiter ?? ',';
  yield line(MIVB_HEADER, delimiter);
  for (let start = 0; start < count; start += rowsPerChunk) {
    let chunk = '';
    for (let i = start; i < Math.min(count, start + rowsPerChunk); i++) {
      if (options.without?.has(i)) continue;
      const version = options.changed?.indexes.has(i) ? options.changed.version : 0;
      chunk += line(mivbRow(i, version), delimiter);
    }
    yield chunk;
  }
}

export const MICLOUD_PORTAL_HEADER = ['Contact Name', 'Service/Phone Name', 'Phone Number', 'Extension', 'Email', 'DM', 'PM', 'BC', 'EC', 'TC'];

/**
 * A MiCloud Account Portal users export: `users` users (`mc<i>@example.com`; every third one extension-only,
 * the others with a phone number), plus `contacts` contacts (no phone number, no extension). Names alternate
 * between "Family, Given" and "Given Family".
 */
export function micloudPortalExport(users: number, contacts: number): string {
  let out = csvLine(MICLOUD_PORTAL_HEADER);
  for (let i = 0; i < users; i++) {
    const contactName = i % 2 === 0 ? `${FAMILY[i % FAMILY.length]}${i}, ${GIVEN[i % GIVEN.length]}` : `${GIVEN[i % GIVEN.length]} Van ${FAMILY[i % FAMILY.length]}${i}`;
    const phone = i % 3 === 0 ? '' : `+1 415 555 ${String(1000 + i).padStart(4, '0')}`;
    out += csvLine([contactName, `Essentials ${i}`, phone, String(2000 + i), `mc${i}@example.com`, i === 0 ? 'X' : '', '', '', '', '']);
  }
  for (let c = 0; c < contacts; c++) {
    out += csvLine([`Contact${c}, Outside`, '', '', '', `contact${c}@partner.example`, '', '', '', '', '']);
  }
  return out;
}

export const MICLOUD_TEMPLATE_HEADER = ['FIRST NAME', 'LAST NAME', 'LOCATION', 'MOBILE PHONE', 'EMAIL', 'USERNAME', 'ROLE', 'EXTENSION', 'PHONE NUMBER'];
