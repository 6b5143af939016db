import type { IncomingMessage, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import type { Logger } from '../lib/logger.js';
import type { RequestContext } from './request-context.js';
import { authenticateScim, type ScimAuthDeps } from './auth.js';
import { respondWithError } from './error-handler.js';
import { instrumentRequest } from './instrumentation.js';
import type { NodeMiddleware } from './request-guards.js';
import type { Metrics } from '../services/metrics.js';

/** An authenticated request, whichever way it arrived (express, or the direct dispatch). */
export interface ScimRead {
  ctx: RequestContext;
  /** Query parameters as node's querystring parses them (express's "simple" query parser). */
  query: Record<string, unknown>;
  /** Path parameters, decoded. */
  params: Record<string, string>;
  req: IncomingMessage;
  /** The parsed JSON body of a POST, PUT or PATCH (parsed and checked by the app's one body parser and guards). */
  body?: unknown;
}

/** A request the app serves at both SCIM bases without the SCIM routers, and without express where it can. */
export interface FlatScimRoute {
  /** GET when left out. */
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the SCIM base, with `:name` parameters, e.g. /Users/:id */
  path: string;
  handle(read: ScimRead, res: ServerResponse): Promise<void>;
}

export interface DirectDispatchDeps {
  routes: readonly FlatScimRoute[];
  auth: ScimAuthDeps;
  logger: Logger;
  metrics: Metrics;
  /**
   * What express runs around the SCIM routes for a request with a body, in its order: `parse` before authentication
   * (the body parser with its size limit, depth and NUL checks), `check` after it (the PATCH operations cap).
   */
  body: { parse: NodeMiddleware; check: NodeMiddleware };
}

/** Runs one middleware as a promise: its error (thrown or passed to next) rejects. */
const run = (middleware: NodeMiddleware, req: IncomingMessage, res: ServerResponse): Promise<void> =>
  new Promise((resolve, reject) => middleware(req, res, (error) => (error === undefined ? resolve() : reject(error))));

interface CompiledRoute {
  pattern: RegExp;
  names: string[];
  route: FlatScimRoute;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Answers the flat SCIM routes (GET /Users and /Users/{id}, and an identity provider's writes: POST /Users,
 * PUT, PATCH and DELETE /Users/{id}) straight from node's request, in front of express, through the same body
 * parser and guards, authentication, handlers, response writer, error bodies, request id, metrics and log line.
 * Only the canonical form is taken here (exact case, no trailing slash, well-formed escapes); anything else
 * returns false and goes to express, which serves the same routes with its usual leniency.
 */
export function directDispatch(deps: DirectDispatchDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const compiled: CompiledRoute[] = deps.routes.map((route) => {
    const names: string[] = [];
    const path = route.path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return escapeRegExp(segment);
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    return { pattern: new RegExp(`^/(?:accounts/([^/]+)/)?scim/v2${path}$`), names, route };
  });
  return (req, res) => {
    const method = req.method;
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    for (const { pattern, names, route } of compiled) {
      if ((route.method ?? 'GET') !== method) continue;
      const match = pattern.exec(path);
      if (!match) continue;
      let accountId: string | undefined;
      const params: Record<string, string> = {};
      try {
        accountId = match[1] === undefined ? undefined : decodeURIComponent(match[1]);
        names.forEach((name, i) => (params[name] = decodeURIComponent(match[i + 2])));
      } catch {
        return false;
      }
      // The same route label express gives these routes when it serves them.
      const label = `${accountId === undefined ? '' : '/accounts/:accountId'}/scim/v2${route.path}`;
      const requestId = instrumentRequest(deps, req, res, () => label);
      const query = queryAt === -1 ? {} : querystring.parse(url.slice(queryAt + 1));
      // Every SCIM request but a flat GET passes express's body parser and guards (a DELETE's body too).
      const handled = method !== 'GET'
        ? (async () => {
            await run(deps.body.parse, req, res);
            const ctx = await authenticateScim(deps.auth, req, accountId, requestId);
            await run(deps.body.check, req, res);
            await route.handle({ ctx, query, params, req, body: (req as IncomingMessage & { body?: unknown }).body }, res);
          })()
        : authenticateScim(deps.auth, req, accountId, requestId).then((ctx) => route.handle({ ctx, query, params, req }, res));
      handled.catch((error: unknown) => respondWithError(deps.logger, error, req, res, requestId));
      return true;
    }
    return false;
  };
}
