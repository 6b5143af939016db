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

/** A row of a keyset-ordered list: its sort value as text and its id, what a cursor names. */
export interface KeysetRow {
  sortValue: string | null;
  id: string;
}

/** One fetch of a keyset list: in `descending` order, after `after` when given, at most `limit` rows. */
export type KeysetFetch<R extends KeysetRow> = (query: { descending: boolean; after?: CursorPosition; limit: number }) => Promise<R[]>;

/**
 * An RFC 9865 page of any keyset-ordered list: `cursor` '' is the first page; a next cursor continues forward,
 * a previous one reads backward (the reverse order) and turns the rows round. Answers the page and the
 * nextCursor / previousCursor members of the ListResponse. `queryKey` binds cursors to the query they came from.
 */
export async function cursorPage<R extends KeysetRow>(
  request: { cursor: string; count: number; descending: boolean; queryKey: unknown[]; now: Date; ttlSeconds: number },
  fetch: KeysetFetch<R>,
): Promise<{ page: R[]; extra: { nextCursor?: string; previousCursor?: string } }> {
  const { cursor, count, descending, queryKey, now } = request;
  const positionOf = (row: R): CursorPosition => ({ value: row.sortValue, id: row.id });
  const extra: { nextCursor?: string; previousCursor?: string } = {};
  if (cursor !== '') {
    const { position, direction } = decodeCursor(cursor, queryKey, now, request.ttlSeconds);
    if (direction === 'previous') {
      const back = await fetch({ descending: !descending, after: position, limit: count + 1 });
      const page = back.slice(0, count).reverse();
      if (page.length > 0) {
        extra.nextCursor = encodeCursor(positionOf(page[page.length - 1]!), queryKey, now);
        if (back.length > count) extra.previousCursor = encodeCursor(positionOf(page[0]!), queryKey, now, 'previous');
      }
      return { page, extra };
    }
    const rows = await fetch({ descending, after: position, limit: count + 1 });
    const page = rows.slice(0, count);
    if (rows.length > count && page.length > 0) extra.nextCursor = encodeCursor(positionOf(page[page.length - 1]!), queryKey, now);
    if (page.length > 0) extra.previousCursor = encodeCursor(positionOf(page[0]!), queryKey, now, 'previous');
    return { page, extra };
  }
  const rows = await fetch({ descending, limit: count + 1 });
  const page = rows.slice(0, count);
  if (rows.length > count && page.length > 0) extra.nextCursor = encodeCursor(positionOf(page[page.length - 1]!), queryKey, now);
  return { page, extra };
}
