import crypto from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Deps } from './deps.js';
import { DomainError, notFound } from './domain/errors.js';
import { scimAuth } from './http/auth.js';
import { errorHandler } from './http/error-handler.js';
import { sendError } from './scim/scim-http.js';
import { accountsRouter } from './scim/accounts-router.js';
import { discoveryRouter } from './scim/discovery-router.js';
import { tokensRouter } from './scim/tokens-router.js';
import { bulkRouter, type Dispatch } from './scim/bulk-router.js';
import { loopbackDispatch } from './http/loopback-dispatch.js';

/** Builds the express app from its dependencies; never listens (main.ts and tests do). */
export function createApp(deps: Deps): Express {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);
  app.set('query parser', 'simple');
  // SCIM resources carry their own ETag (meta.version); hashing every other body for one is wasted work.
  app.set('etag', false);

  const REQUEST_ID = /^[\w.-]{1,128}$/;
  app.use((req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      // The log line is built only when it would be written (LOG_LEVEL silent or warn: never).
      if (logger.isLevelEnabled('info')) {
        const path = req.path;
        if (path !== '/healthz' && path !== '/metrics') {
          logger.info({ requestId, method: req.method, path, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
        }
      }
    });
    next();
  });

  // Bodies are JSON whatever the client labels them (Entra sends application/scim+json, scripts often nothing).
  const json = express.json({ limit: config.bodyLimitBytes, type: () => true, strict: false });

  const auth = scimAuth({ tokens: deps.tokens, accounts: deps.accounts, publicUrl: config.publicUrl });
  const scimBases = ['/scim/v2', '/accounts/:accountId/scim/v2'];
  // GETs carry no body: no JSON parser on the flat routes.
  for (const route of deps.flatScimRoutes) app[route.method](scimBases.map((base) => `${base}${route.path}`), auth, route.handler);

  const scim = express.Router({ mergeParams: true });
  // Users and Groups first: they carry the traffic, and express tries routers in order.
  for (const mount of deps.scimRouters) scim.use(mount);
  scim.use(discoveryRouter({ resourceTypes: () => deps.resourceTypes, limits: config.scim }));
  scim.use(accountsRouter({ accounts: deps.accounts, maxResults: config.scim.maxResults }));
  scim.use(tokensRouter({ tokens: deps.tokens, maxResults: config.scim.maxResults }));
  const dispatch: Dispatch = loopbackDispatch(app);
  scim.use(bulkRouter({ dispatch, maxOperations: config.scim.bulkMaxOperations, maxPayloadBytes: config.scim.bulkMaxPayloadBytes }));
  scim.use((req: Request) => {
    throw notFound(`No SCIM endpoint ${req.method} ${req.path}`);
  });

  // The SCIM bases first: they carry the traffic, and no other route lives under them (the scim router ends in a
  // 404), so the health, metrics and public routes need not be tried before them.
  for (const base of scimBases) app.use(base, json, auth, scim);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await deps.db.knex.raw('select 1');
      res.json({ status: 'ready', database: deps.db.kind });
    } catch (error) {
      logger.warn({ err: error }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', database: deps.db.kind });
    }
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  for (const router of deps.publicRouters) app.use(router);

  app.use(json);

  app.use((req: Request, res: Response) => {
    sendError(res, new DomainError('notFound', `No endpoint ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));
  return app;
}
