/**
 * Where a file connector finds its export (README, design decisions): the configuration every file-based connector
 * shares, and its validation. `location` is `sftp://user@host:port/absolute/path`, `https://…` or `file:///…`;
 * with `pattern` it names a directory and the newest file matching the glob is read.
 */
import picomatch from 'picomatch';
import type { ConfigProperty } from './types.js';

export type FileEncoding = 'utf8' | 'latin1' | 'utf16le';
export const FILE_ENCODINGS: readonly FileEncoding[] = ['utf8', 'latin1', 'utf16le'];

/** `ssh-keygen -lf` form: `SHA256:` and the unpadded base64 of the key's SHA-256 (43 characters). */
export const HOST_KEY_PATTERN = '^SHA256:[A-Za-z0-9+/]{43}$';

export interface SftpLocation {
  scheme: 'sftp';
  host: string;
  port: number;
  username: string;
  /** Absolute path of the file, or of the directory when a pattern is set. */
  path: string;
  password?: string;
  privateKeyPem?: string;
  hostKeySha256: string;
}

export interface HttpsLocation {
  scheme: 'https';
  url: string;
  /** Basic credentials: the URL's user and `password`. */
  username?: string;
  password?: string;
  bearerToken?: string;
  caCertPem?: string;
}

export interface LocalLocation {
  scheme: 'file';
  path: string;
}

export type FileLocation = SftpLocation | HttpsLocation | LocalLocation;

/** What a file source's configuration holds about its export (validated by `parseFileSource`). */
export interface FileSourceConfig {
  location: FileLocation;
  /** The glob of file names within the directory `location` names; absent: `location` is the file. */
  pattern?: string;
  encoding: FileEncoding;
  timeoutMs: number;
}

/** Raw (validated by the schema) fields of a file location, as an admin writes them. */
export interface RawFileLocation {
  location: string;
  password?: string;
  privateKeyPem?: string;
  hostKeySha256?: string;
  bearerToken?: string;
  caCertPem?: string;
}

/** A stored secret is sent to `location`'s server, authenticated by the pinned key or the CA: changing one needs it again. */
const SECRET_SENT_TO = ['location', 'hostKeySha256', 'caCertPem'] as const;

/** The connection properties of a file location (also used for a write-back directory). */
export const fileLocationProperties: Record<string, ConfigProperty> = {
  location: {
    type: 'string',
    format: 'uri',
    pattern: '^(sftp|https|file)://',
    description: 'sftp://user@host:22/absolute/path, https://host/path or file:///absolute/path (a directory when pattern is set).',
  },
  password: { type: 'string', writeOnly: true, sentTo: SECRET_SENT_TO, description: 'SFTP password, or the HTTPS basic password for the URL\'s user.' },
  privateKeyPem: { type: 'string', writeOnly: true, sentTo: SECRET_SENT_TO, description: 'SFTP private key (PEM or OpenSSH format), instead of a password.' },
  hostKeySha256: {
    type: 'string',
    pattern: HOST_KEY_PATTERN,
    description: 'SFTP: the server\'s host key fingerprint as `ssh-keygen -lf` prints it (SHA256:…); required for sftp://.',
  },
  bearerToken: { type: 'string', writeOnly: true, sentTo: SECRET_SENT_TO, description: 'HTTPS: a bearer token sent as Authorization.' },
  caCertPem: { type: 'string', description: 'HTTPS: PEM CA certificate(s) to trust for the server.' },
};

export const fileSourceProperties: Record<string, ConfigProperty> = {
  ...fileLocationProperties,
  pattern: { type: 'string', description: 'Glob of file names (e.g. users-*.csv): location is then a directory and the newest match is read.' },
  encoding: { type: 'string', enum: FILE_ENCODINGS, default: 'utf8', description: 'Character encoding of the export.' },
  timeoutMs: { type: 'integer', minimum: 1000, default: 30000, description: 'Connection and request timeout.' },
};

/** Checks a location's fields beyond the schema; pushes readable problems (prefixed by `at`) to `issues`. */
export function parseFileLocation(raw: RawFileLocation, issues: string[], at = ''): FileLocation | undefined {
  const name = (field: string) => `${at}${field}`;
  let url: URL;
  try {
    url = new URL(raw.location);
  } catch {
    issues.push(`${name('location')}: "${raw.location}" is not a URL (expected sftp://user@host/path, https://host/path or file:///path)`);
    return undefined;
  }
  const httpsOnly = (['bearerToken', 'caCertPem'] as const).filter((k) => raw[k] !== undefined);
  if (url.protocol === 'sftp:') {
    for (const k of httpsOnly) issues.push(`${name(k)}: only for https:// locations`);
    if (!url.hostname) issues.push(`${name('location')}: has no host`);
    if (!url.username) issues.push(`${name('location')}: name the SFTP user (sftp://user@host/path)`);
    if (url.password) issues.push(`${name('location')}: do not put the password in the URL; set password`);
    if (!raw.hostKeySha256) issues.push(`${name('hostKeySha256')}: required for sftp:// (ssh-keygen -lf <host key> prints it, e.g. SHA256:…)`);
    if (!raw.password && !raw.privateKeyPem) issues.push(`${name('password')}: set password or privateKeyPem for the SFTP login`);
    if (raw.password && raw.privateKeyPem) issues.push(`${name('privateKeyPem')}: set password or privateKeyPem, not both`);
    const path = decodeURIComponent(url.pathname);
    if (!path || path === '/') issues.push(`${name('location')}: give the absolute path of the file or directory`);
    return {
      scheme: 'sftp',
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : 22,
      username: decodeURIComponent(url.username),
      path,
      password: raw.password,
      privateKeyPem: raw.privateKeyPem,
      hostKeySha256: raw.hostKeySha256 ?? '',
    };
  }
  if (raw.hostKeySha256 !== undefined) issues.push(`${name('hostKeySha256')}: only for sftp:// locations`);
  if (raw.privateKeyPem !== undefined) issues.push(`${name('privateKeyPem')}: only for sftp:// locations`);
  if (url.protocol === 'https:') {
    if (url.password) issues.push(`${name('location')}: do not put the password in the URL; set password`);
    if (raw.bearerToken && raw.password) issues.push(`${name('bearerToken')}: set bearerToken or a basic password, not both`);
    if (raw.password && !url.username) issues.push(`${name('location')}: basic credentials need the user in the URL (https://user@host/path)`);
    const username = url.username ? decodeURIComponent(url.username) : undefined;
    url.username = '';
    return { scheme: 'https', url: url.toString(), username, password: raw.password, bearerToken: raw.bearerToken, caCertPem: raw.caCertPem };
  }
  if (url.protocol === 'file:') {
    for (const k of httpsOnly) issues.push(`${name(k)}: only for https:// locations`);
    if (raw.password !== undefined) issues.push(`${name('password')}: a file:// location takes no password`);
    if (url.hostname) issues.push(`${name('location')}: file URLs name a local path (file:///path), not a host`);
    return { scheme: 'file', path: decodeURIComponent(url.pathname) };
  }
  issues.push(`${name('location')}: unsupported scheme ${url.protocol} (use sftp://, https:// or file://)`);
  return undefined;
}

export interface RawFileSource extends RawFileLocation {
  pattern?: string;
  encoding: FileEncoding;
  timeoutMs: number;
}

export function parseFileSource(raw: RawFileSource, issues: string[]): FileSourceConfig | undefined {
  const location = parseFileLocation(raw, issues);
  if (raw.pattern !== undefined) {
    if (location?.scheme === 'https') issues.push('pattern: an https:// location names one file (a web server lists no directory)');
    if (raw.pattern.includes('/')) issues.push('pattern: matches file names within the directory; put the directory in location');
    try {
      picomatch.makeRe(raw.pattern);
    } catch (error) {
      issues.push(`pattern: "${raw.pattern}" is not a glob (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (!location) return undefined;
  return { location, pattern: raw.pattern, encoding: raw.encoding, timeoutMs: raw.timeoutMs };
}

/** Where the location points, for messages (never with a secret). */
export function describeLocation(location: FileLocation): string {
  switch (location.scheme) {
    case 'sftp':
      return `sftp://${location.username}@${location.host}:${location.port}${location.path}`;
    case 'https':
      return location.url;
    case 'file':
      return `file://${location.path}`;
  }
}

/** `columnMap`: a file connector's canonical column → the header the site's export uses instead. */
export const columnMapProperty: ConfigProperty = {
  type: 'object',
  default: {},
  additionalProperties: { type: 'string' },
  description: 'Renames columns: the documented column name → the header this export writes instead (case and spaces are ignored).',
};

export function parseColumnMap(raw: Record<string, string> | undefined, known: readonly string[], issues: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const byKey = new Map(known.map((name) => [name.replace(/\s+/g, '').toLowerCase(), name]));
  for (const [from, to] of Object.entries(raw ?? {})) {
    const name = byKey.get(from.replace(/\s+/g, '').toLowerCase());
    if (!name) issues.push(`columnMap.${from}: not a column of this export (known: ${known.join(', ')})`);
    else if (!to.trim()) issues.push(`columnMap.${from}: give the header to read instead`);
    else out[name] = to;
  }
  return out;
}
