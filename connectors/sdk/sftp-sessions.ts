/**
 * SFTP sessions kept open between a source's runs. An unchanged export costs one `stat` (or `list`) once the
 * session is open, about 5 ms, against 140–160 ms for the TCP connection, the SSH handshake and the login
 * (bench pbx-sync, "unchanged export"). A session is kept per key: the source, its location and a fingerprint of
 * its credentials and pinned host key, so a changed configuration opens a new session (checked anew) and no two
 * sources share one. A kept session is ended after `idleMs` without use, when the server or the network drops it,
 * and when the pool closes (the composition root closes it on shutdown, after the runs have ended).
 *
 * The host key is checked when a session opens: a server whose key changed (a new machine behind the address)
 * has dropped the kept session with its old connection, and the new one is refused showing the new fingerprint.
 */
import { createHash } from 'node:crypto';
import SftpClient from 'ssh2-sftp-client';
import type { SftpLocation } from './file-location.js';
import type { SessionLease, SessionPolicy, SftpSession } from './sessions.js';

export { unpooled, type SessionLease, type SessionPolicy, type SftpSession } from './sessions.js';

/** A new client whose connection drops mark it dead (instead of ssh2-sftp-client's default console output). */
export function newSftpSession(): SftpSession {
  let dead = false;
  const die = () => {
    dead = true;
  };
  const client = new SftpClient('switchboard', { error: die, end: die, close: die });
  return { client, alive: () => !dead && (client as unknown as { sftp?: unknown }).sftp !== undefined };
}

/** The pool key of a location: which server, path and credentials a session was opened with. */
export function sessionKey(owner: string, location: SftpLocation): string {
  const { host, port, username, path, password, privateKeyPem, hostKeySha256 } = location;
  const secrets = createHash('sha256').update(JSON.stringify([password ?? null, privateKeyPem ?? null, hostKeySha256])).digest('base64url');
  return JSON.stringify([owner, username, host, port, path, secrets]);
}

/**
 * How long a kept session waits for its source's next run: an hour, so that a source scheduled up to hourly (or
 * checked again from the console) finds it open. An idle session costs the server one connection; a server or
 * firewall that drops it sooner costs one new handshake on the next run, nothing else.
 */
export const SESSION_IDLE_MS = 60 * 60_000;

/**
 * While kept, a session sends an SSH keepalive this often: a NAT or firewall in between keeps its state, and a
 * peer gone without a word is noticed (ended, not reused).
 */
export const SESSION_KEEPALIVE_MS = 30_000;

export class SftpSessionPool implements SessionPolicy {
  private readonly kept = new Map<string, { session: SftpSession; timer: NodeJS.Timeout }>();
  private closed = false;
  /** Sessions opened so far (for tests and the bench). */
  opened = 0;

  constructor(private readonly options: { idleMs: number } = { idleMs: SESSION_IDLE_MS }) {}

  async acquire(key: string, open: () => Promise<SftpSession>): Promise<SessionLease> {
    const kept = this.kept.get(key);
    if (kept) {
      this.kept.delete(key);
      clearTimeout(kept.timer);
      if (kept.session.alive()) return { session: kept.session, reused: true };
      await kept.session.client.end().catch(() => undefined);
    }
    const session = await open();
    this.opened++;
    return { session, reused: false };
  }

  async release(key: string, session: SftpSession, healthy: boolean): Promise<void> {
    // One session is kept per key; a second one in use at the same time (two runs of one source) is ended.
    if (this.closed || !healthy || !session.alive() || this.kept.has(key)) {
      await session.client.end().catch(() => undefined);
      return;
    }
    const timer = setTimeout(() => {
      if (this.kept.get(key)?.session !== session) return;
      this.kept.delete(key);
      void session.client.end().catch(() => undefined);
    }, this.options.idleMs);
    timer.unref();
    this.kept.set(key, { session, timer });
  }

  /** Ends every kept session; sessions in use are ended when given back. */
  async close(): Promise<void> {
    this.closed = true;
    const kept = [...this.kept.values()];
    this.kept.clear();
    await Promise.all(
      kept.map(({ session, timer }) => {
        clearTimeout(timer);
        return session.client.end().catch(() => undefined);
      }),
    );
  }
}
