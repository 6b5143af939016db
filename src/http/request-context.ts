import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Response } from 'express';
import type { Principal } from '../domain/principal.js';
import { responseAbandonment, type Abandonment } from '../lib/abandonment.js';

/** What the auth layer established for one request; passed explicitly, never kept on shared objects. */
export interface RequestContext {
  principal: Principal;
  /** The account this request addresses: from the URL, or the token's own. */
  accountId: string;
  /** Absolute base of the SCIM endpoints for this request, e.g. https://host/accounts/ID/scim/v2 */
  scimBase: string;
  requestId: string;
}

export function contextOf(res: Response): RequestContext {
  const ctx = res.locals.ctx as RequestContext | undefined;
  if (!ctx) throw new Error('request context missing: route mounted without authentication');
  return ctx;
}

const firstValue = (value: string | string[] | undefined): string | undefined => {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const comma = text.indexOf(',');
  return (comma === -1 ? text : text.slice(0, comma)).trim() || undefined;
};

/**
 * The origin clients reached: PUBLIC_URL when set, else the request's own. Switchboard runs behind proxies
 * (the app trusts them, like express's `trust proxy`), so X-Forwarded-Proto names the scheme when present.
 */
export function originOf(req: IncomingMessage, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl;
  const proto = firstValue(req.headers['x-forwarded-proto']) ?? ((req.socket as TLSSocket).encrypted ? 'https' : 'http');
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}

/**
 * Fires when the client closes the connection before its response is complete (the console aborts the search of
 * the previous keystroke): selectRows then cancels the request's statement and starts no other.
 */
export function abandonedSignal(res: ServerResponse): Abandonment {
  return responseAbandonment(res);
}
