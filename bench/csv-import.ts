/**
 * CSV import and export benchmark (issue 14), through the real server over HTTP (createDeps + createApp):
 *   import  POST /Imports of an N-row file (background past 1,000 rows) until the import has finished: rows/s and
 *           peak RSS; beside it the floor, the same rows the import wrote (users, their email, phone and extension
 *           rows, audit entries, the import and its row outcomes) COPYed into the same tables of another account
 *           in one transaction (COPY FROM STDIN on PostgreSQL, COPY FROM '/dev/blob' on PGlite): the database
 *           taking these rows with no per-row work at all. Target: import rows/s ≥ 50 % of the floor's.
 *   export  GET /Users with Accept: text/csv of the N users just imported, read to the end: rows/s and peak RSS.
 *           It runs in a process of its own: measured in the import's process after the floor, its peak held the
 *           floor's COPY text of every written row (724 MiB at 100,000 rows, the bench's own memory, not the
 *           export's), and after the import alone the import's high-water mark (RSS does not shrink after a GC).
 *
 * Each (database, size) runs in two child processes of their own, the import (then the floor) and the export on
 * a new server over the same database, so each peak RSS is its own: flat memory from 10,000 to 100,000 rows means
 * the children of both sizes peak alike. The child holds nothing of the file (written line by line,
 * streamed to the server), and collects garbage before each measured phase. Beside RSS it reports the process's
 * CPU time per row (process.cpuUsage: server and client are one process, so it includes the client's small share),
 * a figure the machine's load does not inflate the way it inflates wall-clock rates. PostgreSQL runs use a scratch database
 * `switchboard_bench_csv` (dropped and created by the import child, dropped by the parent at the end); PGlite runs use a data directory
 * in a temp dir.
 *
 * Run: npx tsx bench/csv-import.ts [--sizes=10000,100000] [--db=postgres,pglite]
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import type { PGlite } from '@electric-sql/pglite';
import type { PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDeps } from '../src/deps.js';
import { templateHeader } from '../src/domain/user-csv.js';
import { applyHeapGrowth } from '../src/lib/heap-growth.js';
import { silentLogger } from '../src/lib/logger.js';
import { arg, fmt } from './bench-util.js';

export type BenchDatabase = 'postgres' | 'pglite';
const DB_NAME = 'switchboard_bench_csv';
const TOKEN = 'sb_bench_csv_import_operator_token_0123456789abcdef';
/** The tables an import writes, parents first. */
const WRITTEN_TABLES = ['imports', 'users', 'user_emails', 'user_phone_numbers', 'user_extensions', 'audit_log', 'import_rows'];

export interface CsvImportFigures {
  database: BenchDatabase;
  rows: number;
  fileBytes: number;
  baseRssBytes: number;
  import: { seconds: number; rowsPerSecond: number; cpuMsPerRow: number; peakRssBytes: number; counts: Record<string, number> };
  floor: { seconds: number; rowsPerSecond: number; tableRows: number };
  export: { seconds: number; rowsPerSecond: number; cpuMsPerRow: number; baseRssBytes: number; peakRssBytes: number; bytes: number };
}

/** Samples RSS every 20 ms; `stop` answers the peak seen. */
function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

/** Writes the N-row file a thousand lines at a time, holding none of it: the child's memory is the server's. */
async function writeCsv(file: string, rows: number): Promise<number> {
  const out = createWriteStream(file);
  let text = `${templateHeader.join(',')}\n`;
  for (let i = 0; i < rows; i++) {
    // Belgian mobiles +32 470 000000 … (valid E.164), extensions 100000 …, a few departments and titles.
    text += `First${i},Last${i},user${i}@example.com,+32470${String(i).padStart(6, '0')},BE,${100_000 + i},no,,,Dept ${i % 20},Title ${i % 50}\n`;
    if (i % 1000 === 999 || i === rows - 1) {
      if (!out.write(text)) await once(out, 'drain');
      text = '';
    }
  }
  out.end();
  await once(out, 'finish');
  return (await stat(file)).size;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};
const collect = () => (globalThis as { gc?: () => void }).gc?.();

/** The rows the account holds in each written table, as COPY text with the account id replaced by `copyId`. */
async function dumpAccount(knex: Knex, kind: BenchDatabase, accountId: string, copyId: string): Promise<{ table: string; columns: string[]; text: string; rows: number }[]> {
  const out: { table: string; columns: string[]; text: string; rows: number }[] = [];
  for (const table of WRITTEN_TABLES) {
    const { rows } = (await knex.raw(
      `select column_name from information_schema.columns where table_schema = current_schema() and table_name = ? and is_identity = 'NO' and is_generated = 'NEVER' order by ordinal_position`,
      [table],
    )) as { rows: { column_name: string }[] };
    const columns = rows.map((r) => r.column_name);
    // A user's id is unique across accounts (users_id_key): the copy's users take ids of their own, derived so that
    // every row written under a user still names its copy.
    const copyOf = (column: string) => `md5(${column}::text || '${copyId}')::uuid`;
    const select = columns.map((c) => (c === 'account_id' ? `'${copyId}'::uuid` : (table === 'users' && c === 'id') || c === 'user_id' ? copyOf(c) : c)).join(', ');
    const sql = `copy (select ${select} from ${table} where account_id = '${accountId}') to ${kind === 'postgres' ? 'stdout' : `'/dev/blob'`}`;
    let text: string;
    if (kind === 'postgres') {
      const client = (await knex.client.acquireConnection()) as PoolClient;
      try {
        // The server's statement timeout is for requests; the floor's copies of 100,000 rows may take longer.
        await client.query('set statement_timeout = 0');
        const chunks: Buffer[] = [];
        for await (const chunk of client.query(copyTo(sql))) chunks.push(chunk as Buffer);
        text = Buffer.concat(chunks).toString('utf8');
      } finally {
        await client.query('reset statement_timeout');
        await knex.client.releaseConnection(client);
      }
    } else {
      const pglite = (knex.client as { pglite: PGlite }).pglite;
      const result = await pglite.query(sql);
      // No rows, no blob.
      text = result.blob ? await result.blob.text() : '';
    }
    let count = 0;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
    if (count > 0) out.push({ table, columns, text, rows: count });
  }
  return out;
}

/** COPY FROM of every dumped table, in one transaction: the floor's timed part. */
async function copyIn(knex: Knex, kind: BenchDatabase, dump: { table: string; columns: string[]; text: string }[]): Promise<number> {
  const start = performance.now();
  if (kind === 'postgres') {
    const client = (await knex.client.acquireConnection()) as PoolClient;
    try {
      await client.query('begin');
      await client.query('set local statement_timeout = 0');
      for (const { table, columns, text } of dump) {
        const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
        await new Promise<void>((resolve, reject) => {
          stream.on('finish', resolve);
          stream.on('error', reject);
          stream.end(Buffer.from(text, 'utf8'));
        });
      }
      await client.query('commit');
    } finally {
      await knex.client.releaseConnection(client);
    }
  } else {
    const pglite = (knex.client as { pglite: PGlite }).pglite;
    await pglite.transaction(async (tx) => {
      for (const { table, columns, text } of dump) {
        await tx.query(`copy ${table} (${columns.join(', ')}) from '/dev/blob'`, [], { blob: new Blob([text]) });
      }
    });
  }
  return (performance.now() - start) / 1000;
}

const adminUrl = () => process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The server of one phase: the scratch database (PostgreSQL) or the data directory `dir` (PGlite), listening on a free port. */
async function startServer(database: BenchDatabase, dir: string): Promise<{ deps: Awaited<ReturnType<typeof createDeps>>; base: string; close(): Promise<void> }> {
  const url = database === 'postgres' ? `${adminUrl().replace(/\/[^/]*$/, '')}/${DB_NAME}` : undefined;
  const config = loadConfig({
    DATA_DIR: dir, ...(url ? { DATABASE_URL: url } : {}), SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', IMPORT_MAX_BYTES: '200mb', LOG_LEVEL: 'silent', RATE_LIMITS: 'off',
    ...(process.env.HEAP_GROWTH_PERCENT ? { HEAP_GROWTH_PERCENT: process.env.HEAP_GROWTH_PERCENT } : {}),
  });
  // The heap policy of the server's process, as startServer sets it (HEAP_GROWTH_PERCENT, lib/heap-growth.ts).
  applyHeapGrowth(config.heapGrowthPercent);
  const deps = await createDeps(config, { logger: silentLogger });
  const server = http.createServer(createApp(deps));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    deps,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deps.close();
    },
  };
}

type ImportPhase = Omit<CsvImportFigures, 'export'> & { accountId: string };

/** The first child: a fresh database, the import (measured), then the floor (its COPY text is held in memory, so after). */
async function importPhase(database: BenchDatabase, rows: number, dir: string): Promise<ImportPhase> {
  if (database === 'postgres') {
    const admin = knexFactory({ client: 'pg', connection: adminUrl() });
    try {
      await admin.raw(`drop database if exists ${DB_NAME} with (force)`);
      await admin.raw(`create database ${DB_NAME}`);
    } finally {
      await admin.destroy();
    }
  }
  const { deps, base, close } = await startServer(database, dir);
  try {
    await deps.tokens.bootstrap({ bootstrapToken: TOKEN, dataDir: dir, print: () => undefined });
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const created = await fetch(`${base}/scim/v2/Accounts`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Bench CSV', type: 'customer' }),
    });
    const accountId = ((await created.json()) as { id: string }).id;
    const scim = `${base}/accounts/${accountId}/scim/v2`;
    const file = join(dir, 'users.csv');
    const fileBytes = await writeCsv(file, rows);
    collect();
    const baseRssBytes = process.memoryUsage.rss();

    const sampler = rssSampler();
    const start = performance.now();
    const cpu = process.cpuUsage();
    const posted = await fetch(`${scim}/Imports`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'text/csv', 'Content-Length': String(fileBytes) },
      body: Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>, duplex: 'half',
    } as RequestInit);
    const started = (await posted.json()) as { id: string; status: string };
    if (posted.status !== 201 && posted.status !== 202) throw new Error(`import answered ${posted.status}: ${JSON.stringify(started)}`);
    await deps.imports!.drain();
    const importSeconds = (performance.now() - start) / 1000;
    const importCpuMs = cpuMs(cpu);
    const importPeak = sampler.stop();
    const done = (await (await fetch(`${scim}/Imports/${started.id}?excludedAttributes=results`, { headers: auth })).json()) as { status: string; counts: Record<string, number> };
    if (done.status !== 'succeeded' || done.counts.created !== rows) throw new Error(`import ended ${done.status}: ${JSON.stringify(done.counts)}`);

    // The floor: the same rows into the same tables of another account, by COPY.
    const [copy] = (await deps.db.knex('accounts').insert({ type: 'customer', name: 'Bench CSV copy' }).returning('id')) as { id: string }[];
    const dump = await dumpAccount(deps.db.knex, database, accountId, copy!.id);
    const floorSeconds = await copyIn(deps.db.knex, database, dump);
    return {
      database, rows, fileBytes, baseRssBytes, accountId,
      import: { seconds: importSeconds, rowsPerSecond: rows / importSeconds, cpuMsPerRow: importCpuMs / rows, peakRssBytes: importPeak, counts: done.counts },
      floor: { seconds: floorSeconds, rowsPerSecond: rows / floorSeconds, tableRows: dump.reduce((n, d) => n + d.rows, 0) },
    };
  } finally {
    await close();
  }
}

/** The second child: a new server on the imported database, the export (measured) from a fresh process's memory. */
async function exportPhase(database: BenchDatabase, rows: number, dir: string, accountId: string): Promise<CsvImportFigures['export']> {
  const { base, close } = await startServer(database, dir);
  try {
    collect();
    const baseRssBytes = process.memoryUsage.rss();
    const sampler = rssSampler();
    const start = performance.now();
    const cpu = process.cpuUsage();
    const exported = await fetch(`${base}/accounts/${accountId}/scim/v2/Users`, { headers: { Authorization: `Bearer ${TOKEN}`, Accept: 'text/csv' } });
    let bytes = 0;
    let lines = 0;
    for await (const chunk of Readable.fromWeb(exported.body! as unknown as import('node:stream/web').ReadableStream<Uint8Array>)) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      for (let i = buffer.indexOf(0x0a); i !== -1; i = buffer.indexOf(0x0a, i + 1)) lines++;
    }
    const seconds = (performance.now() - start) / 1000;
    const cpuMsPerRow = cpuMs(cpu) / rows;
    const peakRssBytes = sampler.stop();
    if (lines !== rows + 1) throw new Error(`export gave ${lines} lines for ${rows} users`);
    return { seconds, rowsPerSecond: rows / seconds, cpuMsPerRow, baseRssBytes, peakRssBytes, bytes };
  } finally {
    await close();
  }
}

function child<T>(args: string[]): Promise<T> {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', file, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.once('error', reject);
    proc.once('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child (${args.join(' ')}) exited ${code}`));
      try {
        resolve(JSON.parse(out.slice(out.indexOf('{'))) as T);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** One (database, size): the import and the floor in one child process, the export in another, each peak RSS its own. */
async function inChild(database: BenchDatabase, rows: number): Promise<CsvImportFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-bench-csv-'));
  try {
    const { accountId, ...imported } = await child<ImportPhase>([`--db=${database}`, `--sizes=${rows}`, '--phase=import', `--dir=${dir}`]);
    const exported = await child<CsvImportFigures['export']>([`--db=${database}`, `--sizes=${rows}`, '--phase=export', `--dir=${dir}`, `--account=${accountId}`]);
    return { ...imported, export: exported };
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (database === 'postgres') {
      const admin = knexFactory({ client: 'pg', connection: adminUrl() });
      await admin.raw(`drop database if exists ${DB_NAME} with (force)`).catch(() => undefined);
      await admin.destroy();
    }
  }
}

const mib = (bytes: number) => `${fmt(bytes / 2 ** 20)} MiB`;

export function printCsvImport(r: CsvImportFigures, log: (line: string) => void = console.log): void {
  log(`  ${r.database.padEnd(8)} ${fmt(r.rows).padStart(7)} rows (${mib(r.fileBytes)} file; ${mib(r.baseRssBytes)} RSS before)`);
  log(`    import  POST /Imports     ${fmt(r.import.rowsPerSecond).padStart(7)} rows/s  ${fmt(r.import.seconds, 2).padStart(6)} s  peak RSS ${mib(r.import.peakRssBytes)}  Node CPU ${fmt(r.import.cpuMsPerRow, 3)} ms/row`);
  log(`    floor   COPY of its rows  ${fmt(r.floor.rowsPerSecond).padStart(7)} rows/s  ${fmt(r.floor.seconds, 2).padStart(6)} s  (${fmt(r.floor.tableRows)} table rows)`);
  log(`    ratio   import/floor ${fmt((r.import.rowsPerSecond / r.floor.rowsPerSecond) * 100)} % (target ≥ 50 %)`);
  log(
    `    export  GET /Users text/csv ${fmt(r.export.rowsPerSecond).padStart(7)} rows/s  ${fmt(r.export.seconds, 2).padStart(6)} s  peak RSS ${mib(r.export.peakRssBytes)} (${mib(r.export.baseRssBytes)} before)  Node CPU ${fmt(r.export.cpuMsPerRow, 3)} ms/row  (${mib(r.export.bytes)})`,
  );
}

export async function benchCsvImport(options: { databases: { database: BenchDatabase; sizes: number[] }[]; log?: (line: string) => void }): Promise<CsvImportFigures[]> {
  const log = options.log ?? console.log;
  const all: CsvImportFigures[] = [];
  for (const { database, sizes } of options.databases) {
    for (const rows of sizes) {
      const figures = await inChild(database, rows);
      printCsvImport(figures, log);
      all.push(figures);
    }
  }
  return all;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = (arg('sizes') ?? '10000,100000').split(',').map(Number);
  const dbs = (arg('db') ?? 'postgres,pglite').split(',') as BenchDatabase[];
  const phase = arg('phase');
  const work = process.argv.includes('--child')
    ? (phase === 'export' ? exportPhase(dbs[0]!, sizes[0]!, arg('dir')!, arg('account')!) : importPhase(dbs[0]!, sizes[0]!, arg('dir')!)).then((r) => console.log(JSON.stringify(r)))
    : benchCsvImport({ databases: dbs.map((database) => ({ database, sizes })) }).then(() => undefined);
  work.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
