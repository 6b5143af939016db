import { Router, type Request, type Response } from 'express';
import { DomainError, notFound } from '../domain/errors.js';
import { hasCapability, roles, type Role } from '../domain/principal.js';
import type { TokenRecord } from '../db/tokens-repo.js';
import type { TokenService } from '../services/token-service.js';
import { contextOf } from '../http/request-context.js';
import { parseListParams } from './list-params.js';
import { projectionFor } from './projection.js';
import { coerceResource, type JsonObject } from './resource-input.js';
import { resourceTypes } from './schemas.js';
import { listResponse, sendScim } from './scim-http.js';
import { URN } from './urns.js';

const rt = resourceTypes.token;

export function toTokenResource(token: TokenRecord, scimBase: string, secret?: string): JsonObject {
  return {
    schemas: [URN.token],
    id: token.id,
    role: token.role,
    ...(token.description ? { description: token.description } : {}),
    ...(token.userId ? { userId: token.userId } : {}),
    ...(token.expiresAt ? { expiresAt: token.expiresAt.toISOString() } : {}),
    ...(token.lastUsedAt ? { lastUsedAt: token.lastUsedAt.toISOString() } : {}),
    ...(token.revokedAt ? { revokedAt: token.revokedAt.toISOString() } : {}),
    ...(secret ? { token: secret } : {}),
    meta: {
      resourceType: 'Token',
      created: token.createdAt.toISOString(),
      lastModified: (token.revokedAt ?? token.createdAt).toISOString(),
      location: `${scimBase}/Tokens/${token.id}`,
    },
  };
}

function requireTokens(res: Response): void {
  if (!hasCapability(contextOf(res).principal, 'tokens')) throw new DomainError('forbidden', 'This token cannot manage tokens');
}

export function tokensRouter(deps: { tokens: TokenService; maxResults: number }): Router {
  const router = Router({ mergeParams: true });

  router.get('/Tokens', async (req, res) => {
    requireTokens(res);
    const { principal, accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, deps.maxResults);
    const page = await deps.tokens.list(principal, accountId, { filter: params.filter, offset: params.startIndex - 1, limit: params.count });
    const projection = projectionFor(rt, params.attributes, params.excludedAttributes);
    sendScim(res, 200, listResponse(page.tokens.map((t) => projection.apply(toTokenResource(t, scimBase))), page.total, params.startIndex));
  });

  router.post('/Tokens', async (req: Request, res: Response) => {
    requireTokens(res);
    const { principal, accountId, scimBase } = contextOf(res);
    const input = coerceResource(req.body, rt);
    const role = input.role as Role;
    if (!roles.includes(role)) throw new DomainError('invalidValue', `role must be one of ${roles.join(', ')}`);
    let expiresAt: Date | null = null;
    if (input.expiresAt !== undefined) {
      expiresAt = new Date(String(input.expiresAt));
      if (Number.isNaN(expiresAt.getTime())) throw new DomainError('invalidValue', 'expiresAt must be an RFC 3339 date-time');
    }
    const { token, secret } = await deps.tokens.issue(principal, accountId, {
      role,
      description: typeof input.description === 'string' ? input.description : null,
      userId: typeof input.userId === 'string' ? input.userId : null,
      expiresAt,
    });
    // The only response carrying the secret: no cache (browser, proxy) may keep it.
    sendScim(res, 201, toTokenResource(token, scimBase, secret), { Location: `${scimBase}/Tokens/${token.id}`, 'Cache-Control': 'no-store' });
  });

  router.get('/Tokens/:id', async (req, res) => {
    requireTokens(res);
    const { principal, accountId, scimBase } = contextOf(res);
    const token = await deps.tokens.findById(principal, accountId, req.params.id);
    if (!token) throw notFound(`Token ${req.params.id}`);
    const params = parseListParams(req.query as JsonObject, 1);
    sendScim(res, 200, projectionFor(rt, params.attributes, params.excludedAttributes).apply(toTokenResource(token, scimBase)));
  });

  router.delete('/Tokens/:id', async (req, res) => {
    requireTokens(res);
    const { principal, accountId } = contextOf(res);
    await deps.tokens.revoke(principal, accountId, req.params.id);
    sendScim(res, 204);
  });

  return router;
}
