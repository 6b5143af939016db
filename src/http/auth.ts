import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { DomainError, notFound } from '../domain/errors.js';
import type { AccountService } from '../services/account-service.js';
import type { TokenService } from '../services/token-service.js';
import { originOf, type RequestContext } from './request-context.js';
import type { SessionService } from '../services/session-service.js';
import { sessionOf } from './session-auth.js';
import { isInternal } from './internal-request.js';
import type { RateLimits } from './rate-limits.js';

export interface ScimAuthDeps {
  tokens: TokenService;
  accounts: AccountService;
  publicUrl?: string;
  limits: RateLimits;
  /** Console sessions, accepted instead of a bearer token (same origin, CSRF header). */
  sessions?: SessionService;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Bearer authentication and account addressing. `/accounts/{accountId}/scim/v2` addresses an account
 * explicitly (`explicitAccountId`); `/scim/v2` means the token's own. An account the token may not reach
 * answers 404, exactly like one that does not exist.
 */
export async function authenticateScim(deps: ScimAuthDeps, req: IncomingMessage, explicitAccountId: string | undefined, requestId: string): Promise<RequestContext> {
  const header = req.headers.authorization ?? '';
  const session = !header && deps.sessions ? await sessionOf(deps.sessions, req, deps.publicUrl, true) : undefined;
  const match = BEARER.exec(header);
  const internal = isInternal(req);
  if (!match && !session) {
    if (!internal) await deps.limits.failedAuthentication(req);
    throw new DomainError('unauthorized', header ? 'The Authorization header must be "Bearer <token>"' : 'Authentication required: send "Authorization: Bearer <token>"');
  }
  const principal = session ? session.principal : await deps.tokens.authenticate(match![1]!);
  if (!principal) {
    if (!internal) await deps.limits.failedAuthentication(req);
    throw new DomainError('unauthorized', 'The bearer token is unknown, revoked or expired');
  }
  if (!internal) await deps.limits.request(principal);
  const accountId = explicitAccountId ?? principal.accountId;
  if (explicitAccountId !== undefined && !(await deps.accounts.canReach(principal, explicitAccountId))) {
    throw notFound(`Account ${explicitAccountId}`);
  }
  const origin = originOf(req, deps.publicUrl);
  const scimBase = explicitAccountId !== undefined ? `${origin}/accounts/${encodeURIComponent(explicitAccountId)}/scim/v2` : `${origin}/scim/v2`;
  return { principal, accountId, scimBase, requestId };
}

/** authenticateScim as express middleware: the context goes to res.locals.ctx (read with contextOf). */
export function scimAuth(deps: ScimAuthDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.locals.ctx = await authenticateScim(deps, req, req.params.accountId as string | undefined, String(res.locals.requestId ?? ''));
    next();
  };
}
