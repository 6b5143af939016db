import { Router, type Request, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { auditActorOf, hasCapability } from '../domain/principal.js';
import type { StoredGroup, GroupMember, ListedGroup } from '../db/groups-repo.js';
import { cursorPage } from './cursor.js';
import { totalProvenByPage } from './list-total.js';
import type { GroupService } from '../services/group-service.js';
import { contextOf } from '../http/request-context.js';
import { parseListParams, type ListParams } from './list-params.js';
import { parsePatchRequest, planGroupPatch } from './patch/index.js';
import { projectionFor } from './projection.js';
import { coerceResource, type JsonObject } from './resource-input.js';
import { resourceTypes } from './schemas.js';
import { etagOf, ifMatchVersion, listResponse, notModified, sendScim } from './scim-http.js';
import { URN } from './urns.js';
import { refuseOtherMethods } from './method-not-allowed.js';

const rt = resourceTypes.group;

function toGroupResource(group: StoredGroup, members: GroupMember[] | undefined, scimBase: string): JsonObject {
  return {
    ...group.data,
    schemas: [URN.group],
    id: group.id,
    ...(group.externalId ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    ...(members && members.length > 0
      ? { members: members.map((m) => ({ value: m.value, ...(m.display ? { display: m.display } : {}), $ref: `${scimBase}/${m.type === 'Group' ? 'Groups' : 'Users'}/${m.value}`, type: m.type })) }
      : {}),
    meta: {
      resourceType: 'Group',
      created: group.createdAt.toISOString(),
      lastModified: group.updatedAt.toISOString(),
      location: `${scimBase}/Groups/${group.id}`,
      version: etagOf(group.version),
    },
  };
}

/** The non-member attributes of an incoming group document. */
function groupData(input: JsonObject): JsonObject {
  const data = { ...input };
  for (const key of ['schemas', 'id', 'meta', 'displayName', 'externalId', 'members']) delete data[key];
  return data;
}

/** cursorTtlSeconds: RFC 9865 cursor lifetime; the default is the configuration's (SCIM_CURSOR_TTL_SECONDS). */
export function groupsRouter(deps: { groups: GroupService; maxResults: number; cursorTtlSeconds?: number }): Router {
  const cursorTtlSeconds = deps.cursorTtlSeconds ?? 3600;
  const router = Router({ mergeParams: true });
  const { groups } = deps;
  const requireGroups = (res: Response) => {
    if (!hasCapability(contextOf(res).principal, 'groups')) throw new DomainError('forbidden', 'This token cannot manage groups');
  };
  const respond = async (req: Request, res: Response, status: number, id: string) => {
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, 1);
    const projection = projectionFor(rt, params.attributes, params.excludedAttributes);
    const group = await groups.get(accountId, id);
    if (status === 200 && notModified(req, group.version)) {
      sendScim(res, 304, undefined, { ETag: etagOf(group.version) });
      return;
    }
    const members = projection.includes('members') ? (await groups.members(accountId, [id])).get(id) ?? [] : undefined;
    const headers: Record<string, string> = { ETag: etagOf(group.version) };
    if (status === 201) headers.Location = `${scimBase}/Groups/${id}`;
    sendScim(res, status, projection.apply(toGroupResource(group, members, scimBase)), headers);
  };

  const list = async (res: Response, params: ListParams) => {
    const { accountId, scimBase } = contextOf(res);
    const projection = projectionFor(rt, params.attributes, params.excludedAttributes);
    const descending = params.sortOrder === 'descending';
    const base = { filter: params.filter, sortBy: params.sortBy, offset: 0 };
    let page: ListedGroup[] = [];
    const extra: JsonObject = {};
    if (params.count === 0) {
      page = [];
    } else if (params.cursor === undefined) {
      page = await groups.list(accountId, { ...base, descending, offset: params.startIndex - 1, limit: params.count });
    } else {
      // RFC 9865 cursors, as for users: a keyset position bound to the filter and sort it came from.
      const queryKey = [accountId, 'Groups', params.filter ?? '', params.sortBy ?? '', params.sortOrder];
      const paged = await cursorPage(
        { cursor: params.cursor, count: params.count, descending, queryKey, now: groups.now(), ttlSeconds: cursorTtlSeconds },
        (q) => groups.list(accountId, { ...base, ...q }),
      );
      page = paged.page;
      Object.assign(extra, paged.extra);
    }
    const total = totalProvenByPage(params, page.length, extra.nextCursor as string | undefined) ?? (await groups.count(accountId, params.filter));
    const members = projection.includes('members') ? await groups.members(accountId, page.map((g) => g.id)) : undefined;
    const resources = page.map((g) => projection.apply(toGroupResource(g, members ? members.get(g.id) ?? [] : undefined, scimBase)));
    sendScim(res, 200, listResponse(resources, total, params.cursor === undefined ? params.startIndex : undefined, extra));
  };

  router.get('/Groups', async (req, res) => {
    requireGroups(res);
    await list(res, parseListParams(req.query as JsonObject, deps.maxResults));
  });
  router.post('/Groups/.search', async (req, res) => {
    requireGroups(res);
    await list(res, parseListParams((req.body ?? {}) as JsonObject, deps.maxResults));
  });
  router.post('/Groups', async (req, res) => {
    requireGroups(res);
    const { accountId, principal } = contextOf(res);
    const input = coerceResource(req.body, rt);
    const members = Array.isArray(input.members) ? (input.members as { value: string }[]) : [];
    const group = await groups.create(accountId, auditActorOf(principal), {
      displayName: String(input.displayName),
      externalId: typeof input.externalId === 'string' ? input.externalId : null,
      data: groupData(input),
      members,
    });
    await respond(req, res, 201, group.id);
  });
  router.get('/Groups/:id', async (req, res) => {
    requireGroups(res);
    await respond(req, res, 200, req.params.id);
  });
  router.put('/Groups/:id', async (req, res) => {
    requireGroups(res);
    const { accountId, principal } = contextOf(res);
    const input = coerceResource(req.body, rt);
    const members = Array.isArray(input.members) ? (input.members as { value: string }[]) : [];
    await groups.update(accountId, auditActorOf(principal), req.params.id, ifMatchVersion(req), () => ({
      displayName: String(input.displayName),
      externalId: typeof input.externalId === 'string' ? input.externalId : null,
      data: groupData(input),
      attributesChanged: true,
      members: members.length > 0 ? { replaceAll: members, add: [], remove: [], removeAll: false } : { add: [], remove: [], removeAll: true },
    }));
    await respond(req, res, 200, req.params.id);
  });
  router.patch('/Groups/:id', async (req, res) => {
    requireGroups(res);
    const { accountId, principal } = contextOf(res);
    const ops = parsePatchRequest(req.body);
    const version = await groups.update(accountId, auditActorOf(principal), req.params.id, ifMatchVersion(req), (current) => {
      const plan = planGroupPatch(ops, { id: current.id, displayName: current.displayName, externalId: current.externalId, data: current.data as never });
      const attrs = plan.attributes as JsonObject;
      return {
        displayName: String(attrs.displayName ?? current.displayName),
        externalId: typeof attrs.externalId === 'string' ? attrs.externalId : null,
        data: groupData(attrs),
        attributesChanged: plan.attributesChanged,
        members: plan.members,
      };
    });
    const params = parseListParams(req.query as JsonObject, 1);
    if (params.attributes.length > 0 || params.excludedAttributes.length > 0) await respond(req, res, 200, req.params.id);
    else {
      // RFC 7644 §3.5.2 and §3.14: a 204 still carries the resource's new version as its ETag.
      sendScim(res, 204, undefined, { ETag: etagOf(version) });
    }
  });
  router.delete('/Groups/:id', async (req, res) => {
    requireGroups(res);
    const { accountId, principal } = contextOf(res);
    await groups.delete(accountId, auditActorOf(principal), req.params.id, ifMatchVersion(req));
    sendScim(res, 204);
  });
  refuseOtherMethods(router, '/Groups', ['GET', 'POST']);
  refuseOtherMethods(router, '/Groups/.search', ['POST']);
  refuseOtherMethods(router, '/Groups/:id', ['GET', 'PUT', 'PATCH', 'DELETE']);
  return router;
}
