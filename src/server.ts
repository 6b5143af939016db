import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from './config.js';
import { createApp, serveMetrics } from './app.js';
import { createDeps, type Deps, type DepsOverrides } from './deps.js';
import { gateConnections } from './db/connection-gate.js';
import { shuttingDown } from './http/error-handler.js';
import { applyHeapGrowth } from './lib/heap-growth.js';

export interface RunningServer {
  deps: Deps;
  server: Server;
  url: string;
  /** The METRICS_ADDRESS listener, when configured. */
  metricsUrl: string | undefined;
  stop(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function urlOf(server: Server, host: string): string {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The address and port the socket is bound to, as the kernel reports them (HOST may be a name, PORT 0). */
function boundAddress(server: Server): string {
  const address = server.address();
  if (!address || typeof address === 'string') return String(address);
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** config → deps → bootstrap → listen → workers; stop() drains requests, then workers, then the database. */
export async function startServer(config: Config, overrides: DepsOverrides = {}, print: (line: string) => void = console.log): Promise<RunningServer> {
  // The process's heap policy, before the server allocates anything of its own (lib/heap-growth.ts).
  applyHeapGrowth(config.heapGrowthPercent);
  const deps = await createDeps(config, overrides);
  const { logger } = deps;
  try {
    const boot = await deps.tokens.bootstrap({ bootstrapToken: config.bootstrapToken, dataDir: config.dataDir, print });
    if (boot.created) logger.info({ operatorAccountId: boot.operatorAccountId }, 'operator token created');
    const app = createApp(deps);
    const { headersTimeoutMs, bodyTimeoutMs } = config.limits;
    // Requests in flight, so that a shutdown can tell each to close its connection when it is answered.
    const inFlight = new Set<ServerResponse>();
    let draining = false;
    const connections = gateConnections(deps.db.knex);
    const listener = (req: IncomingMessage, res: ServerResponse): void => {
      if (draining) res.setHeader('Connection', 'close');
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
      // A body must keep arriving: BODY_TIMEOUT_MS without a byte closes the connection; once it is read, the
      // socket waits for the answer however long that takes.
      const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
      if (hasBody && !req.complete) {
        const socket = req.socket;
        const cut = () => socket.destroy();
        socket.setTimeout(bodyTimeoutMs, cut);
        // The callback is a 'timeout' listener: removed with the timer, else a keep-alive socket gathers one per request.
        const clear = () => {
          socket.setTimeout(0);
          socket.removeListener('timeout', cut);
        };
        req.once('end', clear);
        res.once('finish', clear);
      }
      app(req, res);
    };
    const server = await listen(
      http.createServer(
        // Slow clients: headers within HEADERS_TIMEOUT_MS, the whole request within that plus BODY_TIMEOUT_MS
        // (node answers 408 and closes), checked every second rather than node's default 30 s.
        { headersTimeout: headersTimeoutMs, requestTimeout: headersTimeoutMs + bodyTimeoutMs, connectionsCheckingInterval: 1000 },
        listener,
      ),
      config.port,
      config.host,
    );
    server.keepAliveTimeout = 65_000;
    const metricsServer = config.metricsAddress
      ? await listen(
          http.createServer((req, res) => {
            if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
              serveMetrics(deps.metrics, res).catch(() => res.destroy());
              return;
            }
            res.statusCode = 404;
            res.end();
          }),
          config.metricsAddress.port,
          config.metricsAddress.host,
        )
      : undefined;
    for (const worker of deps.workers) await worker.start();
    const url = urlOf(server, config.host);
    // The log names the socket's real address (0.0.0.0:8080 when bound to every interface), not the URL a local
    // client uses to reach it, so an operator sees what is exposed.
    const listening = boundAddress(server);
    logger.info(
      { address: listening, url, database: deps.db.kind, dataDir: deps.db.kind === 'pglite' ? config.dataDir : undefined },
      `switchboard listening on ${listening}`,
    );
    /**
     * The grace period is over. Requests still waiting for a database connection have done nothing yet: they are
     * answered 503 with Retry-After (a SCIM error, Connection: close) rather than cut or failed when the pool closes.
     * Once those answers are out (1 s at most), the connections of requests still working are cut. The pool refuses
     * every acquisition until the server has closed (db/connection-gate.ts), then serves the workers' stops.
     */
    const cutOff = async () => {
      const answered = new Set<ServerResponse>();
      for (const res of inFlight) res.once('finish', () => answered.add(res));
      const refused = connections.refuse(shuttingDown);
      logger.warn({ inFlight: inFlight.size, refused }, 'shutdown grace period over: requests waiting for a database connection are answered 503, the rest are cut');
      for (let waited = 0; answered.size < refused && waited < 1000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
    };
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        logger.info({ inFlight: inFlight.size }, 'shutting down');
        // No new connections; idle keep-alive ones close now, busy ones as soon as their request is answered
        // (Connection: close), so the process exits when the last in-flight request is done.
        draining = true;
        for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => void cutOff(), config.shutdownTimeoutMs);
        await closed;
        clearTimeout(timer);
        connections.reopen();
        if (metricsServer) {
          const metricsClosed = new Promise<void>((resolve) => metricsServer.close(() => resolve()));
          metricsServer.closeAllConnections();
          await metricsClosed;
        }
        await deps.close();
        logger.info('stopped');
      })());
    return { deps, server, url, metricsUrl: metricsServer ? urlOf(metricsServer, config.metricsAddress!.host) : undefined, stop };
  } catch (error) {
    await deps.close();
    throw error;
  }
}
