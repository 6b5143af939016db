import { Router, type Request, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import type { Dispatch } from '../http/dispatch.js';
import { contextOf } from '../http/request-context.js';
import { errorBody, sendScim } from './scim-http.js';
import { URN } from './urns.js';
import { refuseOtherMethods } from './method-not-allowed.js';
import { forwardedHeaders, mountRootSearch } from './root-search.js';

/** One operation replayed through the app itself, so it gets exactly the behaviour of its own endpoint. */
export type { Dispatch } from '../http/dispatch.js';

interface BulkOperation {
  method: string;
  bulkId?: string;
  version?: string;
  path: string;
  data?: unknown;
}

// An operation's path names a collection or one resource by id: URL-safe characters only (an id is a uuid, a
// bulkId reference is `bulkId:` and unreserved characters). A space, a control character or one above U+00FF
// cannot be replayed as a request line, so it is refused here, before any operation runs.
const allowedPath = /^\/(Users|Groups)(\/[A-Za-z0-9._~:%-]+)?$/;
const bulkRef = /bulkId:([A-Za-z0-9._~-]+)/g;

function referencedIds(value: unknown, found = new Set<string>()): Set<string> {
  if (typeof value === 'string') for (const m of value.matchAll(bulkRef)) found.add(m[1]);
  else if (Array.isArray(value)) value.forEach((v) => referencedIds(v, found));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => referencedIds(v, found));
  return found;
}

function substitute<T>(value: T, ids: Map<string, string>): T {
  if (typeof value === 'string') return value.replace(bulkRef, (all, id: string) => ids.get(id) ?? all) as T;
  if (Array.isArray(value)) return value.map((v) => substitute(v, ids)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, ids)])) as T;
  return value;
}

function validate(raw: unknown, index: number): BulkOperation {
  const op = raw as Partial<BulkOperation> | null;
  const where = `Operations[${index}]`;
  if (!op || typeof op !== 'object') throw new DomainError('invalidSyntax', `${where} must be an object`);
  const method = typeof op.method === 'string' ? op.method.toUpperCase() : '';
  if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) throw new DomainError('invalidSyntax', `${where}.method must be POST, PUT, PATCH or DELETE`);
  if (typeof op.path !== 'string' || !allowedPath.test(op.path)) {
    throw new DomainError('invalidPath', `${where}.path must be /Users, /Groups or /Users/{id}, /Groups/{id} with an id of letters, digits and . _ ~ : % - (got ${JSON.stringify(op.path)})`);
  }
  if (method === 'POST' && (typeof op.bulkId !== 'string' || op.bulkId === '')) throw new DomainError('invalidSyntax', `${where}: a POST needs a bulkId`);
  if (method === 'POST' && /\/[^/]+\/[^/]+$/.test(op.path)) throw new DomainError('invalidPath', `${where}: POST goes to /Users or /Groups`);
  if (method !== 'POST' && !/^\/(Users|Groups)\/[^/]+$/.test(op.path)) throw new DomainError('invalidPath', `${where}: ${method} needs a resource path such as /Users/{id}`);
  if (method !== 'DELETE' && (op.data === undefined || op.data === null)) throw new DomainError('invalidSyntax', `${where}: ${method} needs data`);
  return { method, bulkId: op.bulkId, version: op.version, path: op.path, data: op.data };
}

/** POST /Bulk (RFC 7644 §3.7): bulkId references, failOnErrors, and the advertised limits enforced with 413. */
export function bulkRouter(deps: { dispatch: Dispatch; maxOperations: number; maxPayloadBytes: number }): Router {
  const router = Router({ mergeParams: true });
  router.post('/Bulk', async (req: Request, res: Response) => {
    const { principal, scimBase } = contextOf(res);
    if (principal.role === 'user') throw new DomainError('forbidden', 'This token cannot use /Bulk');
    const length = Number(req.get('Content-Length') ?? 0);
    if (length > deps.maxPayloadBytes) throw new DomainError('payloadTooLarge', `The bulk request is ${length} bytes; the maximum is ${deps.maxPayloadBytes}`);
    const body = req.body as { schemas?: unknown; Operations?: unknown; failOnErrors?: unknown } | null;
    if (!body || !Array.isArray(body.schemas) || !body.schemas.includes(URN.bulkRequest)) throw new DomainError('invalidSyntax', `A bulk request must use schema ${URN.bulkRequest}`);
    if (!Array.isArray(body.Operations)) throw new DomainError('invalidSyntax', 'Operations must be an array');
    if (body.Operations.length > deps.maxOperations) {
      throw new DomainError('payloadTooLarge', `The bulk request has ${body.Operations.length} operations; the maximum is ${deps.maxOperations}`);
    }
    const failOnErrors = body.failOnErrors === undefined ? Infinity : Number(body.failOnErrors);
    if (!Number.isInteger(failOnErrors) && failOnErrors !== Infinity) throw new DomainError('invalidValue', 'failOnErrors must be an integer');
    const operations = body.Operations.map(validate);
    const bulkIds = new Set(operations.filter((o) => o.bulkId).map((o) => o.bulkId!));
    const created = new Map<string, string>();
    const results = new Array<Record<string, unknown>>(operations.length);
    const base = req.baseUrl;
    // Each operation is replayed over a private loopback port: the client's Host and scheme go with it, so the
    // locations and meta.location it answers name the origin the client used, not the loopback listener.
    const headers = forwardedHeaders(req);
    let errors = 0;
    // Operations run in order; one waiting on a bulkId created later is retried after the others (RFC 7644 §3.7.1).
    let pending = operations.map((op, index) => ({ op, index }));
    for (let pass = 0; pass < 2 && pending.length > 0 && errors < failOnErrors; pass++) {
      const deferred: typeof pending = [];
      for (const { op, index } of pending) {
        if (errors >= failOnErrors) break;
        const unresolved = [...referencedIds([op.path, op.data])].filter((id) => !created.has(id));
        if (unresolved.length > 0) {
          const resolvable = unresolved.every((id) => bulkIds.has(id));
          if (pass === 0 && resolvable) {
            deferred.push({ op, index });
            continue;
          }
          errors++;
          results[index] = { method: op.method, ...(op.bulkId ? { bulkId: op.bulkId } : {}), status: '409', response: errorBody(new DomainError('invalidValue', `bulkId ${unresolved.join(', ')} does not name a resource created in this request`)) };
          continue;
        }
        const path = substitute(op.path, created);
        let reply: Awaited<ReturnType<Dispatch>>;
        try {
          reply = await deps.dispatch({
            method: op.method,
            url: `${base}${path}`,
            headers: { ...headers, ...(op.version ? { 'if-match': op.version } : {}) },
            body: op.data === undefined ? undefined : substitute(op.data, created),
          });
        } catch (error) {
          // Earlier operations are committed: this one fails on its own (RFC 7644 §3.7.3), never the whole response.
          errors++;
          results[index] = { method: op.method, ...(op.bulkId ? { bulkId: op.bulkId } : {}), status: '400', response: errorBody(new DomainError('invalidValue', `The operation could not be replayed: ${(error as Error).message}`)) };
          continue;
        }
        const replyBody = reply.body as Record<string, unknown> | undefined;
        // RFC 7644 §3.7.3: location is required in every response but a failed POST; a 204 (DELETE, group PATCH)
        // carries neither a Location header nor a body, so it is the operation's own resource URL.
        const location = (reply.headers.location as string | undefined)
          ?? ((replyBody?.meta as Record<string, unknown> | undefined)?.location as string | undefined)
          ?? (op.method === 'POST' ? undefined : `${scimBase}${path}`);
        if (op.method === 'POST' && reply.status === 201 && replyBody?.id) created.set(op.bulkId!, String(replyBody.id));
        const ok = reply.status < 400;
        if (!ok) errors++;
        results[index] = {
          method: op.method,
          ...(op.bulkId ? { bulkId: op.bulkId } : {}),
          ...(reply.headers.etag ? { version: reply.headers.etag } : {}),
          ...(location ? { location } : {}),
          status: String(reply.status),
          ...(!ok ? { response: replyBody } : {}),
        };
      }
      pending = deferred;
    }
    sendScim(res, 200, { schemas: [URN.bulkResponse], Operations: results.filter((r) => r !== undefined) });
  });
  refuseOtherMethods(router, '/Bulk', ['POST']);
  // The root search replays through the same dispatch, one /.search per resource type.
  mountRootSearch(router, deps.dispatch);
  refuseOtherMethods(router, '/.search', ['POST']);
  return router;
}
