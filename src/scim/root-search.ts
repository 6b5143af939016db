import type { Request, Response, Router } from 'express';
import { DomainError, isScimType, type DomainErrorKind } from '../domain/errors.js';
import type { Dispatch } from '../http/dispatch.js';
import { parseListParams } from './list-params.js';
import type { JsonObject } from './resource-input.js';
import { listResponse, sendScim } from './scim-http.js';
import { URN } from './urns.js';
import { namesAttributeOf } from './projection.js';
import { resourceTypes } from './schemas.js';
import type { ResourceTypeDef } from '../domain/scim-schema.js';

/** The resource types a root search runs over, in the order their results are listed. */
const searchedEndpoints = ['/Users', '/Groups'];
const searchedTypes: Record<string, ResourceTypeDef> = { '/Users': resourceTypes.user, '/Groups': resourceTypes.group };

/**
 * The search body for one type: `attributes` and `excludedAttributes` keep the names that type knows (a root search
 * may name `userName` and `displayName` together). A name no searched type knows is refused.
 */
function bodyPerType(body: JsonObject, params: { attributes: string[]; excludedAttributes: string[] }): Map<string, JsonObject> {
  for (const name of [...params.attributes, ...params.excludedAttributes]) {
    if (!searchedEndpoints.some((endpoint) => namesAttributeOf(searchedTypes[endpoint], name))) {
      throw new DomainError('invalidValue', `'${name}' in attributes or excludedAttributes is no attribute of Users or Groups`);
    }
  }
  return new Map(
    searchedEndpoints.map((endpoint) => {
      const known = (names: string[]) => names.filter((name) => namesAttributeOf(searchedTypes[endpoint], name));
      const out: JsonObject = { ...body };
      // None known to this type: its resources show only what is always returned (id), as the names asked for.
      if (params.attributes.length > 0) out.attributes = known(params.attributes).length > 0 ? known(params.attributes) : ['id'];
      if (params.excludedAttributes.length > 0) out.excludedAttributes = known(params.excludedAttributes);
      return [endpoint, out];
    }),
  );
}

type Reply = Awaited<ReturnType<Dispatch>>;

const kindByStatus: Record<number, DomainErrorKind> = { 400: 'invalidSyntax', 401: 'unauthorized', 403: 'forbidden', 404: 'notFound', 409: 'conflict', 413: 'payloadTooLarge' };

/** A replayed search's error answer, as the DomainError that would have produced it. */
function errorOf(reply: Reply): DomainError | undefined {
  if (reply.status < 400) return undefined;
  const body = (reply.body ?? {}) as { scimType?: string; detail?: string };
  const kind = body.scimType && isScimType(body.scimType) ? body.scimType : (kindByStatus[reply.status] ?? 'internal');
  return new DomainError(kind, body.detail ?? `The search failed with status ${reply.status}`);
}

/** Headers that make a replayed request act for the same client, at the same origin (see loopback-dispatch). */
export function forwardedHeaders(req: Request): Record<string, string> {
  return {
    authorization: req.get('Authorization') ?? '',
    'content-type': 'application/scim+json',
    ...(req.get('Host') ? { host: req.get('Host')! } : {}),
    'x-forwarded-proto': req.protocol,
  };
}

/**
 * POST /.search at the SCIM root (RFC 7644 §3.4.3): the same search against every resource type, each through its
 * own /.search endpoint (so filters, projection and limits are exactly theirs), listed users first, then groups.
 * A type whose schema cannot express the filter (`userName eq …` against groups) or that the token may not read
 * contributes nothing; when no type accepts the search, the first type's error is the answer. sortBy orders
 * within each type; cursors are per type (RFC 9865 binds a cursor to one query), so they are refused here.
 */
export function mountRootSearch(router: Router, dispatch: Dispatch): void {
  router.post('/.search', async (req: Request, res: Response) => {
    const body = (req.body ?? {}) as JsonObject;
    if (!Array.isArray(body.schemas) || !body.schemas.includes(URN.searchRequest)) throw new DomainError('invalidSyntax', `A search request must use schema ${URN.searchRequest}`);
    const params = parseListParams(body, Number.MAX_SAFE_INTEGER);
    if (params.cursor !== undefined) throw new DomainError('invalidValue', 'Cursor pagination is per resource type: use /Users/.search or /Groups/.search');
    const headers = forwardedHeaders(req);
    const bodies = bodyPerType(body, params);
    const search = (endpoint: string, startIndex: number, count: number) =>
      dispatch({ method: 'POST', url: `${req.baseUrl}${endpoint}/.search`, headers, body: { ...bodies.get(endpoint), startIndex, count } });

    const totals: { endpoint: string; total: number }[] = [];
    let firstError: DomainError | undefined;
    for (const endpoint of searchedEndpoints) {
      const reply = await search(endpoint, 1, 0);
      const error = errorOf(reply);
      if (error) {
        // Only "this type cannot run it" is skipped; anything else (a bad count, a server error) is the answer.
        if (error.status !== 403 && error.scimType !== 'invalidFilter') throw error;
        firstError ??= error;
        continue;
      }
      totals.push({ endpoint, total: Number((reply.body as JsonObject).totalResults ?? 0) });
    }
    if (totals.length === 0) throw firstError ?? new DomainError('forbidden', 'This token cannot search any resource type');

    const resources: unknown[] = [];
    let skip = params.startIndex - 1;
    let remaining = params.count;
    for (const { endpoint, total } of totals) {
      if (remaining <= 0) break;
      if (skip >= total) {
        skip -= total;
        continue;
      }
      const want = Math.min(remaining, total - skip);
      const reply = await search(endpoint, skip + 1, want);
      const error = errorOf(reply);
      if (error) throw error;
      const page = ((reply.body as JsonObject).Resources ?? []) as unknown[];
      resources.push(...page);
      remaining -= want;
      skip = 0;
      // The type capped the page at its maxResults: stop here so that the next startIndex continues contiguously.
      if (page.length < want) break;
    }
    sendScim(res, 200, listResponse(resources, totals.reduce((n, t) => n + t.total, 0), params.startIndex));
  });
}
