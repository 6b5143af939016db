/**
 * The connector's only contact with ldapts: connect (ldaps:// or StartTLS), bind, paged search
 * streamed page by page, base reads; every failure becomes a `ConnectorError` of the right kind.
 */
import type { ConnectionOptions } from 'node:tls';
import { AndFilter, Ber, BerWriter, Client, Control, EqualityFilter, FilterParser, NoSuchObjectError, OrFilter, ResultCodeError, type BerReader, type Entry, type Filter } from 'ldapts';
import { ConnectorError } from '../sdk/index.js';
import type { LdapConfig } from './config.js';
import type { LdapEntry } from './ldap-mapper.js';

/** Active Directory's Show Deleted control (tombstones are returned by searches that carry it). */
export const SHOW_DELETED_OID = '1.2.840.113556.1.4.417';
/** Active Directory's DirSync control (MS-ADTS 3.1.1.3.4.1.3, LDAP_SERVER_DIRSYNC_OID). */
export const DIRSYNC_OID = '1.2.840.113556.1.4.841';

// LDAP result codes (RFC 4511) that mean the credentials or the way of binding were refused.
const AUTH_RESULT_CODES = new Set([7 /* authMethodNotSupported */, 8 /* strongerAuthRequired */, 13 /* confidentialityRequired */, 48 /* inappropriateAuthentication */, 49 /* invalidCredentials */, 50 /* insufficientAccessRights */]);
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|ECONNABORTED|ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_SOCKET)/;

export interface LdapSession {
  readonly client: Client;
  close(): Promise<void>;
}

function tlsOptions(config: LdapConfig): ConnectionOptions {
  const host = new URL(config.url).hostname;
  return {
    ...(config.tls.caCert ? { ca: config.tls.caCert } : {}),
    rejectUnauthorized: config.tls.rejectUnauthorized,
    servername: /^[\d.]+$|:/.test(host) ? undefined : host,
  };
}

/** Connects and binds; throws `ConnectorError` (network or auth) naming the server and the bind DN. */
export async function openLdapSession(config: LdapConfig): Promise<LdapSession> {
  const client = new Client({
    url: config.url,
    timeout: config.timeoutMs,
    connectTimeout: config.connectTimeoutMs,
    // ldapts treats any tlsOptions as "connect with TLS", so they are passed only for ldaps://.
    ...(config.url.toLowerCase().startsWith('ldaps:') ? { tlsOptions: tlsOptions(config) } : {}),
    strictDN: false,
  });
  const close = (): Promise<void> => client.unbind().catch(() => undefined);
  try {
    if (config.startTls) await client.startTLS(tlsOptions(config));
  } catch (error) {
    await close();
    throw toConnectorError(error, `StartTLS with ${config.url}`);
  }
  try {
    await client.bind(config.bindDn, config.bindPassword);
  } catch (error) {
    await close();
    throw toConnectorError(error, `binding to ${config.url} as "${config.bindDn}"`);
  }
  return { client, close };
}

/** Maps an ldapts or socket error to a `ConnectorError`; `during` says what was being done. */
export function toConnectorError(error: unknown, during: string): ConnectorError {
  if (error instanceof ConnectorError) return error;
  if (error instanceof ResultCodeError) {
    const kind = AUTH_RESULT_CODES.has(error.code) ? 'auth' : 'protocol';
    const result = error.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    const diagnostic = error.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
    return new ConnectorError(kind, `${during}: ${result} (LDAP result ${error.code})${diagnostic ? `: ${diagnostic}` : ''}`, { cause: error });
  }
  const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
  const message = error instanceof Error ? error.message : String(error);
  if (NETWORK_CODES.test(code) || /Connection (timeout|closed)|Operation timed out|socket|certificate/i.test(message)) {
    return new ConnectorError('network', `${during}: ${message}`, { cause: error });
  }
  return new ConnectorError('protocol', `${during}: ${message}`, { cause: error });
}

export interface PagedSearch {
  baseDn: string;
  filter: string | Filter;
  scope: 'base' | 'one' | 'sub';
  attributes: string[];
  /** Returned as Buffers (ldapts compares names exactly, so both spellings are passed). */
  binaryAttributes?: string[];
  pageSize: number;
  controls?: Control[];
}

/** Yields the entries one page at a time; never holds more than one page. */
export async function* searchPages(session: LdapSession, search: PagedSearch): AsyncGenerator<LdapEntry[]> {
  const binary = (search.binaryAttributes ?? []).flatMap((a) => [a, a.toLowerCase()]);
  const pages = session.client.searchPaginated(
    search.baseDn,
    {
      filter: search.filter,
      scope: search.scope,
      attributes: search.attributes,
      explicitBufferAttributes: binary,
      paged: { pageSize: search.pageSize },
    },
    search.controls,
  );
  for (;;) {
    let next: IteratorResult<{ searchEntries: Entry[] }>;
    try {
      next = await pages.next();
    } catch (error) {
      throw toConnectorError(error, `searching ${search.baseDn} for ${String(search.filter)}`);
    }
    if (next.done) return;
    yield next.value.searchEntries as unknown as LdapEntry[];
  }
}

/** Reads one entry (scope base); undefined when it does not exist. */
export async function readEntry(session: LdapSession, dn: string, attributes: string[], binaryAttributes: string[] = []): Promise<LdapEntry | undefined> {
  try {
    const result = await session.client.search(dn, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes,
      explicitBufferAttributes: binaryAttributes.flatMap((a) => [a, a.toLowerCase()]),
    });
    return result.searchEntries[0] as unknown as LdapEntry | undefined;
  } catch (error) {
    if (error instanceof NoSuchObjectError) return undefined;
    throw toConnectorError(error, `reading ${dn || 'the root DSE'}`);
  }
}

/**
 * `filter` and one of the binary values of `attribute` (e.g. objectGUIDs). Built as filter objects: ldapts reads
 * `\\xx` escapes of a filter string into characters that it then writes as UTF-8, which changes bytes above 0x7f.
 */
export function filterWithAnyOf(filter: string, attribute: string, values: readonly Buffer[]): Filter {
  return new AndFilter({
    filters: [FilterParser.parseString(filter), new OrFilter({ filters: values.map((value) => new EqualityFilter({ attribute, value })) })],
  });
}

export function showDeletedControl(): Control {
  return new Control(SHOW_DELETED_OID, { critical: true });
}

/**
 * The DirSync control. The request carries the cookie of the previous response (empty for "everything"); ldapts
 * hands the response control of the same OID to this instance's `parseControl`, which keeps the server's new
 * cookie and whether more results wait.
 */
export class DirSyncControl extends Control {
  moreResults = false;
  responseCookie: Buffer | undefined;

  constructor(private readonly cookie: Buffer) {
    super(DIRSYNC_OID, { critical: true });
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    value.writeInt(0); // flags: none (the bind account's replication right decides what is visible)
    value.writeInt(0); // maxBytes: the server's default
    value.writeBuffer(this.cookie, Ber.OctetString);
    value.endSequence();
    writer.writeBuffer(value.buffer, Ber.OctetString);
  }

  protected override parseControl(reader: BerReader): void {
    if (!reader.readSequence()) return;
    this.moreResults = (reader.readInt() ?? 0) !== 0;
    reader.readInt(); // unused
    this.responseCookie = reader.readString(Ber.OctetString, true) ?? Buffer.alloc(0);
  }
}

export interface DirSyncSearch {
  /** The root of a naming context: DirSync refuses any other base. */
  namingContext: string;
  filter: string;
  attributes: string[];
  binaryAttributes?: string[];
  /** Base64 cookie of the previous read; undefined for a read of everything. */
  cookie?: string;
}

/**
 * Yields DirSync responses (entries with the attributes that changed since the cookie, and the cookie after
 * them) until the server has nothing more. A refusal for lack of the replication right is an `auth` error that
 * says which right is missing.
 */
export async function* dirSyncResponses(session: LdapSession, search: DirSyncSearch): AsyncGenerator<{ entries: LdapEntry[]; cookie: string }> {
  const binary = (search.binaryAttributes ?? []).flatMap((a) => [a, a.toLowerCase()]);
  let cookie: Buffer = Buffer.from(search.cookie ?? '', 'base64');
  for (;;) {
    const control = new DirSyncControl(cookie);
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await session.client.search(
        search.namingContext,
        { filter: search.filter, scope: 'sub', attributes: search.attributes, explicitBufferAttributes: binary },
        [control],
      ));
    } catch (error) {
      const refused = toConnectorError(error, `DirSync search of ${search.namingContext}`);
      if (refused.kind === 'auth') {
        throw new ConnectorError('auth', `${refused.message} (changeTracking "dirsync" needs the bind account to hold the Replicating Directory Changes right on the domain; grant it or use changeTracking "usn")`, { cause: error });
      }
      throw refused;
    }
    if (!control.responseCookie) throw new ConnectorError('protocol', `the DirSync search of ${search.namingContext} returned no DirSync response control`);
    cookie = control.responseCookie;
    yield { entries: entries as unknown as LdapEntry[], cookie: cookie.toString('base64') };
    if (!control.moreResults) return;
  }
}
