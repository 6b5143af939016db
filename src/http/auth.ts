import type { NextFunction, Request, Response } from 'express';
import { DomainError, notFound } from '../domain/errors.js';
import type { AccountService } from '../services/account-service.js';
import type { TokenService } from '../services/token-service.js';
import { originOf, type RequestContext } from './request-context.js';

/**
 * Bearer authentication and account addressing. `/accounts/{accountId}/scim/v2` addresses an account
 * explicitly; `/scim/v2` means the token's own. An account the token may not reach answers 404, exactly
 * like one that does not exist.
 */
export function scimAuth(deps: { tokens: TokenService; accounts: AccountService; publicUrl?: string }) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.get('Authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new DomainError('unauthorized', header ? 'The Authorization header must be "Bearer <token>"' : 'Authentication required: send "Authorization: Bearer <token>"');
    }
    const principal = await deps.tokens.authenticate(match[1]);
    if (!principal) throw new DomainError('unauthorized', 'The bearer token is unknown, revoked or expired');
    const explicit = req.params.accountId as string | undefined;
    const accountId = explicit ?? principal.accountId;
    if (explicit !== undefined && !(await deps.accounts.canReach(principal, explicit))) {
      throw notFound(`Account ${explicit}`);
    }
    const origin = originOf(req, deps.publicUrl);
    const scimBase = explicit !== undefined ? `${origin}/accounts/${encodeURIComponent(explicit)}/scim/v2` : `${origin}/scim/v2`;
    const ctx: RequestContext = { principal, accountId, scimBase, requestId: String(res.locals.requestId ?? '') };
    res.locals.ctx = ctx;
    next();
  };
}
