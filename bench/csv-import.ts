/**
 * CSV import and export benchmark (issue 14), through the real server over HTTP (createDeps + createApp):
 *   import  POST /Imports of an N-row file (background past 1,000 rows) until the import has finished: rows/s and
 *           peak RSS; beside it the floor, the same rows the import wrote (users, their email, phone and extension
 *           rows, audit entries, the import and its row outcomes) COPYed into the same tables of another account
 *           in one transaction (COPY FROM STDIN on PostgreSQL, COPY FROM '/dev/blob' on PGlite): the database
 *           taking these rows with no per-row work at all. Target: import rows/s ≥ 50 % of the floor's.
 *   export  GET /Users with Accept: text/csv of the N users just imported, read to the end: rows/s and peak RSS.
 *
 * Each (database, size) runs in a child process of its own, so its peak RSS is its own: flat memory from 10,000
 * to 100,000 rows means the two children peak alike. PostgreSQL runs use a scratch database
 * `switchboard_bench_csv` (dropped and created by the child, dropped at its end); PGlite runs use a data directory
 * in a temp dir.
 *
 * Run: npx tsx bench/csv-import.ts [--sizes=10000,100000] [--db=postgres,pglite]
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  import: { seconds: number; rowsPerSecond: number; peakRssBytes: number; counts: Record<string, number> };
  floor: { seconds: number; rowsPerSecond: number; tableRows: number };
  export: { seconds: number; rowsPerSecond: number; peakRssBytes: number; bytes: number };
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

function csvOf(rows: number): string {
  const lines = [templateHeader.join(',')];
  for (let i = 0; i < rows; i++) {
    // Belgian mobiles +32 470 000000 … (valid E.164), extensions 100000 …, a few departments and titles.
    lines.push(`First${i},Last${i},user${i}@example.com,+32470${String(i).padStart(6, '0')},BE,${100_000 + i},no,,,Dept ${i % 20},Title ${i % 50}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The rows the account holds in each written table, as COPY text with the account id replaced by `copyId`. */
async function dumpAccount(knex: Knex, kind: BenchDatabase, accountId: string, copyId: string): Promise<{ table: string; columns: string[]; text: string; rows: number }[]> {
  const out: { table: string; columns: string[]; text: string; rows: number }[] = [];
  for (const table of WRITTEN_TABLES) {
    const { rows } = (await knex.raw(
      `select column_name from information_schema.columns where table_schema = current_schema() and table_name = ? and is_identity = 'NO' and is_generated = 'NEVER' order by ordinal_position`,
      [table],
    )) as { rows: { column_name: string }[] };
    const columns = rows.map((r) => r.column_name);
    const select = columns.map((c) => (c === 'account_id' ? `'${copyId}'::uuid` : c)).join(', ');
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

export async function benchCsvImportOnce(database: BenchDatabase, rows: number): Promise<CsvImportFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-bench-csv-'));
  let admin: Knex | undefined;
  let url: string | undefined;
  if (database === 'postgres') {
    admin = knexFactory({ client: 'pg', connection: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await admin.raw(`drop database if exists ${DB_NAME} with (force)`);
    await admin.raw(`create database ${DB_NAME}`);
    url = `${(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres').replace(/\/[^/]*$/, '')}/${DB_NAME}`;
  }
  const config = loadConfig({
    DATA_DIR: dir, ...(url ? { DATABASE_URL: url } : {}), SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', IMPORT_MAX_BYTES: '200mb', LOG_LEVEL: 'silent', RATE_LIMITS: 'off',
  });
  const deps = await createDeps(config, { logger: silentLogger });
  const server = http.createServer(createApp(deps));
  try {
    await deps.tokens.bootstrap({ bootstrapToken: TOKEN, dataDir: dir, print: () => undefined });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const created = await fetch(`${base}/scim/v2/Accounts`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Bench CSV', type: 'customer' }),
    });
    const accountId = ((await created.json()) as { id: string }).id;
    const scim = `${base}/accounts/${accountId}/scim/v2`;
    const file = join(dir, 'users.csv');
    const text = csvOf(rows);
    await writeFile(file, text);
    const fileBytes = Buffer.byteLength(text);
    (globalThis as { gc?: () => void }).gc?.();
    const baseRssBytes = process.memoryUsage.rss();

    let sampler = rssSampler();
    let start = performance.now();
    const posted = await fetch(`${scim}/Imports`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'text/csv', 'Content-Length': String(fileBytes) },
      body: Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>, duplex: 'half',
    } as RequestInit);
    const started = (await posted.json()) as { id: string; status: string };
    if (posted.status !== 201 && posted.status !== 202) throw new Error(`import answered ${posted.status}: ${JSON.stringify(started)}`);
    await deps.imports!.drain();
    const importSeconds = (performance.now() - start) / 1000;
    const importPeak = sampler.stop();
    const done = (await (await fetch(`${scim}/Imports/${started.id}?excludedAttributes=results`, { headers: auth })).json()) as { status: string; counts: Record<string, number> };
    if (done.status !== 'succeeded' || done.counts.created !== rows) throw new Error(`import ended ${done.status}: ${JSON.stringify(done.counts)}`);

    // The floor: the same rows into the same tables of another account, by COPY.
    const [copy] = (await deps.db.knex('accounts').insert({ type: 'customer', name: 'Bench CSV copy' }).returning('id')) as { id: string }[];
    const dump = await dumpAccount(deps.db.knex, database, accountId, copy!.id);
    const floorSeconds = await copyIn(deps.db.knex, database, dump);

    (globalThis as { gc?: () => void }).gc?.();
    sampler = rssSampler();
    start = performance.now();
    const exported = await fetch(`${scim}/Users`, { headers: { ...auth, Accept: 'text/csv' } });
    let bytes = 0;
    let lines = 0;
    for await (const chunk of Readable.fromWeb(exported.body! as unknown as import('node:stream/web').ReadableStream<Uint8Array>)) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      for (let i = buffer.indexOf(0x0a); i !== -1; i = buffer.indexOf(0x0a, i + 1)) lines++;
    }
    const exportSeconds = (performance.now() - start) / 1000;
    const exportPeak = sampler.stop();
    if (lines !== rows + 1) throw new Error(`export gave ${lines} lines for ${rows} users`);

    return {
      database, rows, fileBytes, baseRssBytes,
      import: { seconds: importSeconds, rowsPerSecond: rows / importSeconds, peakRssBytes: importPeak, counts: done.counts },
      floor: { seconds: floorSeconds, rowsPerSecond: rows / floorSeconds, tableRows: dump.reduce((n, d) => n + d.rows, 0) },
      export: { seconds: exportSeconds, rowsPerSecond: rows / exportSeconds, peakRssBytes: exportPeak, bytes },
    };
  } finally {
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    await deps.close();
    await rm(dir, { recursive: true, force: true });
    if (admin) {
      await admin.raw(`drop database if exists ${DB_NAME} with (force)`).catch(() => undefined);
      await admin.destroy();
    }
  }
}

function inChild(database: BenchDatabase, rows: number): Promise<CsvImportFigures> {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', file, '--child', `--db=${database}`, `--sizes=${rows}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child (${database}, ${rows}) exited ${code}`));
      try {
        resolve(JSON.parse(out.slice(out.indexOf('{'))) as CsvImportFigures);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

const mib = (bytes: number) => `${fmt(bytes / 2 ** 20)} MiB`;

export function printCsvImport(r: CsvImportFigures, log: (line: string) => void = console.log): void {
  log(`  ${r.database.padEnd(8)} ${fmt(r.rows).padStart(7)} rows (${mib(r.fileBytes)} file; ${mib(r.baseRssBytes)} RSS before)`);
  log(`    import  POST /Imports     ${fmt(r.import.rowsPerSecond).padStart(7)} rows/s  ${fmt(r.import.seconds, 2).padStart(6)} s  peak RSS ${mib(r.import.peakRssBytes)}`);
  log(`    floor   COPY of its rows  ${fmt(r.floor.rowsPerSecond).padStart(7)} rows/s  ${fmt(r.floor.seconds, 2).padStart(6)} s  (${fmt(r.floor.tableRows)} table rows)`);
  log(`    ratio   import/floor ${fmt((r.import.rowsPerSecond / r.floor.rowsPerSecond) * 100)} % (target ≥ 50 %)`);
  log(`    export  GET /Users text/csv ${fmt(r.export.rowsPerSecond).padStart(7)} rows/s  ${fmt(r.export.seconds, 2).padStart(6)} s  peak RSS ${mib(r.export.peakRssBytes)}  (${mib(r.export.bytes)})`);
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
  const work = process.argv.includes('--child')
    ? benchCsvImportOnce(dbs[0]!, sizes[0]!).then((r) => console.log(JSON.stringify(r)))
    : benchCsvImport({ databases: dbs.map((database) => ({ database, sizes })) }).then(() => undefined);
  work.catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
