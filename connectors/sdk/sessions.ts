/**
 * The contract of connections kept between a source's runs (the pool is sftp-sessions.ts): what a transport asks
 * for and gives back. Apart so that the connector contract (types.ts) can name it without the transports.
 */
import type SftpClient from 'ssh2-sftp-client';

/** A session's client and whether it is still connected (its end, close or error events seen). */
export interface SftpSession {
  readonly client: SftpClient;
  alive(): boolean;
}

/** One use of a session: `reused` when it was kept from an earlier use (it may have died since). */
export interface SessionLease {
  session: SftpSession;
  reused: boolean;
}

export interface SessionPolicy {
  /** Takes a kept session for `key`, or opens one with `open`. */
  acquire(key: string, open: () => Promise<SftpSession>): Promise<SessionLease>;
  /** Gives a session back after use; `healthy: false` (its use failed) ends it. */
  release(key: string, session: SftpSession, healthy: boolean): Promise<void>;
}

/** No pool: every use opens its own session and ends it (a check, a write-back, a transport used alone). */
export const unpooled: SessionPolicy = {
  async acquire(_key, open) {
    return { session: await open(), reused: false };
  },
  async release(_key, session) {
    await session.client.end().catch(() => undefined);
  },
};

