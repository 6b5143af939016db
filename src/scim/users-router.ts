import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FlatScimRoute, ScimRead } from '../http/direct-dispatch.js';
import { Router, type Request, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { auditActorOf, hasCapability, writerOf, type Principal } from '../domain/principal.js';
import type { Account } from '../domain/account.js';
import { changedAttributes, type Writer } from '../domain/ownership.js';
import { EXTENSION_URNS } from '../domain/user-document.js';
import { adminOnlyRightsViolation, keepAdminOnlyAttributes, SELF_DELETE_REFUSAL, welcomesOnCreate } from '../domain/user-rules.js';
import type { Trx } from '../db/database.js';
import type { StoredUser, WrittenUser } from '../db/users-repo.js';
import type { UserListRequest, UserService } from '../services/user-service.js';
import type { Clock } from '../lib/clock.js';
import { abandonedSignal, contextOf, type RequestContext } from '../http/request-context.js';
import { cursorPage } from './cursor.js';
import { totalProvenByPage } from './list-total.js';
import { parseListParams, type ListParams } from './list-params.js';
import { applyPatch, parsePatchRequest } from './patch/index.js';
import { projectionFor } from './projection.js';
import { coerceResource, type JsonObject } from './resource-input.js';
import { resourceTypes } from './schemas.js';
import { etagOf, ifMatchVersion, listResponse, notModified, sendScim } from './scim-http.js';
import { toUserResource, withBase } from '../domain/user-resource.js';
import { acceptsCsv, exportUsersCsv } from './users-csv-export.js';
import { URN } from './urns.js';
import { refuseOtherMethods } from './method-not-allowed.js';
import type { Abandonment } from '../lib/abandonment.js';

const rt = resourceTypes.user;

export interface UsersRouterDeps {
  users: UserService;
  clock: Clock;
  maxResults: number;
  cursorTtlSeconds: number;
  /**
   * The seed's Add User sends the new user a welcome email: called in the creating transaction for users an admin
   * creates (identity providers' pushes are not welcomed here; admins send those with the sendWelcomeEmail action).
   */
  welcomeCreatedUser?: (trx: Trx, account: Account, user: StoredUser, writer: Writer & { type: 'admin' }) => Promise<unknown>;
}

/** Reads the write-only password out of an incoming document. */
function takePassword(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'password');
  const value = key ? (body as JsonObject)[key] : undefined;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new DomainError('invalidValue', 'password must be a string');
  return value;
}

export async function writerFor(users: UserService, trx: Trx | undefined, accountId: string, principal: Principal): Promise<Writer> {
  if (principal.role === 'provisioning') return users.scimWriter(trx, accountId, writerOf(principal));
  const { actor, writer } = auditActorOf(principal);
  return { type: 'admin', actor, via: writer === 'source' ? 'token' : writer };
}

/** Users list for GET /Users and POST /Users/.search: SQL filter, stable order, index or RFC 9865 cursor paging. */
export async function listUsers(deps: UsersRouterDeps, accountId: string, scimBase: string, params: ListParams, abandoned?: Abandonment): Promise<JsonObject> {
  const descending = params.sortOrder === 'descending';
  const projection = projectionFor(rt, params.attributes, params.excludedAttributes);
  const counting = { abandoned, limit: params.totalResultsLimit };
  // totalResultsLimit (the console's): past it, totalResults is the limit and says so. A list without a filter
  // reads the account's user count, exact at no cost.
  const counted = (n: number): { totalResults: number; extra: JsonObject } =>
    params.filter !== undefined && params.totalResultsLimit !== undefined && n > params.totalResultsLimit
      ? { totalResults: params.totalResultsLimit, extra: { totalResultsLimited: true } }
      : { totalResults: n, extra: {} };
  const total = async (proven: number | undefined) => counted(proven ?? (await deps.users.count(accountId, params.filter, counting)));
  if (params.count === 0) {
    const { totalResults, extra } = await total(undefined);
    return listResponse([], totalResults, params.cursor === undefined ? params.startIndex : undefined, extra);
  }
  // The stored representations (users.resource): a list never shows the raw source records (`advanced`).
  const list = (query: Omit<UserListRequest, 'withGroups'>) => deps.users.listResources(accountId, { ...query, abandoned });
  const base = { filter: params.filter, sortBy: params.sortBy };
  if (params.cursor === undefined) {
    // One literal, not `{ ...base, … }`: that spread was 1.3 % of a `userName eq` lookup's CPU (profile, 10,000 lookups).
    const rows = await list({ filter: params.filter, sortBy: params.sortBy, descending, offset: params.startIndex - 1, limit: params.count });
    const { totalResults, extra } = await total(totalProvenByPage(params, rows.length, undefined));
    return listResponse(rows.map((u) => projection.apply(withBase(u.resource, scimBase))), totalResults, params.startIndex, extra);
  }
  const queryKey = [accountId, params.filter ?? '', params.sortBy ?? '', params.sortOrder];
  const { page, extra: cursors } = await cursorPage(
    { cursor: params.cursor, count: params.count, descending, queryKey, now: deps.clock.now(), ttlSeconds: deps.cursorTtlSeconds },
    (q) => list({ ...base, ...q }),
  );
  const { totalResults, extra } = await total(totalProvenByPage(params, page.length, cursors.nextCursor));
  return listResponse(page.map((u) => projection.apply(withBase(u.resource, scimBase))), totalResults, undefined, { ...extra, ...cursors });
}

/**
 * A `user` token raising its own rights (RFC 7644 §3.11 leaves /Me's limits to the provider), or an identity
 * provider's `provisioning` token setting roles, licences or SMS numbers: 403 naming the attribute.
 */
function refuseSelfGrantedRights(principal: Principal, before: JsonObject, next: JsonObject): void {
  if (principal.role !== 'user' && principal.role !== 'provisioning') return;
  const violation = adminOnlyRightsViolation(principal.role, before, next);
  if (violation) throw new DomainError('forbidden', violation);
}

function requireUsers(ctx: RequestContext): void {
  if (!hasCapability(ctx.principal, 'users')) throw new DomainError('forbidden', 'This token cannot manage users');
}

async function getOne(users: UserService, ctx: RequestContext, query: JsonObject, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const params = parseListParams(query, 1);
  const projection = projectionFor(rt, params.attributes, params.excludedAttributes);
  // The raw source records (`advanced`, only when asked for) are read from the links; anything else is the stored representation.
  const { version, resource } = projection.includes('advanced', URN.switchboardUser)
    ? await users.get(ctx.accountId, id, true, true).then((view) => ({ version: view.version, resource: () => toUserResource(view, ctx.scimBase) }))
    : await users.getResource(ctx.accountId, id).then((found) => ({ version: found.version, resource: () => withBase(found.resource, ctx.scimBase) }));
  if (notModified(req, version)) {
    sendScim(res, 304, undefined, { ETag: etagOf(version) });
    return;
  }
  sendScim(res, 200, projection.apply(resource()), { ETag: etagOf(version) });
}

/**
 * The two reads identity providers repeat all day (GET by id, and the `userName eq` lookup before every create),
 * answered outside the SCIM routers: each router level costs a path trim and restore, a params merge and a layer
 * walk, and express's own request set-up as much again, together as much as the SQL round trip of a GET by id.
 */
export function usersReadRoutes(deps: UsersRouterDeps): FlatScimRoute[] {
  return [
    {
      path: '/Users',
      async handle({ ctx, query, req }, res) {
        requireUsers(ctx);
        if (acceptsCsv(req.headers.accept)) {
          await exportUsersCsv(deps.users, ctx.accountId, parseListParams(query, deps.maxResults), res);
          return;
        }
        sendScim(res, 200, await listUsers(deps, ctx.accountId, ctx.scimBase, parseListParams(query, deps.maxResults), abandonedSignal(res)));
      },
    },
    {
      path: '/Users/:id',
      async handle({ ctx, query, params, req }, res) {
        requireUsers(ctx);
        await getOne(deps.users, ctx, query, req, res, params.id);
      },
    },
  ];
}

/** The user's stored representation after a write: the one the write stored, else (the row unchanged) read. */
async function respondWritten(users: UserService, ctx: RequestContext, query: JsonObject, res: ServerResponse, status: number, id: string, written?: WrittenUser): Promise<void> {
  const found = written?.resource ? { id, version: written.version, resource: written.resource } : await users.getResource(ctx.accountId, id);
  const params = parseListParams(query, 1);
  const body = projectionFor(rt, params.attributes, params.excludedAttributes).apply(withBase(found.resource, ctx.scimBase));
  const headers: Record<string, string> = { ETag: etagOf(found.version) };
  if (status === 201) headers.Location = `${ctx.scimBase}/Users/${found.id}`;
  sendScim(res, status, body, headers);
}

async function create(deps: UsersRouterDeps, { ctx, query, body }: ScimRead, res: ServerResponse): Promise<void> {
  const { users } = deps;
  requireUsers(ctx);
  const { accountId, principal } = ctx;
  const password = takePassword(body);
  const input = coerceResource(body, rt);
  refuseSelfGrantedRights(principal, {}, input);
  const writer = await writerFor(users, undefined, accountId, principal);
  // A new user: a write of its own (an identity provider's push, as few round trips as it can), or the admin's
  // new user with its welcome email in one transaction (the seed's Add User: the account read once, for both).
  const result = writer.type !== 'admin' || !welcomesOnCreate(writer) || !deps.welcomeCreatedUser
    ? await users.apply(undefined, accountId, writer, undefined, input, { password })
    : await users.transaction(async (trx) => {
        const account = await users.account(trx, accountId);
        const created = await users.apply(trx, accountId, writer, undefined, input, { password, account });
        await deps.welcomeCreatedUser!(trx, account, created.user, writer);
        return created;
      });
  await respondWritten(users, ctx, query, res, 201, result.user.id, result.user);
}

async function replace(users: UserService, { ctx, query, req, body }: ScimRead, res: ServerResponse, id: string): Promise<void> {
  const { accountId, principal } = ctx;
  const password = takePassword(body);
  // The body coerced once more for each further attempt: keepAdminOnlyAttributes fills in the one it is given.
  let coerced: JsonObject | undefined = coerceResource(body, rt);
  // A write of its own, planned on the user as read and applied only to that version (else read and planned again).
  const result = await users.retryLostRaces(async () => {
    const next = coerced ?? coerceResource(body, rt);
    coerced = undefined;
    const { user: current, links } = await users.findWithLinks(accountId, id);
    if (next.id !== undefined && next.id !== id) throw new DomainError('mutability', 'id cannot be changed');
    // An identity provider's whole user never states these: what it leaves out stays as the admin set it.
    if (principal.role === 'provisioning') keepAdminOnlyAttributes(current.doc, next);
    refuseSelfGrantedRights(principal, current.doc, next);
    const writer = await writerFor(users, undefined, accountId, principal);
    return users.apply(undefined, accountId, writer, current, next, { password, ifMatch: ifMatchVersion(req), links });
  });
  await respondWritten(users, ctx, query, res, 200, id, result.user);
}

async function patch(users: UserService, { ctx, query, req, body }: ScimRead, res: ServerResponse, id: string): Promise<void> {
  const { accountId, principal } = ctx;
  // A write of its own, planned on the user as read and applied only to that version (else read and planned again).
  const result = await users.retryLostRaces(async () => {
    const ops = parsePatchRequest(body);
    const { user: current, links } = await users.findWithLinks(accountId, id);
    // password is write-only and never stored in the document: pull it out of the operations first.
    let password: string | undefined;
    const docOps = ops.filter((op) => {
      if (op.path && op.path.toLowerCase() === 'password') {
        if (op.op === 'remove') throw new DomainError('mutability', 'password cannot be removed');
        password = String(op.value);
        return false;
      }
      if (!op.path && op.value && typeof op.value === 'object' && !Array.isArray(op.value)) {
        const key = Object.keys(op.value).find((k) => k.toLowerCase() === 'password');
        if (key) {
          password = String((op.value as JsonObject)[key]);
          const rest = { ...(op.value as JsonObject) };
          delete rest[key];
          op.value = rest as typeof op.value;
        }
      }
      return true;
    });
    const { resource } = applyPatch({ ...current.doc, schemas: current.doc.schemas ?? [URN.user] }, docOps, rt, { id });
    refuseSelfGrantedRights(principal, current.doc, resource as JsonObject);
    const writer = await writerFor(users, undefined, accountId, principal);
    // A source owns what it writes: a PATCH of phoneNumbers claims phoneNumbers, not the rest of the user.
    const wrote = changedAttributes(current.doc, resource as JsonObject, EXTENSION_URNS);
    return users.apply(undefined, accountId, writer, current, resource as JsonObject, { password, ifMatch: ifMatchVersion(req), links, wrote });
  });
  await respondWritten(users, ctx, query, res, 200, id, result.user);
}

async function remove(users: UserService, { ctx, req }: ScimRead, res: ServerResponse, id: string): Promise<void> {
  const { accountId, principal } = ctx;
  // The seed: deleting a user is the admin's ("delete a user"), never a user's own doing through /Me.
  if (principal.role === 'user') throw new DomainError('forbidden', SELF_DELETE_REFUSAL);
  const writer = await users.transaction((trx) => writerFor(users, trx, accountId, principal));
  // 204 says the user is gone: an admin's DELETE of a user that would stay (synced from a source) is 409.
  await users.delete(accountId, writer, id, ifMatchVersion(req), writer.type === 'admin');
  sendScim(res, 204);
}

/**
 * An identity provider's writes, served like the reads above (in front of express when canonical, by express
 * otherwise): the body parser, authentication and PATCH cap are the app's, run in express's order by either.
 */
export function usersWriteRoutes(deps: UsersRouterDeps): FlatScimRoute[] {
  const { users } = deps;
  return [
    { method: 'POST', path: '/Users', handle: (request, res) => create(deps, request, res) },
    {
      method: 'PUT',
      path: '/Users/:id',
      async handle(request, res) {
        requireUsers(request.ctx);
        await replace(users, request, res, request.params.id!);
      },
    },
    {
      method: 'PATCH',
      path: '/Users/:id',
      async handle(request, res) {
        requireUsers(request.ctx);
        await patch(users, request, res, request.params.id!);
      },
    },
    {
      method: 'DELETE',
      path: '/Users/:id',
      async handle(request, res) {
        requireUsers(request.ctx);
        await remove(users, request, res, request.params.id!);
      },
    },
  ];
}

/** Every other /Users and /Me route (the reads and writes above are mounted flat by the app). */
export function usersRouter(deps: UsersRouterDeps): Router {
  const router = Router({ mergeParams: true });
  const { users } = deps;
  /** The request as the shared handlers take it. */
  const requestOf = (req: Request, res: Response): ScimRead => ({ ctx: contextOf(res), query: req.query as JsonObject, params: req.params as Record<string, string>, req, body: req.body as unknown });

  router.post('/Users/.search', async (req, res) => {
    requireUsers(contextOf(res));
    const { accountId, scimBase } = contextOf(res);
    const body = (req.body ?? {}) as JsonObject;
    if (Array.isArray(body.schemas) && !body.schemas.includes(URN.searchRequest)) throw new DomainError('invalidSyntax', `A search request must use schema ${URN.searchRequest}`);
    sendScim(res, 200, await listUsers(deps, accountId, scimBase, parseListParams(body, deps.maxResults), abandonedSignal(res)));
  });

  // /Me (RFC 7644 §3.11): a `user` token acts on its own user.
  const meId = (res: Response): string => {
    const { principal } = contextOf(res);
    if (principal.role !== 'user' || !principal.userId) throw new DomainError('notImplemented', '/Me is available to tokens of role user, which act as one user');
    return principal.userId;
  };
  router.get('/Me', async (req, res) => getOne(users, contextOf(res), req.query as JsonObject, req, res, meId(res)));
  router.put('/Me', async (req, res) => replace(users, requestOf(req, res), res, meId(res)));
  router.patch('/Me', async (req, res) => patch(users, requestOf(req, res), res, meId(res)));
  router.delete('/Me', async (req, res) => remove(users, requestOf(req, res), res, meId(res)));

  refuseOtherMethods(router, '/Users', ['GET', 'POST']);
  refuseOtherMethods(router, '/Users/.search', ['POST']);
  refuseOtherMethods(router, ['/Users/:id', '/Me'], ['GET', 'PUT', 'PATCH', 'DELETE']);
  return router;
}

