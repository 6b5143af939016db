/**
 * LDAP sync benchmark (issues 4 and 10): a full sync of N slapd entries through the sync engine (users/s, peak RSS)
 * beside its floor, the same paged ldapts read writing the same rows with bare drivers and COPY (ldap-pg-floor.ts;
 * target: the sync within 1.5× of its time), the two run alternately, best of `rounds` each, each in a fresh
 * database. Beside them, a plain paged `ldapsearch` of the same tree and attributes; then an incremental run after
 * `changes` entries changed (its time should follow the changes, not the directory). Beside them, the database's
 * share: the rows the full run wrote, copied by the server itself (`insert … select`, one statement per table).
 *
 * Each (database, size) runs in a child process of its own, so its peak RSS is its own (flat memory from 10,000
 * to 100,000 entries means the two children peak alike). PostgreSQL runs use a scratch database
 * `switchboard_bench_ldap_<pid>` (created by the child, dropped at its end); PGlite runs use a data
 * directory in a temp dir (an in-memory PGlite would hold the whole database in the process).
 *
 * The entries carry modifyTimestamps spread over the past (one a minute), as a directory that changed over
 * time; a bulk load stamping every entry with the same second would put the whole directory in the incremental
 * read's one-second overlap window.
 *
 * Run: npx tsx bench/ldap-sync.ts [--sizes=10000,100000] [--changes=1000] [--db=postgres|pglite] [--rounds=2] [--no-floors]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knexFactory from 'knex';
import { ldapConnector } from '../connectors/ldap/index.js';
import type { Connector } from '../connectors/sdk/index.js';
import { migrateLatest, openDatabase, type Database } from '../src/db/database.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { UserService } from '../src/services/user-service.js';
import { SyncEngine } from '../src/sync/sync-engine.js';
import type { SyncCounts } from '../src/db/sync-runs-repo.js';
import { peopleLdifChunks, replaceLdif, startSlapd, type Slapd } from '../test/support/slapd.js';
import { syncRunsRepo } from '../src/db/sync-runs-repo.js';
import { ldapPgFloor, type PgFloorFigures } from './ldap-pg-floor.js';
import { ATTRIBUTES, ldapsearchFloor, PAGE_SIZE } from './ldap-sync-floor.js';
import { arg, fmt } from './bench-util.js';
import { loadConfig } from '../src/config.js';
import { applyHeapGrowth } from '../src/lib/heap-growth.js';

export type BenchDatabase = 'postgres' | 'pglite';
// Per process: benches of other kinds (entra-sync, pbx-sync) run this one too, possibly at the same time.
const DB_NAME = `switchboard_bench_ldap_${process.pid}`;

export interface LdapSyncFigures {
  database: BenchDatabase;
  entries: number;
  loadSeconds: number;
  /** Floor and sync runs made, alternately; the best of each is reported. */
  rounds: number;
  /** A plain paged ldapsearch of the same tree (the read alone). */
  floor: { seconds: number; entriesPerSecond: number };
  /** The same read and rows by bare drivers and COPY (ldap-pg-floor.ts): the floor of the full sync (not run by ldap-1m). */
  pgFloor?: PgFloorFigures;
  /** The best full sync; peakRssBytes is the highest of all its runs. */
  full: {
    seconds: number; usersPerSecond: number; peakRssBytes: number; baseRssBytes: number; counts: SyncCounts;
    /** The share of the run the process's event loop was busy (Node's CPU, the connector's included); the rest it waited, mostly for the database. */
    nodeBusy: number;
  };
  /** sync time ÷ floor time (target ≤ 1.5). */
  ratio?: number;
  incremental: { changed: number; seconds: number; counts: SyncCounts };
  /** An incremental run with nothing changed: the fixed cost of a run. */
  idle: { seconds: number; counts: SyncCounts };
  /** The rows the full run wrote, copied into another account by the server in one statement per table. */
  /** The database's share; `tables`: seconds per table, in the order written. */
  writeFloor?: { seconds: number; rows: number; tables: { table: string; seconds: number }[] };
}

/** The tables a sync writes, parents first. */
const WRITTEN_TABLES = ['sources', 'sync_runs', 'users', 'user_emails', 'user_phone_numbers', 'user_extensions', 'user_source_links', 'audit_log', 'sync_run_results'];

/**
 * The database's part of the floor: every row of the account (what the sync wrote: users, value rows, links, audit,
 * run results) copied into a new account by `insert … select`, one statement per table in one transaction, so no
 * client work, round trip or JSON parsing is in it. Ids stay (keys are per account); identity columns are left out.
 */
async function writeFloor(db: Database, accountId: string): Promise<LdapSyncFigures['writeFloor']> {
  const { knex } = db;
  const [copy] = await knex('accounts').insert({ type: 'customer', name: 'Bench copy' }).returning('id');
  const copyId = (copy as { id: string }).id;
  const columns = new Map<string, string[]>();
  for (const table of WRITTEN_TABLES) {
    const { rows } = (await knex.raw(
      `select column_name from information_schema.columns where table_schema = current_schema() and table_name = ? and is_identity = 'NO' and is_generated = 'NEVER' order by ordinal_position`,
      [table],
    )) as { rows: { column_name: string }[] };
    columns.set(table, rows.map((r) => r.column_name));
  }
  const start = performance.now();
  let rows = 0;
  const tables: { table: string; seconds: number }[] = [];
  await knex.transaction(async (trx) => {
    for (const table of WRITTEN_TABLES) {
      const list = columns.get(table)!;
      const select = list.map((c) => (c === 'account_id' ? '?::uuid' : c)).join(', ');
      const tableStart = performance.now();
      const result = (await trx.raw(`insert into ${table} (${list.join(', ')}) select ${select} from ${table} where account_id = ?`, [copyId, accountId])) as { rowCount?: number; affectedRows?: number };
      tables.push({ table, seconds: (performance.now() - tableStart) / 1000 });
      rows += result.rowCount ?? result.affectedRows ?? 0;
    }
  });
  return { seconds: (performance.now() - start) / 1000, rows, tables };
}

/** Samples this process's RSS every 20 ms; `stop` gives the peak. */
export function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  return { stop: () => (clearInterval(timer), Math.max(peak, process.memoryUsage.rss())) };
}

/** A scratch database for one bench run (PostgreSQL `name`: created and dropped; PGlite: a temp dir). */
export async function openBenchDatabase(database: BenchDatabase, name: string = DB_NAME): Promise<{ db: Database; drop(): Promise<void> }> {
  if (database === 'postgres') {
    const server = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
    const admin = knexFactory({ client: 'pg', connection: `${server}/postgres`, pool: { min: 0, max: 1 } });
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.raw(`create database ${name}`);
    const db = await openDatabase({ databaseUrl: `${server}/${name}`, poolMax: 4 });
    return {
      db,
      async drop() {
        await db.close();
        await admin.raw(`drop database if exists ${name} with (force)`).catch(() => undefined);
        await admin.destroy();
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-bench-pglite-'));
  const db = await openDatabase({ dataDir: dir });
  return {
    db,
    async drop() {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh scratch database with the account and LDAP source a run writes into. */
async function prepare(database: BenchDatabase, slapd: Slapd): Promise<{ db: Database; drop(): Promise<void>; accountId: string; sourceId: string }> {
  const { db, drop } = await openBenchDatabase(database);
  await migrateLatest(db.knex);
  const [account] = await db.knex('accounts').insert({ type: 'customer', name: 'Bench' }).returning('id');
  const accountId = (account as { id: string }).id;
  const [source] = await db.knex('sources')
    .insert({
      account_id: accountId, name: 'ldap', kind: 'ldap',
      config: JSON.stringify({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn, pageSize: PAGE_SIZE, defaultCountry: 'BE' }),
    })
    .returning('id');
  return { db, drop, accountId, sourceId: (source as { id: string }).id };
}

/** The bare-driver floor (ldap-pg-floor.ts) into a fresh database. */
async function floorRun(database: BenchDatabase, slapd: Slapd, entries: number): Promise<PgFloorFigures> {
  const { db, drop, accountId, sourceId } = await prepare(database, slapd);
  try {
    const run = await syncRunsRepo.insert(db.knex, { accountId, sourceId, mode: 'full', trigger: 'bench', dryRun: false, allowDeletes: false, at: new Date() });
    (globalThis as { gc?: () => void }).gc?.();
    const figures = await ldapPgFloor(
      { url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn, attributes: ATTRIBUTES, pageSize: PAGE_SIZE },
      { db, accountId, sourceId, runId: run.id },
    );
    if (figures.entries !== entries) throw new Error(`the floor read ${figures.entries} entries, not ${entries}`);
    return figures;
  } finally {
    await drop();
  }
}

/** A full sync into a fresh database; `keep` leaves the database open for the runs that follow. */
async function syncRun(database: BenchDatabase, slapd: Slapd, entries: number) {
  const prepared = await prepare(database, slapd);
  try {
    const { db, accountId, sourceId } = prepared;
    const engine = new SyncEngine({
      db, users: new UserService(db.knex, systemClock), clock: systemClock, logger: silentLogger, connectors: new Map([['ldap', ldapConnector as Connector]]),
    });
    (globalThis as { gc?: () => void }).gc?.();
    const baseRssBytes = process.memoryUsage.rss();
    const rss = rssSampler();
    const start = performance.now();
    const elu = performance.eventLoopUtilization();
    const full = await engine.run(accountId, sourceId, { mode: 'full' });
    const nodeBusy = performance.eventLoopUtilization(elu).utilization;
    const seconds = (performance.now() - start) / 1000;
    const peakRssBytes = rss.stop();
    if (full.status !== 'succeeded' || full.counts.created !== entries) throw new Error(`full run ${full.status} ${JSON.stringify(full.counts)}: ${full.error}`);
    return { ...prepared, engine, figures: { seconds, usersPerSecond: entries / seconds, peakRssBytes, baseRssBytes, nodeBusy, counts: full.counts } };
  } catch (error) {
    await prepared.drop();
    throw error;
  }
}

/**
 * One (database, size) in this process: the floor and the full sync in turn, `rounds` times each (the best of each
 * kept, each in a fresh database), then the incremental runs on the last sync's database.
 */
export async function benchLdapSyncOnce(database: BenchDatabase, entries: number, changes: number, rounds = 2, withFloors = true): Promise<LdapSyncFigures> {
  const loadStart = performance.now();
  const slapd = await startSlapd({ initialLdif: peopleLdifChunks(entries, 0, undefined, { modifiedFrom: new Date(Date.now() - (entries + 10) * 60_000) }) });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  let kept: Awaited<ReturnType<typeof syncRun>> | undefined;
  try {
    await ldapsearchFloor(slapd.url, slapd.bindDn, slapd.bindPassword, slapd.peopleDn); // warms slapd's caches for both
    const floor = await ldapsearchFloor(slapd.url, slapd.bindDn, slapd.bindPassword, slapd.peopleDn);
    if (floor.entries !== entries) throw new Error(`ldapsearch read ${floor.entries} entries, not ${entries}`);

    let pgFloor: PgFloorFigures | undefined;
    let best: LdapSyncFigures['full'] | undefined;
    let peakRssBytes = 0;
    for (let round = 0; round < rounds; round++) {
      const f = withFloors ? await floorRun(database, slapd, entries) : undefined;
      if (f && (!pgFloor || f.seconds < pgFloor.seconds)) pgFloor = f;
      await kept?.drop();
      kept = await syncRun(database, slapd, entries);
      peakRssBytes = Math.max(peakRssBytes, kept.figures.peakRssBytes);
      if (!best || kept.figures.seconds < best.seconds) best = kept.figures;
    }
    const { db, engine, accountId, sourceId } = kept!;
    const floorWrite = withFloors ? await writeFloor(db, accountId) : undefined;

    const idleStart = performance.now();
    const idle = await engine.run(accountId, sourceId, { mode: 'incremental' });
    const idleSeconds = (performance.now() - idleStart) / 1000;

    const step = Math.floor(entries / changes);
    const dns = Array.from({ length: changes }, (_, i) => `uid=user${String(i * step).padStart(5, '0')},${slapd.peopleDn}`);
    await slapd.modifyLdif(replaceLdif(dns, 'title', (_, i) => `Changed ${i}`));
    const incStart = performance.now();
    const inc = await engine.run(accountId, sourceId, { mode: 'incremental' });
    const incSeconds = (performance.now() - incStart) / 1000;
    if (inc.status !== 'succeeded' || inc.counts.updated !== changes) throw new Error(`incremental run ${inc.status} ${JSON.stringify(inc.counts)}: ${inc.error}`);

    return {
      database,
      entries,
      loadSeconds,
      rounds,
      floor: { seconds: floor.seconds, entriesPerSecond: floor.entriesPerSecond },
      ...(pgFloor ? { pgFloor, ratio: best!.seconds / pgFloor.seconds } : {}),
      full: { ...best!, peakRssBytes },
      incremental: { changed: changes, seconds: incSeconds, counts: inc.counts },
      idle: { seconds: idleSeconds, counts: idle.counts },
      ...(floorWrite ? { writeFloor: floorWrite } : {}),
    };
  } finally {
    await slapd.stop();
    await kept?.drop();
  }
}

/** One (database, size) in a child process (its own heap and RSS); resolves with its figures. */
function inChild(database: BenchDatabase, entries: number, changes: number, rounds: number, withFloors: boolean): Promise<LdapSyncFigures> {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', file, '--child', `--db=${database}`, `--sizes=${entries}`, `--changes=${changes}`, `--rounds=${rounds}`, ...(withFloors ? [] : ['--no-floors'])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child (${database}, ${entries}) exited ${code}`));
      try {
        resolve(JSON.parse(out.slice(out.indexOf('{'))) as LdapSyncFigures);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

export interface LdapSyncBenchOptions {
  databases: { database: BenchDatabase; sizes: number[] }[];
  changes: number;
  /** Floor and sync runs per size, alternately (default 2: the best of two). */
  rounds?: number;
  /** false: the sync alone, without the floors (the 1,000,000-entry run compares the sync with itself at 100,000). */
  floors?: boolean;
  log?: (line: string) => void;
}

const mib = (bytes: number) => `${fmt(bytes / 2 ** 20)} MiB`;

export function printLdapSync(r: LdapSyncFigures, log: (line: string) => void = console.log): void {
  log(`  ${r.database.padEnd(8)} ${fmt(r.entries).padStart(9)} entries (slapadd ${fmt(r.loadSeconds, 1)} s; ${r.pgFloor ? `best of ${r.rounds} alternating floor and sync runs` : `${r.rounds} sync run(s), no floor`})`);
  if (r.pgFloor) {
    log(`    floor  ldapts read + COPY of the rows ${fmt(r.pgFloor.usersPerSecond).padStart(7)} users/s    ${fmt(r.pgFloor.seconds, 2).padStart(6)} s  (bench/ldap-pg-floor.ts: bare drivers, no engine logic)`);
  }
  const ratio = r.ratio === undefined ? '' : `  ratio sync/floor time ${fmt(r.ratio, 2)}× (target ≤ 1.5×: ${r.ratio <= 1.5 ? 'MET' : 'NOT MET'})`;
  log(`    full   sync                       ${fmt(r.full.usersPerSecond).padStart(7)} users/s    ${fmt(r.full.seconds, 2).padStart(6)} s${ratio}`);
  log(`           peak RSS ${mib(r.full.peakRssBytes)} (${mib(r.full.baseRssBytes)} before the run); Node busy ${fmt(r.full.nodeBusy * 100)} % of the run`);
  log(`    read   ldapsearch -E pr=${PAGE_SIZE}          ${fmt(r.floor.entriesPerSecond).padStart(7)} entries/s  ${fmt(r.floor.seconds, 2).padStart(6)} s  (sync ${fmt(r.full.seconds / r.floor.seconds, 1)}× the read alone)`);
  if (r.writeFloor) {
    log(`    db     the same rows by insert … select ${fmt(r.writeFloor.seconds, 2).padStart(6)} s  (${fmt(r.writeFloor.rows)} rows, one statement per table; sync/db ${fmt(r.full.seconds / r.writeFloor.seconds, 1)}×)`);
    const shares = r.writeFloor.tables.filter((t) => t.seconds >= 0.005).map((t) => `${t.table} ${fmt(t.seconds, 2)}`);
    log(`           by table (s): ${shares.join(', ')}`);
  }
  log(`    idle   incremental, nothing changed      ${fmt(r.idle.seconds, 2).padStart(6)} s  ${JSON.stringify(r.idle.counts)}`);
  log(`    incr   incremental, ${fmt(r.incremental.changed)} changed      ${fmt(r.incremental.seconds, 2).padStart(6)} s  ${JSON.stringify(r.incremental.counts)}`);
}

export async function benchLdapSync(options: LdapSyncBenchOptions): Promise<LdapSyncFigures[]> {
  const log = options.log ?? console.log;
  const all: LdapSyncFigures[] = [];
  for (const { database, sizes } of options.databases) {
    for (const entries of sizes) {
      const figures = await inChild(database, entries, Math.min(options.changes, entries), options.rounds ?? 2, options.floors ?? true);
      printLdapSync(figures, log);
      all.push(figures);
    }
  }
  return all;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = (arg('sizes') ?? '10000,100000').split(',').map(Number);
  const changes = Number(arg('changes') ?? 1000);
  const rounds = Number(arg('rounds') ?? 2);
  const dbs = (arg('db') ?? 'postgres,pglite').split(',') as BenchDatabase[];
  // A child is the server's sync: the server's heap policy (HEAP_GROWTH_PERCENT, lib/heap-growth.ts), as startServer sets it.
  if (process.argv.includes('--child')) applyHeapGrowth(loadConfig().heapGrowthPercent);
  const work = process.argv.includes('--child')
    ? benchLdapSyncOnce(dbs[0]!, sizes[0]!, changes, rounds, !process.argv.includes('--no-floors')).then((r) => console.log(JSON.stringify(r)))
    : benchLdapSync({ databases: dbs.map((database) => ({ database, sizes })), changes, rounds, floors: !process.argv.includes('--no-floors') }).then(() => undefined);
  work.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
