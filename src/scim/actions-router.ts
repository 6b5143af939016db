/**
 * /Actions: POST runs an admin action over users of the account and answers 201 with it — completed, or
 * `running` when more than 500 users are targeted (a background task finishes it; GET /Actions/{id} shows
 * the progress in `summary`). GET /Actions lists them newest first, filtered in SQL (`type eq "…"`, `status`,
 * `createdBy`, `meta.created gt "…"`, `summary.failed gt 0`, …), without their per-user results.
 */
import { Router, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { auditActorOf, hasCapability } from '../domain/principal.js';
import { contextOf } from '../http/request-context.js';
import type { ActionService, StoredAction } from '../services/action-service.js';
import { ACTION_URN } from '../domain/action-schema.js';
import { parseListParams } from './list-params.js';
import { listResponse, sendScim } from './scim-http.js';

export { ACTION_URN };

export function toActionResource(action: StoredAction, scimBase: string): Record<string, unknown> {
  return {
    schemas: [ACTION_URN],
    id: action.id,
    type: action.type,
    status: action.status,
    ...(action.error ? { error: action.error } : {}),
    targets: action.targets,
    params: action.params,
    summary: action.summary,
    ...(action.results ? { results: action.results } : {}),
    ...(action.createdBy ? { createdBy: action.createdBy } : {}),
    created: action.createdAt.toISOString(),
    ...(action.completedAt ? { completed: action.completedAt.toISOString() } : {}),
    meta: {
      resourceType: 'Action',
      created: action.createdAt.toISOString(),
      lastModified: action.updatedAt.toISOString(),
      location: `${scimBase}/Actions/${action.id}`,
    },
  };
}

export function actionsRouter(deps: { actions: ActionService; maxResults: number }): Router {
  const router = Router({ mergeParams: true });
  const requireActions = (res: Response) => {
    if (!hasCapability(contextOf(res).principal, 'actions')) throw new DomainError('forbidden', 'This token cannot run actions');
  };
  router.post('/Actions', async (req, res) => {
    requireActions(res);
    const { accountId, principal, scimBase } = contextOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (Array.isArray(body.schemas) && !body.schemas.includes(ACTION_URN)) throw new DomainError('invalidValue', `schemas must include ${ACTION_URN}`);
    const action = await deps.actions.run(accountId, auditActorOf(principal), { type: body.type, targets: body.targets, params: body.params });
    sendScim(res, 201, toActionResource(action, scimBase), { Location: `${scimBase}/Actions/${action.id}` });
  });
  router.get('/Actions', async (req, res) => {
    requireActions(res);
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as Record<string, unknown>, deps.maxResults);
    const page = await deps.actions.list(accountId, { filter: params.filter, startIndex: params.startIndex, count: params.count });
    sendScim(res, 200, listResponse(page.actions.map((a) => toActionResource(a, scimBase)), page.total, params.startIndex));
  });
  router.get('/Actions/:id', async (req, res) => {
    requireActions(res);
    const { accountId, scimBase } = contextOf(res);
    sendScim(res, 200, toActionResource(await deps.actions.get(accountId, req.params.id), scimBase));
  });
  return router;
}
