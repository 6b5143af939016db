import type { Request, Response } from 'express';
import type { Principal } from '../domain/principal.js';

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

export function originOf(req: Request, publicUrl: string | undefined): string {
  return publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
