import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../services/metrics.js';

const REQUEST_ID = /^[\w.-]{1,128}$/;
const UNLOGGED_PATHS = new Set(['/healthz', '/metrics']);

/**
 * What every request gets, through express or the direct routes: a request id (the client's X-Request-Id when
 * it is sane, else a new one) echoed in the response, and on finish the duration metric (by route pattern) and,
 * when the level allows, one log line. Returns the request id.
 */
export function instrumentRequest(deps: { logger: Logger; metrics: Metrics }, req: IncomingMessage, res: ServerResponse, routeOf: () => string): string {
  const incoming = req.headers['x-request-id'];
  const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  res.setHeader('X-Request-Id', requestId);
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    deps.metrics.observeRequest(req.method ?? 'GET', routeOf(), res.statusCode, seconds);
    // The log line is built only when it would be written (LOG_LEVEL silent or warn: never).
    if (deps.logger.isLevelEnabled('info')) {
      // express trims req.url inside mounted routers; originalUrl (when express set it) is the path as sent.
      const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      if (!UNLOGGED_PATHS.has(path)) {
        deps.logger.info({ requestId, method: req.method, path, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
      }
    }
  });
  return requestId;
}
