/**
 * A throwaway Samba Active Directory domain controller for tests: `startSambaAd()` provisions a
 * domain (SB.TEST, once per test process, ~7 s) into a template directory, copies the template,
 * and starts `samba` (LDAP service only, single process) in its own network namespace
 * (`unshare --net`), so it has port 389 to itself and several DCs can run at once. Inside the
 * namespace a `socat` forwards a Unix socket in the DC's directory to 127.0.0.1:389; the test
 * process listens on a free loopback port and pipes each connection into that socket, so clients
 * use an ordinary `ldap://127.0.0.1:<port>` URL. `stop()` terminates the DC (and its forwarder) and
 * removes its directory. Samba runs with `-i` and its stdin is a pipe from this process: if the test
 * process dies, samba sees end of file and exits.
 *
 * Needs root (for the namespace) and the Debian packages `samba samba-ad-provision
 * samba-dsdb-modules samba-vfs-modules winbind socat iproute2`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { replaceChanges, run, waitUntilBindable, withBoundClient } from './slapd.js';

export const REALM = 'SB.TEST';
export const AD_BASE_DN = 'DC=sb,DC=test';
const ADMIN_PASSWORD = 'Passw0rd!Passw0rd';
const ADMIN_UPN = `Administrator@${REALM}`;

/** userAccountControl: NORMAL_ACCOUNT | PASSWD_NOTREQD (an enabled account created without a password over plain LDAP). */
export const UAC_ENABLED = 0x200 | 0x20;
/** userAccountControl: the same, plus ACCOUNTDISABLE. */
export const UAC_DISABLED = UAC_ENABLED | 0x2;

export interface AdUser {
  /** sAMAccountName; the UPN is `<name>@sb.test`. */
  name: string;
  givenName?: string;
  sn?: string;
  mail?: string;
  disabled?: boolean;
}

export interface SambaAd {
  url: string;
  baseDn: string;
  /** `Administrator@SB.TEST` (a UPN bind, as AD administrators configure it). */
  bindDn: string;
  bindPassword: string;
  dir: string;
  /** Creates an organizational unit under the domain and returns its DN. */
  addOu(name: string): Promise<string>;
  /** Creates a user in `ouDn` (enabled unless `disabled`) and returns its DN. */
  addUser(ouDn: string, user: AdUser): Promise<string>;
  /** Replaces attributes (`null` deletes the attribute). */
  modify(dn: string, replace: Record<string, string | string[] | null>): Promise<void>;
  delete(dn: string): Promise<void>;
  /**
   * Creates a user who can bind (`samba-tool user create` on the DC's own database) with no right beyond an
   * ordinary domain user's; returns the name to bind with (`<name>@sb.test`).
   */
  addPlainUser(name: string, password: string): Promise<string>;
  /** Moves an entry under another parent (ModifyDN), keeping its RDN; returns the new DN. */
  move(dn: string, newParentDn: string): Promise<string>;
  /** Searches as the administrator (for assertions that go around the connector). */
  search(baseDn: string, filter: string, attributes: string[], scope?: 'base' | 'one' | 'sub'): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

let template: Promise<string> | undefined;

/** Provisions the domain once per process into a template directory (removed when the process exits). */
function provisionedTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-samba-template-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await run('samba-tool', [
      'domain',
      'provision',
      `--realm=${REALM}`,
      '--domain=SB',
      '--host-name=dc1',
      '--server-role=dc',
      '--dns-backend=NONE',
      `--adminpass=${ADMIN_PASSWORD}`,
      `--targetdir=${dir}`,
      '--use-rfc2307',
      '--option=ldap server require strong auth = no',
    ]);
    return dir;
  })();
  template.catch(() => (template = undefined));
  return template;
}

export async function startSambaAd(): Promise<SambaAd> {
  const templateDir = await provisionedTemplate();
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-samba-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir); // if the process dies without stop(); samba exits on its own (stdin closed)
  let child: ChildProcess | undefined;
  let server: Server | undefined;
  try {
    await cp(templateDir, dir, { recursive: true });
    const confPath = join(dir, 'etc', 'smb.conf');
    await writeFile(confPath, smbConf(await readFile(confPath, 'utf8'), templateDir, dir));
    const socketPath = join(dir, 'ldap.sock');
    // In the namespace: loopback up, the forwarder, then samba in the foreground; when samba exits
    // (killed, or its stdin closed), the forwarder goes too.
    const script = `set -e
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ip link set lo up
socat UNIX-LISTEN:${socketPath},fork TCP:127.0.0.1:389 &
forwarder=$!
set +e
samba -i -M single -s ${confPath} --maximum-runtime=1800
status=$?
kill $forwarder 2>/dev/null
exit $status
`;
    await writeFile(join(dir, 'run.sh'), script);
    child = spawn('unshare', ['--net', 'sh', join(dir, 'run.sh')], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error) => (output += `\n${String(error)}`));

    const sockets = new Set<Socket>();
    server = createServer((socket) => {
      const upstream = connect(socketPath);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    const port = await new Promise<number>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(0, '127.0.0.1', () => {
        const address = server!.address();
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'));
      });
    });
    const url = `ldap://127.0.0.1:${port}`;
    await waitUntilBindable(url, child, () => output, { name: 'samba', bindDn: ADMIN_UPN, password: ADMIN_PASSWORD, timeoutMs: 30_000, intervalMs: 100, requestTimeoutMs: 2000 });
    return handle(url, dir, child, server, sockets, () => process.off('exit', removeDir));
  } catch (error) {
    if (child) await kill(child);
    server?.close();
    await rm(dir, { recursive: true, force: true });
    process.off('exit', removeDir);
    throw error;
  }
}

/** The template's smb.conf, pointed at `dir`: LDAP only, on the namespace's loopback, no TLS keys to generate. */
function smbConf(conf: string, templateDir: string, dir: string): string {
  return conf
    .split(templateDir)
    .join(dir)
    .replace(/^\s*server services = .*$/m, '\tserver services = ldap')
    .replace(/^\s*log file = .*$/m, `\tlog file = ${join(dir, 'log')}`)
    .replace(
      /^\[global\]$/m,
      `[global]
	interfaces = lo
	bind interfaces only = yes
	disable netbios = yes
	tls enabled = no
	pid directory = ${dir}
	ldap server require strong auth = no`,
    );
}

function handle(url: string, dir: string, child: ChildProcess, server: Server, sockets: Set<Socket>, forget: () => void): SambaAd {
  const withClient = <T>(fn: (client: Client) => Promise<T>): Promise<T> => withBoundClient({ url, connectTimeout: 5000, timeout: 15000 }, ADMIN_UPN, ADMIN_PASSWORD, fn);
  let stopped = false;
  return {
    url,
    baseDn: AD_BASE_DN,
    bindDn: ADMIN_UPN,
    bindPassword: ADMIN_PASSWORD,
    dir,
    async addOu(name) {
      const dn = `OU=${name},${AD_BASE_DN}`;
      await withClient((client) => client.add(dn, { objectClass: ['top', 'organizationalUnit'], ou: name }));
      return dn;
    },
    async addUser(ouDn, user) {
      const cn = [user.givenName, user.sn].filter(Boolean).join(' ') || user.name;
      const dn = `CN=${cn},${ouDn}`;
      const attributes: Record<string, string | string[]> = {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        sAMAccountName: user.name,
        userPrincipalName: `${user.name}@sb.test`,
        userAccountControl: String(user.disabled ? UAC_DISABLED : UAC_ENABLED),
      };
      if (user.givenName) attributes.givenName = user.givenName;
      if (user.sn) attributes.sn = user.sn;
      if (user.mail) attributes.mail = user.mail;
      await withClient((client) => client.add(dn, attributes));
      return dn;
    },
    modify: (dn, replace) =>
      withClient((client) => client.modify(dn, replaceChanges(replace))),
    delete: (dn) => withClient((client) => client.del(dn)),
    addPlainUser: async (name, password) => {
      await run('samba-tool', ['user', 'create', name, password, '-s', join(dir, 'etc', 'smb.conf')]);
      return `${name}@sb.test`;
    },
    move: async (dn, newParentDn) => {
      const moved = `${dn.split(/(?<!\\),/)[0]},${newParentDn}`;
      await withClient((client) => client.modifyDN(dn, moved));
      return moved;
    },
    search: (baseDn, filter, attributes, scope = 'sub') =>
      withClient(async (client) => (await client.search(baseDn, { filter, scope, attributes, explicitBufferAttributes: ['objectGUID'] })).searchEntries),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kill(child);
      await rm(dir, { recursive: true, force: true });
      forget();
    },
  };
}

/** Terminates the process group started for the DC (the namespace's shell, samba and socat). */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  child.stdin?.destroy();
}
