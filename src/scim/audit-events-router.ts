/**
 * /AuditEvents (README › Audit events): the account's audit trail, read-only. The list takes a SCIM filter over
 * the AuditEvent attributes (userId, actor, writer, action, at, …), compiled to SQL like every other list, and
 * pages by index or by RFC 9865 cursor as /Users does. The account is the request's, as for users: an account
 * admin reads its own account's events, a partner or the operator those of an account it reaches by URL.
 */
import { Router, type Response } from 'express';
import { AUDIT_EVENT_URN, changedAttributesOf } from '../domain/audit.js';
import { DomainError } from '../domain/errors.js';
import { hasCapability } from '../domain/principal.js';
import type { StoredAuditEvent } from '../db/audit-repo.js';
import { contextOf } from '../http/request-context.js';
import type { AuditService } from '../services/audit-service.js';
import type { Clock } from '../lib/clock.js';
import { cursorPage } from './cursor.js';
import { totalProvenByPage } from './list-total.js';
import { parseListParams } from './list-params.js';
import { refuseOtherMethods } from './method-not-allowed.js';
import { projectionFor } from './projection.js';
import { listResponse, sendScim } from './scim-http.js';
import { auditEventResourceType } from '../domain/audit.js';

type JsonObject = Record<string, unknown>;

export function toAuditEventResource(event: StoredAuditEvent, scimBase: string): JsonObject {
  const { changed: _changed, ...details } = event.details;
  return {
    schemas: [AUDIT_EVENT_URN],
    id: event.id,
    at: event.at.toISOString(),
    actor: event.actor,
    writer: event.writer,
    action: event.action,
    ...(event.targetType ? { targetType: event.targetType } : {}),
    ...(event.targetId ? { targetId: event.targetId } : {}),
    ...(event.userId ? { userId: event.userId } : {}),
    changedAttributes: changedAttributesOf(event.details),
    ...(Object.keys(details).length > 0 ? { details } : {}),
    meta: { resourceType: 'AuditEvent', created: event.at.toISOString(), lastModified: event.at.toISOString(), location: `${scimBase}/AuditEvents/${event.id}` },
  };
}

function requireAudit(res: Response): void {
  if (!hasCapability(contextOf(res).principal, 'audit')) throw new DomainError('forbidden', 'This token cannot read the audit trail; an admin token can');
}

export function auditEventsRouter(deps: { audit: AuditService; clock: Clock; maxResults: number; cursorTtlSeconds: number }): Router {
  const router = Router({ mergeParams: true });

  router.get('/AuditEvents', async (req, res) => {
    requireAudit(res);
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, deps.maxResults);
    const criteria = { filter: params.filter, sortBy: params.sortBy };
    const projection = projectionFor(auditEventResourceType, params.attributes, params.excludedAttributes);
    const descending = params.sortOrder === 'descending';
    const render = (events: StoredAuditEvent[]) => events.map((e) => projection.apply(toAuditEventResource(e, scimBase)));
    const total = async (pageLength: number, nextCursor?: string) => totalProvenByPage(params, pageLength, nextCursor) ?? (await deps.audit.count(accountId, params.filter));
    if (params.count === 0) {
      sendScim(res, 200, listResponse([], await total(0), params.cursor === undefined ? params.startIndex : undefined));
      return;
    }
    if (params.cursor === undefined) {
      const events = await deps.audit.list(accountId, { ...criteria, descending, offset: params.startIndex - 1, limit: params.count });
      sendScim(res, 200, listResponse(render(events), await total(events.length), params.startIndex));
      return;
    }
    const { page, extra } = await cursorPage(
      { cursor: params.cursor, count: params.count, descending, queryKey: [accountId, 'AuditEvents', params.filter ?? '', params.sortOrder], now: deps.clock.now(), ttlSeconds: deps.cursorTtlSeconds },
      (q) => deps.audit.list(accountId, { ...criteria, ...q }),
    );
    sendScim(res, 200, listResponse(render(page), await total(page.length, extra.nextCursor), undefined, extra));
  });

  router.get('/AuditEvents/:id', async (req, res) => {
    requireAudit(res);
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, 1);
    const projection = projectionFor(auditEventResourceType, params.attributes, params.excludedAttributes);
    sendScim(res, 200, projection.apply(toAuditEventResource(await deps.audit.get(accountId, req.params.id!), scimBase)));
  });

  // The trail is written by the changes themselves, never through this endpoint.
  refuseOtherMethods(router, ['/AuditEvents', '/AuditEvents/:id'], ['GET']);
  return router;
}
