/**
 * A throwaway OpenLDAP server for tests and benches: `startSlapd()` writes a slapd.conf (mdb
 * backend, base dc=example,dc=com, rootdn/rootpw) in a temp dir, loads the base entries (and any
 * `initialLdif`) offline with slapadd, starts /usr/sbin/slapd in the foreground on a free loopback
 * port, waits until it answers a bind, and `stop()` kills it, waits for it and removes the dir.
 * Needs the Debian packages `slapd` and `ldap-utils`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Client, type ClientOptions } from 'ldapts';

export const SLAPD_BIN = '/usr/sbin/slapd';
export const SLAPADD_BIN = '/usr/sbin/slapadd';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

export interface SlapdOptions {
  /** Loaded offline with `slapadd -q` before the server starts (fast bulk loads); chunks are streamed to it (a million entries need not be one string). */
  initialLdif?: string | Iterable<string>;
  /** A server certificate and key (PEM): the server then offers StartTLS on its ldap:// port. */
  tls?: { certificatePem: string; privateKeyPem: string };
}

export interface Slapd {
  url: string;
  port: number;
  baseDn: string;
  /** `ou=people,<baseDn>`, created empty. */
  peopleDn: string;
  bindDn: string;
  bindPassword: string;
  dir: string;
  /** Adds entries online (ldapadd), so they get fresh entryUUID/modifyTimestamp. */
  add(ldif: string): Promise<void>;
  /** Replaces attributes (`null` or `[]` deletes the attribute). */
  modify(dn: string, replace: Record<string, string | string[] | null>): Promise<void>;
  delete(dn: string): Promise<void>;
  /** Applies an LDIF of changes with one `ldapmodify` (one bind for many changes). */
  modifyLdif(ldif: string): Promise<void>;
  /** Deletes entries with one `ldapdelete` (one bind for many DNs). */
  deleteMany(dns: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export const BASE_DN = 'dc=example,dc=com';
const BIND_DN = `cn=admin,${BASE_DN}`;
const BIND_PASSWORD = 'test-secret';

const BASE_LDIF = `dn: ${BASE_DN}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,${BASE_DN}
objectClass: organizationalUnit
ou: people

`;

export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-slapd-'));
  try {
    const dbDir = join(dir, 'db');
    await mkdir(dbDir);
    const confPath = join(dir, 'slapd.conf');
    let tlsConf = '';
    if (options.tls) {
      await writeFile(join(dir, 'cert.pem'), options.tls.certificatePem);
      await writeFile(join(dir, 'key.pem'), options.tls.privateKeyPem, { mode: 0o600 });
      tlsConf = `TLSCertificateFile ${join(dir, 'cert.pem')}\nTLSCertificateKeyFile ${join(dir, 'key.pem')}\n`;
    }
    await writeFile(confPath, slapdConf(dir, dbDir, tlsConf));
    const initial = options.initialLdif ?? '';
    await run(SLAPADD_BIN, ['-q', '-f', confPath], typeof initial === 'string' ? BASE_LDIF + initial : (function* () { yield BASE_LDIF; yield* initial; })());

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const url = `ldap://127.0.0.1:${port}`;
      const child = spawn(SLAPD_BIN, ['-f', confPath, '-h', `${url}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      try {
        await waitUntilBindable(url, child, () => stderr, { name: 'slapd', bindDn: BIND_DN, password: BIND_PASSWORD, timeoutMs: 15_000, intervalMs: 50, requestTimeoutMs: 1000 });
      } catch (error) {
        await kill(child);
        if (attempt < 3 && /bind|address already in use/i.test(stderr)) continue;
        throw error;
      }
      return handle(url, port, dir, child);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Runs `fn` with a client bound as `bindDn` (the test directory's writer), unbound afterwards. */
export async function withBoundClient<T>(options: ClientOptions, bindDn: string, password: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(options);
  try {
    await client.bind(bindDn, password);
    return await fn(client);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

function handle(url: string, port: number, dir: string, child: ChildProcess): Slapd {
  const withClient = <T>(fn: (client: Client) => Promise<T>): Promise<T> => withBoundClient({ url, connectTimeout: 5000 }, BIND_DN, BIND_PASSWORD, fn);
  let stopped = false;
  return {
    url,
    port,
    baseDn: BASE_DN,
    peopleDn: `ou=people,${BASE_DN}`,
    bindDn: BIND_DN,
    bindPassword: BIND_PASSWORD,
    dir,
    add: (ldif) => run('ldapadd', ['-x', '-H', url, '-D', BIND_DN, '-w', BIND_PASSWORD], ldif).then(() => undefined),
    modify: (dn, replace) =>
      withClient((client) => client.modify(dn, replaceChanges(replace))),
    delete: (dn) => withClient((client) => client.del(dn)),
    modifyLdif: (ldif) => run('ldapmodify', ['-x', '-H', url, '-D', BIND_DN, '-w', BIND_PASSWORD], ldif).then(() => undefined),
    deleteMany: (dns) => run('ldapdelete', ['-x', '-H', url, '-D', BIND_DN, '-w', BIND_PASSWORD], `${dns.join('\n')}\n`).then(() => undefined),
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function slapdConf(dir: string, dbDir: string, tlsConf = ''): string {
  return `${['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`).join('\n')}
${tlsConf}modulepath ${MODULE_DIR}
moduleload back_mdb
pidfile ${join(dir, 'slapd.pid')}
argsfile ${join(dir, 'slapd.args')}
sizelimit unlimited

database mdb
maxsize 4294967296
suffix "${BASE_DN}"
rootdn "${BIND_DN}"
rootpw ${BIND_PASSWORD}
directory ${dbDir}
index objectClass eq
index entryUUID eq
index entryCSN eq
index modifyTimestamp eq
`;
}

/** Waits until a throwaway LDAP server (slapd, samba) accepts a simple bind, failing fast if it exits. */
export async function waitUntilBindable(
  url: string,
  child: ChildProcess,
  output: () => string,
  options: { name: string; bindDn: string; password: string; timeoutMs: number; intervalMs: number; requestTimeoutMs: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`);
    }
    const client = new Client({ url, connectTimeout: 500, timeout: options.requestTimeoutMs });
    try {
      await client.bind(options.bindDn, options.password);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${options.name} did not answer on ${url} within ${options.timeoutMs / 1000} s: ${String(error)}\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** A port that was free a moment ago (slapd start is retried if it is taken in between). */
/** LDAP `replace` changes for a modify: a null value removes the attribute. */
export function replaceChanges(replace: Record<string, string | string[] | null>): Change[] {
  return Object.entries(replace).map(
    ([type, values]) => new Change({ operation: 'replace', modification: new Attribute({ type, values: values === null ? [] : ([] as string[]).concat(values) }) }),
  );
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs a command with `input` on stdin; rejects with its stderr on a non-zero exit. */
export function run(command: string, args: string[], input: string | Iterable<string> = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} exited ${code}: ${stderr.trim()}`))));
    if (typeof input === 'string') child.stdin.end(input);
    else Readable.from(input).pipe(child.stdin);
  });
}

/** Options of `peopleLdif`. */
export interface PeopleLdifOptions {
  /**
   * Gives entry i the modifyTimestamp `modifiedFrom + i minutes` (slapadd keeps operational attributes it is given),
   * as in a directory whose entries changed over time. Without it every entry of a bulk load carries the load's
   * second, so an OpenLDAP incremental read's overlap window (one second) would hold the whole directory.
   */
  modifiedFrom?: Date;
}

/** LDIF for `count` inetOrgPerson entries under ou=people (uid user0001…), for fixtures and benches. */
export function peopleLdif(count: number, start = 0, peopleDn = `ou=people,${BASE_DN}`, options: PeopleLdifOptions = {}): string {
  return [...peopleLdifChunks(count, start, peopleDn, options)].join('');
}

/** peopleLdif in chunks of 1,000 entries, made as they are read: what `startSlapd` streams to slapadd for large loads. */
export function* peopleLdifChunks(count: number, start = 0, peopleDn = `ou=people,${BASE_DN}`, options: PeopleLdifOptions = {}): Generator<string> {
  for (let from = start; from < start + count; from += 1000) yield peopleEntries(from, Math.min(1000, start + count - from), start, peopleDn, options);
}

function peopleEntries(from: number, count: number, start: number, peopleDn: string, options: PeopleLdifOptions): string {
  const parts: string[] = [];
  for (let i = from; i < from + count; i++) {
    const n = String(i).padStart(5, '0');
    const stamp = options.modifiedFrom ? `modifyTimestamp: ${generalizedTime(options.modifiedFrom.getTime() + (i - start) * 60_000)}\n` : '';
    parts.push(`dn: uid=user${n},${peopleDn}
objectClass: inetOrgPerson
uid: user${n}
cn: User ${n}
sn: Number${n}
givenName: User
displayName: User ${n}
mail: user${n}@example.com
telephoneNumber: +32 2 555 ${String(i % 10000).padStart(4, '0')}
mobile: 0470 ${String(i % 1000000).padStart(6, '0')}
title: Engineer
employeeNumber: E${n}
departmentNumber: R&D
${stamp}
`);
  }
  return parts.join('');
}

/** `20240131235959Z` (whole seconds). */
function generalizedTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** LDIF of one `changetype: modify` per DN replacing `attribute` (for `ldapmodify`: many changes, one bind). */
export function replaceLdif(dns: readonly string[], attribute: string, value: (dn: string, i: number) => string): string {
  return dns.map((dn, i) => `dn: ${dn}\nchangetype: modify\nreplace: ${attribute}\n${attribute}: ${value(dn, i)}\n-\n`).join('\n');
}
