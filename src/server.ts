import http, { type Server } from 'node:http';
import type { Config } from './config.js';
import { createApp } from './app.js';
import { createDeps, type Deps, type DepsOverrides } from './deps.js';

export interface RunningServer {
  deps: Deps;
  server: Server;
  url: string;
  stop(): Promise<void>;
}

/** config → deps → bootstrap → listen → workers; stop() drains requests, then workers, then the database. */
export async function startServer(config: Config, overrides: DepsOverrides = {}, print: (line: string) => void = console.log): Promise<RunningServer> {
  const deps = await createDeps(config, overrides);
  const { logger } = deps;
  try {
    const boot = await deps.tokens.bootstrap({ bootstrapToken: config.bootstrapToken, dataDir: config.dataDir, print });
    if (boot.created) logger.info({ operatorAccountId: boot.operatorAccountId }, 'operator token created');
    const app = createApp(deps);
    const server = await new Promise<Server>((resolve, reject) => {
      const s = http.createServer(app).listen(config.port, config.host, () => resolve(s));
      s.once('error', reject);
    });
    server.keepAliveTimeout = 65_000;
    for (const worker of deps.workers) await worker.start();
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    logger.info({ url, database: deps.db.kind, dataDir: deps.db.kind === 'pglite' ? config.dataDir : undefined }, 'switchboard listening');
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        logger.info('shutting down');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
        await closed;
        clearTimeout(timer);
        await deps.close();
        logger.info('stopped');
      })());
    return { deps, server, url, stop };
  } catch (error) {
    await deps.close();
    throw error;
  }
}
