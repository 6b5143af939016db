import type { IncomingMessage, ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import type { Logger } from '../lib/logger.js';
import type { RequestContext } from './request-context.js';
import { authenticateScim, type ScimAuthDeps } from './auth.js';
import { respondWithError } from './error-handler.js';
import { instrumentRequest } from './instrumentation.js';
import type { Metrics } from '../services/metrics.js';

/** An authenticated read, whichever way it arrived (express, or the direct dispatch). */
export interface ScimRead {
  ctx: RequestContext;
  /** Query parameters as node's querystring parses them (express's "simple" query parser). */
  query: Record<string, unknown>;
  /** Path parameters, decoded. */
  params: Record<string, string>;
  req: IncomingMessage;
}

/** A GET the app serves at both SCIM bases without the SCIM routers, and without express where it can. */
export interface FlatScimRoute {
  /** Relative to the SCIM base, with `:name` parameters, e.g. /Users/:id */
  path: string;
  handle(read: ScimRead, res: ServerResponse): Promise<void>;
}

export interface DirectDispatchDeps {
  routes: readonly FlatScimRoute[];
  auth: ScimAuthDeps;
  logger: Logger;
  metrics: Metrics;
}

interface CompiledRoute {
  pattern: RegExp;
  names: string[];
  route: FlatScimRoute;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Answers the flat SCIM GETs (GET /Users, GET /Users/{id}) straight from node's request, in front of express,
 * through the same authentication, handlers, response writer, error bodies, request id, metrics and log line.
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
    if (req.method !== 'GET') return false;
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    for (const { pattern, names, route } of compiled) {
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
      authenticateScim(deps.auth, req, accountId, requestId)
        .then((ctx) => route.handle({ ctx, query, params, req }, res))
        .catch((error: unknown) => respondWithError(deps.logger, error, req, res, requestId));
      return true;
    }
    return false;
  };
}
