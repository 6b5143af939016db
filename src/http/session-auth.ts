import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DomainError } from '../domain/errors.js';
import type { OpenSession, SessionService } from '../services/session-service.js';
import { originOf } from './request-context.js';

export const SESSION_COOKIE = 'sb_session';
export const CSRF_HEADER = 'x-csrf-token';

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

const same = (a: string, b: string): boolean => a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * The console's session on the public API: the cookie counts only on a same-origin request that carries the
 * session's CSRF token in X-CSRF-Token. A cross-site page can make the browser send the cookie (not with
 * SameSite=Strict, but older browsers and subdomains exist) yet cannot read the token nor set a custom header
 * without a CORS preflight, which Switchboard never grants.
 */
export async function sessionOf(sessions: SessionService, req: IncomingMessage, publicUrl: string | undefined, requireCsrf: boolean): Promise<OpenSession | undefined> {
  const secret = readCookie(req, SESSION_COOKIE);
  if (!secret) return undefined;
  const session = await sessions.authenticate(secret);
  if (!session) throw new DomainError('unauthorized', 'The console session has ended (signed out, idle too long or expired); sign in again');
  if (!requireCsrf) return session;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== originOf(req, publicUrl)) throw new DomainError('forbidden', 'A console session is accepted only from its own origin');
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw new DomainError('forbidden', 'A console session is accepted only from its own origin');
  const csrf = req.headers[CSRF_HEADER];
  if (typeof csrf !== 'string' || !same(csrf, session.csrfToken)) {
    throw new DomainError('forbidden', 'A request made with the console session must carry its CSRF token in the X-CSRF-Token header');
  }
  return session;
}

/** The cookie's attributes: HttpOnly always, Secure when the console is reached over HTTPS, SameSite=Strict. */
export function sessionCookie(value: string, secure: boolean, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

export const isHttps = (req: IncomingMessage, publicUrl: string | undefined): boolean => originOf(req, publicUrl).startsWith('https:');
