import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { citext } from '@electric-sql/pglite/contrib/citext';
import pg from 'pg';
import { migrationConfig, normaliseMigrationNames } from './migration-source.js';
import { RequestAbandonedError } from './database-errors.js';
import type { Abandonment } from '../lib/abandonment.js';

export type Db = Knex;
export type Trx = Knex.Transaction;
/** Either the database or an open transaction: every repo method takes one. */
export type Executor = Knex | Knex.Transaction;

export interface Database {
  knex: Knex;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

// Bigint counts (count(*)) and numerics come back as strings by default; our counts fit in a number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

interface PgliteQueryObject {
  sql: string;
  bindings?: unknown[];
  options?: unknown;
  response?: unknown;
}
interface PgliteConnection {
  query(sql: string, bindings?: unknown[], options?: unknown): Promise<unknown>;
  exec(sql: string): Promise<unknown[]>;
}
const BaseClientPgLite = ClientPgLite as unknown as new (config: Knex.Config) => {
  _query(connection: PgliteConnection, obj: PgliteQueryObject): Promise<PgliteQueryObject>;
  _driver(): void;
  _acquireOnlyConnection(): Promise<unknown>;
};

// PGlite runs parameterised queries as prepared statements, which hold one statement each; migrations
// (and psql scripts) send several. Those carry no bindings, so they go through PGlite's simple protocol.
class MultiStatementClientPgLite extends BaseClientPgLite {
  override async _query(connection: PgliteConnection, obj: PgliteQueryObject): Promise<PgliteQueryObject> {
    if ((obj.bindings?.length ?? 0) === 0 && /;\s*\S/.test(obj.sql)) {
      const results = await connection.exec(obj.sql);
      obj.response = results[results.length - 1];
      return obj;
    }
    return super._query(connection, obj);
  }
}

export class DataDirLockedError extends Error {}

/**
 * knex prints pool errors to the console itself (with their stack, e.g. "Acquire connection error" when the
 * database does not exist); every such error also rejects the query that waited, and is reported there once.
 */
const quietKnexLog = { warn: () => {}, error: () => {}, deprecate: () => {}, debug: () => {} };

export { migrationConfig } from './migration-source.js';

/**
 * Applies pending migrations. On PostgreSQL they run on a connection of their own without the request statement
 * timeout (building an index on a large table takes as long as it takes).
 */
export async function migrateLatest(knex: Knex): Promise<void> {
  const config = knex.client.config as Knex.Config;
  const connection = config.connection as { statement_timeout?: number } | undefined;
  if (config.client !== 'pg' || !connection || typeof connection !== 'object' || !connection.statement_timeout) {
    await normaliseMigrationNames(knex);
    await knex.migrate.latest(migrationConfig());
    return;
  }
  const migrator = knexFactory({ ...config, connection: { ...connection, statement_timeout: 0 }, pool: { min: 0, max: 1 } });
  try {
    await normaliseMigrationNames(migrator);
    await migrator.migrate.latest(migrationConfig());
  } finally {
    await migrator.destroy();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PGlite is one process with one connection: only one Switchboard may open a data directory. */
export function lockDataDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, 'switchboard.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new DataDirLockedError(
          `Another Switchboard process (pid ${holder}) is using the data directory ${dataDir}. ` +
            'Stop it, use its HTTP API, or point DATA_DIR at another directory.',
        );
      }
      fs.unlinkSync(lockPath); // stale lock of a process that is gone
    }
  }
  throw new DataDirLockedError(`Could not lock the data directory ${dataDir}`);
}

export interface DatabaseOptions {
  databaseUrl?: string;
  poolMax?: number;
  /**
   * PostgreSQL only: the longest any statement may run (0: no limit), so that one costly request cannot hold a
   * connection. PGlite runs one statement at a time in this process and cannot cancel one.
   */
  statementTimeoutMs?: number;
  /** PGlite data directory; undefined means in memory. */
  dataDir?: string;
  /** A PGlite data directory dump to start from (tests clone a migrated template this way). */
  loadDataDir?: Blob | File;
}

export async function openPglite(options: { dataDir?: string; loadDataDir?: Blob | File }): Promise<PGlite> {
  const pglite = await PGlite.create({
    dataDir: options.dataDir,
    loadDataDir: options.loadDataDir,
    extensions: { pg_trgm, citext },
  });
  return pglite;
}

/**
 * Every statement PostgreSQL prepares inside a connection is planned for the tables as they are when it runs, never
 * from a plan cached earlier (plan_cache_mode): our own statements are unnamed and planned each time anyway, but the
 * foreign-key checks of a write (`select 1 from users x where account_id = $1 and id = $2 for key share`) and the
 * triggers' statements are prepared once per connection and, after five runs, kept as a generic plan made while the
 * tables were nearly empty. Such a plan took an index on `account_id` alone for the check of a user's id (any of
 * them ties with the primary key on a table the planner believes has a few rows), and a pooled connection kept it:
 * every POST of a bulk load then read the whole account twice (the emails' and the source link's check), 2 scans
 * and about 265 index tuples a POST at 500 users, loading by POST at 8 concurrent (pg_stat_user_indexes); most
 * likely the 39,000 a scan of the quiet 40,000-user run too. Planned each time, the check is one probe of the
 * primary key; a plan takes a few tens of µs.
 */
const PLANNED_EACH_TIME = 'plan_cache_mode=force_custom_plan';

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const knex = knexFactory({
      client: 'pg',
      log: quietKnexLog,
      connection: {
        connectionString: options.databaseUrl,
        options: `-c ${PLANNED_EACH_TIME}`,
        ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
      },
      pool: { min: 0, max: options.poolMax ?? 10 },
      // A request waiting for a connection (the database gone, the pool exhausted) answers 503 after 10 s, not 60.
      acquireConnectionTimeout: 10_000,
    });
    return { knex, kind: 'postgres', close: () => knex.destroy() };
  }
  let release: () => void = () => {};
  let pgliteDir: string | undefined;
  if (options.dataDir) {
    release = lockDataDir(options.dataDir);
    pgliteDir = path.join(options.dataDir, 'pgdata');
  }
  try {
    const pglite = await openPglite({ dataDir: pgliteDir, loadDataDir: options.loadDataDir });
    await pglite.exec(`set ${PLANNED_EACH_TIME.replace('=', ' = ')}`);
    const knex = knexFactory({
      client: MultiStatementClientPgLite as unknown as typeof Knex.Client,
      dialect: 'postgres',
      connection: () => ({ pglite }) as object,
    } as Knex.Config);
    return {
      knex,
      kind: 'pglite',
      close: async () => {
        await knex.destroy();
        if (!pglite.closed) await pglite.close();
        release();
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * knex's configuration for the knex CLI (knexfile.ts): PostgreSQL at `databaseUrl`, else PGlite in `dataDir`.
 * PGlite is opened, and the data directory locked as a server locks it, on the first query only, so `migrate:make`
 * works beside a running server while `migrate:*` is refused with the server's message (`refuse`). The knex CLI
 * ends with process.exit: the lock is released then; PGlite has written each commit to disk before answering.
 */
export function cliKnexConfig(options: { databaseUrl?: string; dataDir: string; refuse: (error: DataDirLockedError) => never }): Knex.Config {
  const migrations = migrationConfig();
  if (options.databaseUrl) return { client: 'pg', connection: options.databaseUrl, pool: { min: 0, max: 1 }, migrations };
  let opened: Promise<PGlite> | undefined;
  const open = () =>
    (opened ??= (async () => {
      let release: () => void;
      try {
        release = lockDataDir(options.dataDir);
      } catch (error) {
        if (error instanceof DataDirLockedError) options.refuse(error);
        throw error;
      }
      process.once('exit', release);
      return openPglite({ dataDir: path.join(options.dataDir, 'pgdata') });
    })());
  return {
    client: LazyPgliteClient as unknown as typeof Knex.Client,
    dialect: 'postgres',
    connection: { open } as object,
    migrations,
  } as Knex.Config;
}

/** The PGlite client over a database opened on the first query (`connection: { open }`), not when knex is built. */
class LazyPgliteClient extends MultiStatementClientPgLite {
  declare config: Knex.Config & { connection: { open: () => Promise<PGlite> } };
  override _driver(): void {
    /* nothing to load before the first query */
  }
  override async _acquireOnlyConnection(): Promise<PGlite> {
    return this.config.connection.open();
  }
}

/** What both drivers' connections answer: pg's Client and PGlite take `$n` placeholders and return `{ rows }`. */
interface RowsConnection {
  query(sql: string, bindings: unknown[]): Promise<{ rows: unknown[] }>;
  /** pg's Client: the server process running its statements (PGlite has none). */
  processID?: number;
}
interface PooledClient {
  acquireConnection(): Promise<RowsConnection>;
  releaseConnection(connection: RowsConnection): Promise<unknown>;
  /** knex's pg client: pg_cancel_backend on a connection of its own, outside the pool (what `.timeout(…, { cancel: true })` uses). */
  cancelQuery(connection: RowsConnection): Promise<unknown>;
  pool?: { numFree(): number };
}

/**
 * Cancels the statement running on `connection` (pg). A free pooled connection answers at once; only when there is
 * none does knex open one of its own, a new server process: 100-200 ms measured on the loaded 2-core machine, as
 * long as the console's abandoned searches themselves.
 */
async function cancelStatement(client: PooledClient, connection: RowsConnection): Promise<void> {
  if ((client.pool?.numFree() ?? 0) === 0) {
    await client.cancelQuery(connection);
    return;
  }
  const other = await client.acquireConnection();
  try {
    await other.query('select pg_cancel_backend($1)', [connection.processID]);
  } finally {
    await client.releaseConnection(other);
  }
}

const positionalSql = new Map<string, string>();
function positional(sql: string): string {
  let out = positionalSql.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    // Statement texts repeat by shape (one per filter shape and page form), so the map stays small; bound it anyway.
    if (positionalSql.size >= 2000) positionalSql.clear();
    positionalSql.set(sql, out);
  }
  return out;
}

/**
 * One read statement (`?` placeholders, like knex.raw) on a pooled connection, past knex's runner: its binding
 * rewrite, query events and response processing cost as much as the statement itself on the hottest reads
 * (GET /Users/{id}, `userName eq`). Inside a transaction it runs through knex on the transaction's connection.
 *
 * `abandoned` is the request's signal (abandonedSignal in src/http/): once it fires, a running statement is
 * cancelled on PostgreSQL and no further statement starts, so a search the console abandoned at the next
 * keystroke stops taking a core from the one that replaced it. PGlite runs one statement at a time inside this
 * process and cannot cancel one: there only the statements not yet started are skipped.
 */
export async function selectRows<T>(db: Executor, sql: string, bindings: readonly unknown[], abandoned?: Abandonment): Promise<T[]> {
  if (abandoned?.aborted) throw new RequestAbandonedError();
  if (db.isTransaction) return ((await db.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] }).rows;
  const client = db.client as unknown as PooledClient;
  const connection = await client.acquireConnection();
  let cancelling: Promise<unknown> | undefined;
  const cancel = () => {
    cancelling = cancelStatement(client, connection).catch(() => undefined);
  };
  const cancellable = abandoned !== undefined && typeof connection.processID === 'number';
  if (cancellable) abandoned.addEventListener('abort', cancel, { once: true });
  try {
    if (abandoned?.aborted) throw new RequestAbandonedError();
    return (await connection.query(positional(sql), bindings as unknown[])).rows as T[];
  } catch (error) {
    if (abandoned?.aborted) throw new RequestAbandonedError();
    throw error;
  } finally {
    if (cancellable) abandoned.removeEventListener('abort', cancel);
    // Released only once the cancel has landed: sent later, it could hit the next statement on this connection
    // (PostgreSQL ignores a cancel that finds its backend idle).
    if (cancelling) await cancelling;
    await client.releaseConnection(connection);
  }
}

/** The readiness probe: resolves when the database answers a query, rejects when it does not. */
export async function ping(db: Executor): Promise<void> {
  await db.raw('select 1');
}

/** knex's connection pool (tarn) as /metrics reports it: connections in use, idle, requests waiting for one, the cap. */
export interface PoolStats {
  used: number;
  idle: number;
  waiting: number;
  max: number;
}

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  max: number;
}

/** The pool's state now; undefined before knex has built its pool (no query yet) or after it is destroyed. */
export function poolStats(knex: Knex): PoolStats | undefined {
  const pool = (knex.client as { pool?: TarnPool | null }).pool;
  if (!pool) return undefined;
  return { used: pool.numUsed(), idle: pool.numFree(), waiting: pool.numPendingAcquires(), max: pool.max };
}
