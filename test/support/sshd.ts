/**
 * A throwaway OpenSSH server for tests and benches (Debian `openssh-server`): `startSshd()` generates a host key
 * and a client key pair with ssh-keygen in a temp dir, writes an sshd_config (loopback, a free port, sftp only,
 * password and key logins, no PAM), and runs /usr/sbin/sshd in the foreground. Logins are as a dedicated local
 * user (`switchboard-sftp`, created when missing, its password set on every start) because sshd needs a real
 * account and CI runs as root on a fresh machine. `dir` is owned by that user: put exports there.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SSHD_BIN = '/usr/sbin/sshd';
export const SFTP_USER = 'switchboard-sftp';
const PASSWORD_FILE = '/run/switchboard-sftp-test-password';

export interface Sshd {
  host: string;
  port: number;
  user: string;
  password: string;
  /** OpenSSH-format private key whose public half is authorized. */
  privateKeyPem: string;
  /** The host key's fingerprint, as `ssh-keygen -lf` prints it. */
  hostKeySha256: string;
  /** A directory the SFTP user owns (exports go here). */
  dir: string;
  /** sftp://user@127.0.0.1:port<path> */
  url(path: string): string;
  /** Logins accepted so far (sshd's log: "Accepted password|publickey for …"). */
  logins(): number;
  /** Ends every open connection, as a server restart or a network drop would (kills sshd's per-connection processes). */
  dropConnections(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The SFTP user's password: random, made once per boot and kept in /run (root only), so test processes running
 * side by side share it instead of each resetting it under the other's feet.
 */
async function sharedPassword(): Promise<{ password: string; fresh: boolean }> {
  try {
    return { password: (await readFile(PASSWORD_FILE, 'utf8')).trim(), fresh: false };
  } catch {
    const password = `pw-${randomBytes(18).toString('base64url')}`;
    try {
      await writeFile(PASSWORD_FILE, password, { mode: 0o600, flag: 'wx' });
      return { password, fresh: true };
    } catch {
      return { password: (await readFile(PASSWORD_FILE, 'utf8')).trim(), fresh: false };
    }
  }
}

async function ensureUser(password: string, setPassword: boolean): Promise<{ uid: number; gid: number }> {
  const id = await run('id', ['-u', SFTP_USER]).catch(() => undefined);
  if (!id) await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SFTP_USER]).catch(async (e: unknown) => {
    // Another test process created it meanwhile.
    if (!(await run('id', ['-u', SFTP_USER]).catch(() => undefined))) throw e;
  });
  if (setPassword || !id) {
    const child = spawn('chpasswd');
    child.stdin.end(`${SFTP_USER}:${password}\n`);
    await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${code}`)))));
  }
  const uid = Number((await run('id', ['-u', SFTP_USER])).stdout.trim());
  const gid = Number((await run('id', ['-g', SFTP_USER])).stdout.trim());
  return { uid, gid };
}

async function fingerprint(publicKeyFile: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', publicKeyFile, '-E', 'sha256']);
  const match = /SHA256:[A-Za-z0-9+/]{43}/.exec(stdout);
  if (!match) throw new Error(`ssh-keygen -lf printed no SHA256 fingerprint: ${stdout}`);
  return match[0];
}

async function waitForBanner(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not answer on port ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `port`: listen there (a server replaced at the same address), else on a free port. */
export async function startSshd(options: { port?: number } = {}): Promise<Sshd> {
  const root = await mkdtemp(join(tmpdir(), 'switchboard-sshd-'));
  await chmod(root, 0o755);
  const { password, fresh } = await sharedPassword();
  const { uid, gid } = await ensureUser(password, fresh);
  const hostKey = join(root, 'ssh_host_ed25519_key');
  const clientKey = join(root, 'client_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  const authorizedKeys = join(root, 'authorized_keys');
  await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`));
  await chmod(authorizedKeys, 0o644);
  const dir = join(root, 'data');
  await mkdir(dir);
  await chown(dir, uid, gid);
  await mkdir('/run/sshd', { recursive: true });
  const port = options.port ?? (await freePort());
  const config = join(root, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(root, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin no',
      `AllowUsers ${SFTP_USER}`,
      'UsePAM no',
      // The temp dir is root's and the keys file is shared: StrictModes would refuse it.
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      'ForceCommand internal-sftp',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  let log = '';
  let pending = '';
  let logins = 0;
  const child = spawn(SSHD_BIN, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
    const lines = (pending + d.toString()).split('\n');
    pending = lines.pop() ?? '';
    logins += lines.filter((line) => /Accepted (password|publickey) for /.test(line)).length;
  });
  await waitForBanner(port, child, () => log);
  return {
    host: '127.0.0.1',
    port,
    user: SFTP_USER,
    password,
    privateKeyPem: await readFile(clientKey, 'utf8'),
    hostKeySha256: await fingerprint(`${hostKey}.pub`),
    dir,
    url: (path: string) => `sftp://${SFTP_USER}@127.0.0.1:${port}${path}`,
    logins: () => logins,
    async dropConnections() {
      const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(child.pid)]).catch(() => ({ stdout: '' }));
      for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Writes `content` into the SFTP user's directory as that user would (owned by it). */
export async function putExport(sshd: Sshd, name: string, content: string | Buffer): Promise<string> {
  const path = join(sshd.dir, name);
  await writeFile(path, content);
  const { uid, gid } = await ensureUserIds();
  await chown(path, uid, gid);
  return path;
}

async function ensureUserIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', SFTP_USER])).stdout.trim());
  const gid = Number((await run('id', ['-g', SFTP_USER])).stdout.trim());
  return { uid, gid };
}
