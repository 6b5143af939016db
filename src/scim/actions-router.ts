import { Router, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { hasCapability, writerOf } from '../domain/principal.js';
import { contextOf } from '../http/request-context.js';
import type { ActionService, StoredAction } from '../services/action-service.js';
import { sendScim } from './scim-http.js';

export const ACTION_URN = 'urn:switchboard:scim:schemas:core:2.0:Action';

function toActionResource(action: StoredAction, scimBase: string): Record<string, unknown> {
  return {
    schemas: [ACTION_URN],
    id: action.id,
    type: action.type,
    status: action.status,
    targets: action.targets,
    params: action.params,
    summary: action.summary,
    results: action.results,
    meta: {
      resourceType: 'Action',
      created: action.createdAt.toISOString(),
      lastModified: (action.completedAt ?? action.createdAt).toISOString(),
      location: `${scimBase}/Actions/${action.id}`,
    },
  };
}

export function actionsRouter(deps: { actions: ActionService }): Router {
  const router = Router({ mergeParams: true });
  const requireActions = (res: Response) => {
    if (!hasCapability(contextOf(res).principal, 'actions')) throw new DomainError('forbidden', 'This token cannot run actions');
  };
  router.post('/Actions', async (req, res) => {
    requireActions(res);
    const { accountId, principal, scimBase } = contextOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (Array.isArray(body.schemas) && !body.schemas.includes(ACTION_URN)) throw new DomainError('invalidValue', `schemas must include ${ACTION_URN}`);
    const action = await deps.actions.run(accountId, writerOf(principal), { type: body.type, targets: body.targets, params: body.params });
    sendScim(res, 201, toActionResource(action, scimBase), { Location: `${scimBase}/Actions/${action.id}` });
  });
  router.get('/Actions/:id', async (req, res) => {
    requireActions(res);
    const { accountId, scimBase } = contextOf(res);
    sendScim(res, 200, toActionResource(await deps.actions.get(accountId, req.params.id), scimBase));
  });
  return router;
}
