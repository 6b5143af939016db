import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type SftpClient from 'ssh2-sftp-client';
import { ConnectorError } from './errors.js';
import type { SftpLocation } from './file-location.js';
import { newSftpSession, SESSION_KEEPALIVE_MS, sessionKey, unpooled, type SessionLease } from './sftp-sessions.js';
import { joinPath, newestMatch, sameVersion, type ExportMeta, type FileTransport, type OpenResult, type TransportOptions } from './transport-base.js';

/** A host key's fingerprint as `ssh-keygen -lf` prints it: `SHA256:` + unpadded base64 of the key blob's SHA-256. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * sftp:// locations (ssh2-sftp-client). The server's host key must be the pinned `hostKeySha256`: an unknown
 * or changed key is refused before any credential is sent, and the error shows the key the server offered.
 * With `sessions` (a source's runs), the session comes from the pool and goes back to it on close
 * (sftp-sessions.ts); a kept session that fails is ended and the open tried once more on a new one.
 */
export class SftpTransport implements FileTransport {
  private lease: SessionLease | undefined;
  private failed = false;
  private readonly streams = new Set<Readable>();
  private readonly key: string;

  constructor(
    private readonly location: SftpLocation,
    private readonly options: TransportOptions,
  ) {
    this.key = sessionKey(options.sessions?.owner ?? '', location);
  }

  private get policy() {
    return this.options.sessions?.pool ?? unpooled;
  }

  private get where(): string {
    const { username, host, port } = this.location;
    return `sftp://${username}@${host}:${port}`;
  }

  private async connect(): Promise<SessionLease> {
    if (this.lease) return this.lease;
    this.lease = await this.policy.acquire(this.key, () => this.openSession());
    return this.lease;
  }

  private async openSession() {
    const { host, port, username, password, privateKeyPem, hostKeySha256 } = this.location;
    const session = newSftpSession();
    let offered: string | undefined;
    try {
      await session.client.connect({
        host,
        port,
        username,
        password,
        privateKey: privateKeyPem,
        readyTimeout: this.options.timeoutMs,
        // ssh2 asks before authenticating; false ends the handshake, so no password reaches an unknown server.
        hostVerifier: (key: Buffer) => {
          offered = hostKeyFingerprint(key);
          return offered === hostKeySha256;
        },
        retries: 0,
        keepaliveInterval: SESSION_KEEPALIVE_MS,
      } as SftpClient.ConnectOptions);
    } catch (error) {
      await session.client.end().catch(() => undefined);
      throw this.connectError(error, offered);
    }
    return session;
  }

  /** Drops the session in hand as broken (ended, never kept). */
  private async drop(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await this.policy.release(this.key, lease.session, false);
  }

  private connectError(error: unknown, offered: string | undefined): ConnectorError {
    const message = error instanceof Error ? error.message : String(error);
    if (offered && offered !== this.location.hostKeySha256) {
      return new ConnectorError(
        'auth',
        `${this.where}: host key mismatch: the server offered ${offered}, the configuration pins ${this.location.hostKeySha256}; ` +
          'if the server\'s key really changed, set hostKeySha256 to the new fingerprint',
        { cause: error },
      );
    }
    if (/authentication methods failed|auth/i.test(message)) {
      const how = this.location.privateKeyPem ? 'private key' : 'password';
      return new ConnectorError('auth', `${this.where}: login refused for user ${this.location.username} (${how})`, { cause: error });
    }
    if (/privateKey|private key|Cannot parse/i.test(message)) {
      return new ConnectorError('config', `${this.where}: privateKeyPem cannot be read (${message})`, { cause: error });
    }
    return new ConnectorError('network', `${this.where}: cannot connect (${message.replace(/^connect: /, '')})`, { cause: error });
  }

  async open(previous?: ExportMeta): Promise<OpenResult> {
    let meta: ExportMeta;
    let client: SftpClient;
    try {
      const lease = await this.connect();
      client = lease.session.client;
      try {
        meta = await this.locate(client);
      } catch (error) {
        if (!lease.reused) throw error;
        // A kept session may have been dropped by the server or the network since its last use: one more try on a new one.
        await this.drop();
        client = (await this.connect()).session.client;
        meta = await this.locate(client);
      }
    } catch (error) {
      this.failed = true;
      throw error;
    }
    if (sameVersion(previous, meta)) return { unchanged: true, meta };
    const stream = client.createReadStream(meta.file);
    stream.once('error', () => (this.failed = true));
    // A stream destroyed early (check reads only the header) closes its remote handle after the fact; its error
    // once the connection has ended is expected, and close() waits for it.
    stream.on('error', () => undefined);
    this.streams.add(stream);
    stream.once('close', () => this.streams.delete(stream));
    return { unchanged: false, meta, stream };
  }

  private async locate(client: SftpClient): Promise<ExportMeta> {
    const { path } = this.location;
    if (!this.options.pattern) {
      const info = await client.stat(path).catch((e: unknown) => {
        throw new ConnectorError('config', `${this.where}${path}: ${noSuch(e, 'file')}`, { cause: e });
      });
      if (!info.isFile) throw new ConnectorError('config', `${this.where}${path}: not a file (set pattern to read the newest file of a directory)`);
      return { file: path, size: info.size, mtimeMs: info.modifyTime };
    }
    const list = await client.list(path).catch((e: unknown) => {
      throw new ConnectorError('config', `${this.where}${path}: ${noSuch(e, 'directory')}`, { cause: e });
    });
    const newest = newestMatch(
      list.filter((f) => f.type === '-').map((f) => ({ name: f.name, size: f.size, mtimeMs: f.modifyTime })),
      this.options.pattern,
    );
    if (!newest) throw new ConnectorError('config', `${this.where}${path}: no file matches ${this.options.pattern}`);
    return { file: joinPath(path, newest.name), size: newest.size, mtimeMs: newest.mtimeMs };
  }

  async put(name: string, content: string): Promise<'written' | 'exists'> {
    const client = (await this.connect().catch((error: unknown) => {
      this.failed = true;
      throw error;
    })).session.client;
    const target = joinPath(this.location.path, name);
    try {
      if (await client.exists(target)) return 'exists';
      // Written aside then renamed, so the MiCollab import never picks up half a file.
      const part = joinPath(this.location.path, `.${name}.part`);
      await client.put(Buffer.from(content, 'utf8'), part);
      await client.rename(part, target);
      return 'written';
    } catch (e) {
      this.failed = true;
      throw new ConnectorError('network', `${this.where}${this.location.path}: cannot write ${name}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Gives the session back (kept when pooled and nothing failed), once the streams opened on it are closed. */
  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    // A stream left unread to its end (check reads only the header) leaves its remote handle open: not kept.
    const unfinished = [...this.streams].some((stream) => !stream.readableEnded);
    await Promise.all(
      [...this.streams].map((stream) => {
        if (!stream.destroyed) stream.destroy();
        return Promise.race([once(stream, 'close'), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      }),
    );
    if (lease) await this.policy.release(this.key, lease.session, !this.failed && !unfinished);
  }
}

function noSuch(error: unknown, what: string): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/no such file|not exist|ENOENT/i.test(message)) return `no such ${what}`;
  if (/permission denied/i.test(message)) return 'permission denied';
  return message;
}
