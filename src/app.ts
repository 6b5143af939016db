import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Deps } from './deps.js';
import { DomainError } from './domain/errors.js';
import { scimAuth, type ScimAuthDeps } from './http/auth.js';
import { directDispatch } from './http/direct-dispatch.js';
import type { ScimRead } from './http/direct-dispatch.js';
import { contextOf } from './http/request-context.js';
import { instrumentRequest } from './http/instrumentation.js';
import { errorHandler } from './http/error-handler.js';
import { sendError } from './scim/scim-http.js';
import { bulkRouter } from './scim/bulk-router.js';
import type { Dispatch } from './http/dispatch.js';
import { loopbackDispatch } from './http/loopback-dispatch.js';
import { checkRequestLine, jsonBody, patchOperationsCap, setSecurityHeaders } from './http/request-guards.js';
import { respondWithError } from './http/error-handler.js';
import { ping } from './db/database.js';
import { csvBodyOf } from './scim/imports-router.js';

/** The Prometheus text of the registry. */
export async function serveMetrics(metrics: Deps['metrics'], res: ServerResponse): Promise<void> {
  const text = await metrics.registry.metrics();
  res.setHeader('Content-Type', metrics.registry.contentType);
  res.end(text);
}

/**
 * The HTTP request listener, built from its dependencies; never listens (server.ts and tests do). The flat SCIM
 * GETs are answered in front of express when their path is canonical (src/http/direct-dispatch.ts); express
 * serves everything else, those routes included.
 */
export function createApp(deps: Deps): RequestListener {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);
  app.set('query parser', 'simple');
  // SCIM resources carry their own ETag (meta.version); hashing every other body for one is wasted work.
  app.set('etag', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    res.locals.requestId = instrumentRequest(deps, req, res, () => (req.route?.path as string | undefined) ?? 'unmatched');
    next();
  });

  // Bodies are JSON whatever the client labels them (Entra sends application/scim+json, scripts often nothing),
  // except a CSV file, which POST /Imports streams itself (its own size limit, IMPORT_MAX_BYTES).
  const json = jsonBody(config.bodyLimitBytes, { type: (req) => !csvBodyOf(req.headers['content-type']).csv });

  const authDeps: ScimAuthDeps = { tokens: deps.tokens, accounts: deps.accounts, publicUrl: config.publicUrl, limits: deps.rateLimits, sessions: deps.sessions };
  const auth = scimAuth(authDeps);
  const scimBases = ['/scim/v2', '/accounts/:accountId/scim/v2'];
  const patchCap = patchOperationsCap(config.limits.patchMaxOperations);
  // GETs carry no body: no JSON parser on the flat GETs. The others pass what the SCIM routers' requests pass.
  for (const route of deps.flatScimRoutes) {
    const method = route.method ?? 'GET';
    const guards = method === 'GET' ? [auth] : [json, auth, patchCap];
    for (const base of scimBases) {
      app[method.toLowerCase() as Lowercase<typeof method>](
        `${base}${route.path}`,
        ...guards,
        (req: Request, res: Response) =>
          route.handle({ ctx: contextOf(res), query: req.query as ScimRead['query'], params: req.params as Record<string, string>, req, body: req.body as unknown }, res),
      );
    }
  }

  const scim = express.Router({ mergeParams: true });
  // In the composition root's order (Users and Groups first: they carry the traffic, and express tries routers in order).
  for (const mount of deps.scimRouters) scim.use(mount);
  // Bulk is built here, not in createDeps: it forwards each operation through this app's own listener.
  const dispatch: Dispatch = loopbackDispatch((req, res) => listener(req, res));
  scim.use(bulkRouter({ dispatch, maxOperations: config.scim.bulkMaxOperations, maxPayloadBytes: config.scim.bulkMaxPayloadBytes }));
  scim.use((req: Request) => {
    throw new DomainError('notFound', `There is no SCIM endpoint for ${req.method} ${req.path}`);
  });

  // The SCIM bases first: they carry the traffic, and no other route lives under them (the scim router ends in a
  // 404), so the health, metrics and public routes need not be tried before them.
  for (const base of scimBases) app.use(base, json, auth, patchCap, scim);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await ping(deps.db.knex);
      res.json({ status: 'ready', database: deps.db.kind });
    } catch (error) {
      logger.warn({ err: error }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', database: deps.db.kind });
    }
  });
  // Metrics name routes, volumes and the process: not for anonymous clients on the main address (an operator
  // token here, or anyone on METRICS_ADDRESS, a listener of its own: src/server.ts).
  app.get('/metrics', auth, async (_req, res) => {
    if (contextOf(res).principal.role !== 'operator') throw new DomainError('forbidden', '/metrics needs an operator token (or the METRICS_ADDRESS listener)');
    await serveMetrics(metrics, res);
  });

  for (const router of deps.publicRouters) app.use(router);

  app.use(json);

  app.use((req: Request, res: Response) => {
    sendError(res, new DomainError('notFound', `There is no endpoint for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));

  const direct = directDispatch({ routes: deps.flatScimRoutes, auth: authDeps, logger, metrics, body: { parse: json, check: patchCap } });
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    setSecurityHeaders(res);
    const refused = checkRequestLine(req);
    if (refused) return respondWithError(logger, refused, req, res, '');
    if (!direct(req, res)) app(req, res);
  };
  return listener;
}
