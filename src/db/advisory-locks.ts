/**
 * PostgreSQL advisory locks, named by text. Several instances over one database agree on who does a piece of
 * work (one sync run per source) without a table of locks: the lock lives as long as the transaction holding it.
 */
import { createHash } from 'node:crypto';
import type { Executor } from './database.js';

/** The 64-bit lock key of a name (the first 8 bytes of its SHA-256, signed as PostgreSQL's bigint). */
export function advisoryLockKey(name: string): string {
  return BigInt.asIntN(64, BigInt(`0x${createHash('sha256').update(name).digest('hex').slice(0, 16)}`)).toString();
}

/** Takes the lock for the rest of `trx` if no other session holds it; false when one does. */
export async function tryTransactionLock(trx: Executor, name: string): Promise<boolean> {
  const result = (await trx.raw('select pg_try_advisory_xact_lock(?::bigint) as locked', [advisoryLockKey(name)])) as { rows: { locked: boolean }[] };
  return result.rows[0]?.locked === true;
}
