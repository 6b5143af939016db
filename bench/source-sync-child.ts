/**
 * What the source benchmarks (entra-sync, pbx-sync) share: a child process per (database, size) whose peak RSS is
 * the sync's alone, talking to the parent over stdin/stdout (the access to the test source in, "changes?" out and
 * "go" back once the parent changed the source, the figures as one JSON line last); the child's database with an
 * account, the source and the engine as the server composes it (SFTP sessions kept between runs); the timed full
 * run; and the number formats of the report.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SftpSessionPool, type Connector } from '../connectors/sdk/index.js';
import type { Database } from '../src/db/database.js';
import { migrateLatest } from '../src/db/database.js';
import type { SyncCounts } from '../src/db/sync-runs-repo.js';
import { loadConfig } from '../src/config.js';
import { systemClock } from '../src/lib/clock.js';
import { applyHeapGrowth } from '../src/lib/heap-growth.js';
import { silentLogger } from '../src/lib/logger.js';
import { UserService } from '../src/services/user-service.js';
import { SyncEngine } from '../src/sync/sync-engine.js';
import { openBenchDatabase, rssSampler, type BenchDatabase } from './ldap-sync.js';

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const mib = (bytes: number) => `${fmt(bytes / 2 ** 20)} MiB`;

export interface FullRunFigures {
  seconds: number;
  usersPerSecond: number;
  peakRssBytes: number;
  baseRssBytes: number;
  counts: SyncCounts;
}

export interface BenchSource {
  db: Database;
  engine: SyncEngine;
  accountId: string;
  sourceId: string;
  /** The SFTP sessions the engine keeps between the source's runs. */
  sessions: SftpSessionPool;
  /** A full run, timed, with the peak RSS; it must create `users` users. */
  fullRun(users: number): Promise<FullRunFigures>;
}

/**
 * Runs `work` over a migrated scratch database holding one account and one source of `kind` with `config` (and
 * `columns` of the sources row), synced by an engine composed as createDeps composes it; the database is dropped after.
 */
export async function withBenchSource<T>(
  options: { database: BenchDatabase; dbName?: string; kind: string; connector: Connector; config: Record<string, unknown>; columns?: Record<string, unknown> },
  work: (source: BenchSource) => Promise<T>,
): Promise<T> {
  const { db, drop } = await openBenchDatabase(options.database, options.dbName);
  const sessions = new SftpSessionPool();
  try {
    await migrateLatest(db.knex);
    const [account] = await db.knex('accounts').insert({ type: 'customer', name: 'Bench' }).returning('id');
    const accountId = (account as { id: string }).id;
    const [source] = await db.knex('sources')
      .insert({ account_id: accountId, name: options.kind, kind: options.kind, config: JSON.stringify(options.config), ...options.columns })
      .returning('id');
    const sourceId = (source as { id: string }).id;
    const engine = new SyncEngine({
      db, users: new UserService(db.knex, systemClock), clock: systemClock, logger: silentLogger, connectors: new Map([[options.kind, options.connector]]), sessions,
    });
    const fullRun = async (users: number): Promise<FullRunFigures> => {
      (globalThis as { gc?: () => void }).gc?.();
      const baseRssBytes = process.memoryUsage.rss();
      const rss = rssSampler();
      const start = performance.now();
      const full = await engine.run(accountId, sourceId, { mode: 'full' });
      const seconds = (performance.now() - start) / 1000;
      const peakRssBytes = rss.stop();
      if (full.status !== 'succeeded' || full.counts.created !== users) throw new Error(`full run ${full.status} ${JSON.stringify(full.counts)}: ${full.error}`);
      return { seconds, usersPerSecond: users / seconds, peakRssBytes, baseRssBytes, counts: full.counts };
    };
    return await work({ db, engine, accountId, sourceId, sessions, fullRun });
  } finally {
    await sessions.close();
    await drop();
  }
}

/**
 * The parent's side: starts `file` as a child with `args` (after `--child`), hands it `access`, makes the changes
 * it asks for (`change`), and answers the figures it prints last.
 */
export function runBenchChild<T>(file: string, args: readonly string[], access: unknown, change: () => Promise<void> | void): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', file, '--child', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.write(`${JSON.stringify(access)}\n`);
  const lines = createInterface({ input: child.stdout });
  return new Promise<T>((resolve, reject) => {
    let result: T | undefined;
    lines.on('line', (line) => {
      if (line === 'changes?') {
        void Promise.resolve()
          .then(change)
          .then(() => child.stdin.write('go\n'), reject);
      } else if (line.startsWith('{')) result = JSON.parse(line) as T;
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`bench child (${args.join(' ')}) exited ${code}`))));
  });
}

/** The child's side: reads the access, runs `work` (which calls `askForChanges` when it wants the source changed), prints the figures. */
export function benchChildMain<A>(work: (access: A, askForChanges: () => Promise<void>) => Promise<unknown>): void {
  // The child is the server's sync: the server's heap policy (HEAP_GROWTH_PERCENT, lib/heap-growth.ts), as startServer sets it.
  applyHeapGrowth(loadConfig().heapGrowthPercent);
  const input = createInterface({ input: process.stdin });
  const next = (): Promise<string> => new Promise((resolve) => input.once('line', resolve));
  (async () => {
    const access = JSON.parse(await next()) as A;
    const result = await work(access, async () => {
      console.log('changes?');
      await next();
    });
    console.log(JSON.stringify(result));
    input.close();
  })().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
