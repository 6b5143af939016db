/**
 * The floor of the LDAP full sync (issue 10): the same paged ldapts read of the directory, writing the same rows a
 * full sync writes (users, emails, phone numbers, source links with the raw record, audit entries, run results) with
 * bare drivers and COPY, none of the engine's logic: no matching, no merge, no write plan, no rules. Each entry is
 * turned into its rows by a few lines written for the bench's inetOrgPerson entries (bench/ldap-sync.ts loads them),
 * and each batch of 1,000 users goes in one transaction of COPYs (pg-copy-streams on PostgreSQL, COPY FROM
 * '/dev/blob' on PGlite). Reading and writing overlap as in the engine: batch n is written while the pages of
 * batch n+1 are read, so the floor is the slower of the read and the database, not their sum.
 *
 * The caller gives a migrated database with an account, a source and a run row (the sync's run has one too).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { Client as LdapClient } from 'ldapts';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../src/db/database.js';

export interface FloorTarget {
  db: Database;
  accountId: string;
  sourceId: string;
  runId: string;
}

export interface LdapSource {
  url: string;
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  attributes: string[];
  pageSize: number;
}

export interface PgFloorFigures {
  entries: number;
  seconds: number;
  usersPerSecond: number;
  rows: number;
}

const BATCH = 1000;
const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';
const OWNED = ['userName', 'name', 'displayName', 'title', 'emails', 'phoneNumbers', `${ENTERPRISE}:employeeNumber`, `${ENTERPRISE}:department`, `${SWITCHBOARD}:mobileNumber`];

/** COPY text format: `\N` for null, backslash escapes for the characters that frame fields and rows. */
function field(value: string | number | boolean | null): string {
  if (value === null) return '\\N';
  if (typeof value !== 'string') return String(value);
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
const line = (values: (string | number | boolean | null)[]) => `${values.map(field).join('\t')}\n`;
const textArray = (values: readonly string[]) => `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;

type Entry = Record<string, string | string[] | Buffer | Buffer[]> & { dn: string };
const one = (entry: Entry, name: string): string | null => {
  const value = entry[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? null : String(first);
};

/** The COPY text of each table for one batch of entries. */
class Batch {
  users = '';
  emails = '';
  phones = '';
  links = '';
  audit = '';
  results = '';
  size = 0;

  constructor(private readonly target: FloorTarget, private seq: number) {}

  add(entry: Entry, at: string): void {
    const { accountId, sourceId, runId } = this.target;
    const id = randomUUID();
    const mail = one(entry, 'mail')!;
    const given = one(entry, 'givenName');
    const family = one(entry, 'sn');
    const display = one(entry, 'displayName');
    const phone = one(entry, 'telephoneNumber');
    const mobile = one(entry, 'mobile');
    const doc = {
      schemas: [CORE, ENTERPRISE, SWITCHBOARD],
      userName: mail,
      name: { givenName: given, familyName: family },
      displayName: display,
      title: one(entry, 'title'),
      emails: [{ type: 'work', value: mail, primary: true }],
      phoneNumbers: [{ type: 'work', value: phone }],
      [ENTERPRISE]: { department: one(entry, 'departmentNumber'), employeeNumber: one(entry, 'employeeNumber') },
      [SWITCHBOARD]: { mobileNumber: mobile ? `+32${mobile.replace(/\D/g, '').replace(/^0/, '')}` : null, mobileCountry: 'BE' },
    };
    const raw: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(entry)) raw[name] = Array.isArray(value) ? (value.length === 1 ? String(value[0]) : value.map(String)) : String(value);
    const data = JSON.stringify(doc);
    const actor = `source:${sourceId}`;
    // The stored representation the write path keeps beside the document (users.resource): rendered once, written with the row.
    const resource = JSON.stringify({ ...doc, id, groups: [], meta: { resourceType: 'User', created: at, lastModified: at, version: 'W/"1"' } });
    this.users += line([accountId, id, mail, null, display, given, family, true, mail, null, false, data, resource, 'ldap', null, actor, at, at]);
    this.emails += line([accountId, id, 0, mail, 'work', true]);
    this.phones += line([accountId, id, 0, phone, 'work', false]);
    const rawText = JSON.stringify(raw);
    const hash = createHash('sha256').update(`[${data},${rawText}]`).digest('hex').slice(0, 32);
    this.links += line([accountId, id, sourceId, 'ldap', one(entry, 'entryUUID')!, textArray(OWNED), data, rawText, hash, at, at]);
    this.audit += line([accountId, actor, 'source', 'user.create', 'User', id, JSON.stringify({ changed: [...OWNED, `${SWITCHBOARD}:mobileCountry`] }), at]);
    const changes: Record<string, { old: null; new: unknown }> = {};
    for (const [key, value] of Object.entries(doc)) {
      if (key === 'schemas') continue;
      if (key === ENTERPRISE || key === SWITCHBOARD) for (const [sub, v] of Object.entries(value as object)) changes[`${key}:${sub}`] = { old: null, new: v };
      else changes[key] = { old: null, new: value };
    }
    this.results += line([accountId, runId, ++this.seq, one(entry, 'entryUUID'), id, 'created', JSON.stringify(changes), null]);
    this.size++;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** The tables in the order their foreign keys need, with their COPY column lists. */
  copies(): { sql: string; text: string }[] {
    return [
      { sql: 'users (account_id, id, user_name, external_id, display_name, given_name, family_name, active, primary_email, sms_number, account_admin, data, resource, source, password_hash, updated_by, created_at, updated_at)', text: this.users },
      { sql: 'user_emails (account_id, user_id, position, value, type, is_primary)', text: this.emails },
      { sql: 'user_phone_numbers (account_id, user_id, position, value, type, is_primary)', text: this.phones },
      { sql: 'user_source_links (account_id, user_id, source_id, source_kind, anchor, owned_attributes, attributes, raw, hash, created_at, updated_at)', text: this.links },
      { sql: 'audit_log (account_id, actor, writer, action, target_type, target_id, details, at)', text: this.audit },
      { sql: 'sync_run_results (account_id, run_id, seq, anchor, user_id, outcome, changes, error)', text: this.results },
    ];
  }
}

/** One batch's COPYs in one transaction. */
async function writeBatch(target: FloorTarget, batch: Batch): Promise<void> {
  const copies = batch.copies();
  if (target.db.kind === 'postgres') {
    const client = (await target.db.knex.client.acquireConnection()) as PoolClient;
    try {
      await client.query('begin');
      for (const { sql, text } of copies) {
        const stream = client.query(copyFrom(`copy ${sql} from stdin`));
        await new Promise<void>((resolve, reject) => {
          stream.on('finish', resolve);
          stream.on('error', reject);
          stream.end(text);
        });
      }
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      await target.db.knex.client.releaseConnection(client);
    }
    return;
  }
  const pglite = (target.db.knex.client as { pglite: PGlite }).pglite;
  await pglite.transaction(async (tx) => {
    for (const { sql, text } of copies) await tx.query(`copy ${sql} from '/dev/blob'`, [], { blob: new Blob([text]) });
  });
}

/** Reads the directory and writes its rows; the time from the bind to the last commit. */
export async function ldapPgFloor(source: LdapSource, target: FloorTarget): Promise<PgFloorFigures> {
  const start = performance.now();
  const client = new LdapClient({ url: source.url });
  let entries = 0;
  let writing: Promise<void> = Promise.resolve();
  let seq = 0;
  const at = new Date().toISOString();
  let batch = new Batch(target, seq);
  const flush = async () => {
    const full = batch;
    seq = full.lastSeq;
    batch = new Batch(target, seq);
    await writing;
    writing = writeBatch(target, full);
    // An unhandled rejection while the next pages are read is caught by the await above or at the end.
    writing.catch(() => undefined);
  };
  try {
    await client.bind(source.bindDn, source.bindPassword);
    const pages = client.searchPaginated(source.baseDn, { scope: 'sub', filter: '(objectClass=inetOrgPerson)', attributes: [...source.attributes, 'entryUUID'], paged: { pageSize: source.pageSize } });
    for await (const page of pages) {
      for (const entry of page.searchEntries as unknown as Entry[]) {
        batch.add(entry, at);
        entries++;
        if (batch.size >= BATCH) await flush();
      }
    }
    if (batch.size > 0) await flush();
    await writing;
  } finally {
    await client.unbind().catch(() => undefined);
  }
  const seconds = (performance.now() - start) / 1000;
  return { entries, seconds, usersPerSecond: entries / seconds, rows: entries * 6 };
}
