import crypto from 'node:crypto';
import { DomainError } from '../domain/errors.js';

/** RFC 9865 cursors: an opaque keyset position bound to the query it came from, with an expiry. */
export interface CursorPosition {
  value: string | null;
  id: string;
}

interface CursorBody {
  p: CursorPosition;
  q: string;
  t: number;
  d: 'next' | 'previous';
}

const queryKey = (parts: unknown[]): string => crypto.createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);

export function encodeCursor(position: CursorPosition, query: unknown[], issuedAt: Date, direction: 'next' | 'previous' = 'next'): string {
  const body: CursorBody = { p: position, q: queryKey(query), t: Math.floor(issuedAt.getTime() / 1000), d: direction };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeCursor(cursor: string, query: unknown[], now: Date, ttlSeconds: number): { position: CursorPosition; direction: 'next' | 'previous' } {
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorBody;
  } catch {
    throw new DomainError('invalidCursor', 'The cursor is not one this server issued');
  }
  if (!body || typeof body !== 'object' || !body.p || typeof body.p.id !== 'string' || typeof body.t !== 'number' || (body.p.value !== null && typeof body.p.value !== 'string')) {
    throw new DomainError('invalidCursor', 'The cursor is not one this server issued');
  }
  if (body.q !== queryKey(query)) throw new DomainError('invalidCursor', 'The cursor belongs to a different filter or sort order');
  if (now.getTime() / 1000 - body.t > ttlSeconds) throw new DomainError('expiredCursor', `The cursor has expired (after ${ttlSeconds} s); start again from the first page`);
  return { position: body.p, direction: body.d === 'previous' ? 'previous' : 'next' };
}
