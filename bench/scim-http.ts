/**
 * SCIM over HTTP: Switchboard (express 5 + knex) on PostgreSQL against its floor (bench/floor-server.ts, bare
 * node:http + pg with the same SQL hand-written), both over the same scratch database `switchboard_bench`
 * seeded with 100,000 users (bench/seed-users.ts). autocannon drives each scenario at 2 and 16 connections.
 * Each server runs in its own child process (autocannon in this one), so neither shares an event loop with the
 * load generator. Then: EXPLAIN of the `sw`/`co` filters (trigram indexes), cursor page at 90,000 vs page 1,
 * and a shorter section on embedded PGlite.
 *
 * Run: npx tsx bench/scim-http.ts [--users=100000] [--duration=5] [--no-pglite]
 * The PostgreSQL server is BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432); the scratch database
 * switchboard_bench is dropped and recreated on each run and dropped at the end.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { usersRepo } from '../src/db/users-repo.js';
import { compileListFilter } from '../src/db/list-filter.js';
import { seedUsers } from './seed-users.js';
import { arg, fmt } from './bench-util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const OPERATOR_TOKEN = 'bench_operator_token_0123456789abcdefghijklmnopqrstuv';
/** BENCH_DB_NAME: another scratch database name, so two runs on one PostgreSQL server do not drop each other's. */
const DB_NAME = process.env.BENCH_DB_NAME ?? 'switchboard_bench';
/** BENCH_SCENARIOS: comma-separated scenario name prefixes to run (e.g. "GET /Users/{id},filter userName eq"); default all. */
const SCENARIO_PREFIXES = process.env.BENCH_SCENARIOS?.split(',').map((s) => s.trim()).filter((s) => s !== '');
/** BENCH_SWITCHBOARD_NODE_ARGS: extra node arguments for the Switchboard child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const SWITCHBOARD_NODE_ARGS = process.env.BENCH_SWITCHBOARD_NODE_ARGS?.split(' ').filter((s) => s !== '') ?? [];
/** BENCH_FLOOR_NODE_ARGS: the same for the floor's child. */
const FLOOR_NODE_ARGS = process.env.BENCH_FLOOR_NODE_ARGS?.split(' ').filter((s) => s !== '') ?? [];
type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------
// Child process side: Switchboard started in-process (startServer), an account, a token, the seed.
// ---------------------------------------------------------------------------------------------------------

/**
 * The server under test is the compiled build (dist/, what `npm start` runs), not the TypeScript sources through
 * tsx: tsx's transform adds work of its own (a name-keeping helper call per closure created, for one).
 */
const distRoot = path.resolve(here, '..', 'dist');
function buildDist(): void {
  execFileSync(process.execPath, [path.resolve(here, '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.resolve(here, '..', 'tsconfig.json')], { stdio: 'inherit' });
}

async function serveSwitchboard(): Promise<void> {
  const env = process.env;
  const { loadConfig } = (await import(pathToFileURL(path.join(distRoot, 'src', 'config.js')).href)) as typeof import('../src/config.js');
  const { startServer } = (await import(pathToFileURL(path.join(distRoot, 'src', 'server.js')).href)) as typeof import('../src/server.js');
  const dataDir = env.BENCH_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));
  const server = await startServer(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ...(env.BENCH_DATABASE_URL ? { DATABASE_URL: env.BENCH_DATABASE_URL } : {}),
      SWITCHBOARD_BOOTSTRAP_TOKEN: OPERATOR_TOKEN,
      LOG_LEVEL: 'silent',
      SCHEDULER_ENABLED: 'false',
      MAIL_WORKER_ENABLED: 'false',
      // Load tests send thousands of requests a second on one token: the per-token limit would be the figure measured.
      RATE_LIMITS: 'off',
    }),
    {},
    () => {},
  );
  const call = async (method: string, url: string, token: string, body?: unknown) => {
    const res = await fetch(`${server.url}${url}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Json;
    if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const account = await call('POST', '/scim/v2/Accounts', OPERATOR_TOKEN, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Bench Corp', type: 'customer' });
  const token = await call('POST', `/accounts/${String(account.id)}/scim/v2/Tokens`, OPERATOR_TOKEN, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'account-admin' });
  // The identity provider's token: its writes go through the scim source (links, ownership), without the welcome email.
  const idpToken = await call('POST', `/accounts/${String(account.id)}/scim/v2/Tokens`, OPERATOR_TOKEN, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' });
  const seed = await seedUsers(server.deps.db.knex, { accountId: String(account.id), count: Number(env.BENCH_SEED ?? 100_000), updatedBy: `account-admin:${String(token.id)}` });
  console.log(JSON.stringify({ url: server.url, token: token.token, tokenId: token.id, idpToken: idpToken.token, accountId: account.id, seedMs: seed.ms, database: server.deps.db.kind }));
  const shutdown = () =>
    void server.stop().then(() => {
      if (!env.BENCH_DATA_DIR && !env.BENCH_DATABASE_URL) fs.rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

// ---------------------------------------------------------------------------------------------------------
// Parent side.
// ---------------------------------------------------------------------------------------------------------

interface Child {
  info: Json;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `node --import tsx <file> <args>` and waits for its one JSON line on stdout. */
function startChild(file: string, args: string[], env: Record<string, string>, timeoutMs = 600_000, nodeArgs: string[] = []): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', file, ...args], {
      env: { ...process.env, NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(file)} did not start in ${timeoutMs} ms`));
    }, timeoutMs);
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(file)} exited with ${code} before it was ready`));
    });
    const lines = readline.createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve({
        info: JSON.parse(line) as Json,
        pid: child.pid!,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(t);
        },
      });
    });
  });
}

interface Target {
  name: string;
  url: string;
  token: string;
  /** The server process, for its CPU time per request. */
  pid?: number;
}

/** user + system CPU time of a process in ms, from /proc (Linux), or NaN. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** CPU time the server process spent per request (ms): what the stack costs, whatever the machine's load. */
  cpuMsPerRequest: number;
}

/** One request; `token` replaces the target's (the identity provider's provisioning token on Switchboard). */
type Gen = () => { method?: 'GET' | 'POST' | 'PATCH'; path: string; body?: string; token?: string };

async function load(target: Target, connections: number, seconds: number, gen: Gen): Promise<LoadFigures> {
  const cpuBefore = cpuMs(target.pid);
  const result = await autocannon({
    url: target.url,
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/scim+json' },
    requests: [
      {
        setupRequest: (request) => {
          const next = gen();
          return {
            ...request,
            method: next.method ?? 'GET',
            path: next.path,
            ...(next.body !== undefined ? { body: next.body } : {}),
            ...(next.token !== undefined ? { headers: { ...request.headers, 'content-type': 'application/scim+json', authorization: `Bearer ${next.token}` } } : {}),
          };
        },
      },
    ],
  });
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    cpuMsPerRequest: (cpuMs(target.pid) - cpuBefore) / Math.max(1, result.requests.total),
  };
}

async function getJson(target: Target, url: string, init: RequestInit = {}): Promise<{ status: number; body: Json; ms: number }> {
  const start = performance.now();
  const res = await fetch(`${target.url}${url}`, {
    ...init,
    headers: { Authorization: `Bearer ${target.token}`, 'Content-Type': 'application/scim+json', ...(init.headers as Record<string, string> | undefined) },
  });
  const text = await res.text();
  const ms = performance.now() - start;
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, ms };
}

const q = (filter: string) => `/scim/v2/Users?filter=${encodeURIComponent(filter)}`;
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/** Walks the default order with nextCursor (pages of 1,000) until `depth` users are behind; returns the cursor and the ids seen. */
async function walkCursor(target: Target, depth: number): Promise<{ cursor: string; users: { id: string; userName: string }[]; ms: number }> {
  const start = performance.now();
  let cursor = '';
  const users: { id: string; userName: string }[] = [];
  while (users.length < depth) {
    const { status, body } = await getJson(target, `/scim/v2/Users?cursor=${encodeURIComponent(cursor)}&count=${Math.min(1000, depth - users.length)}`);
    if (status !== 200) throw new Error(`${target.name}: cursor walk answered ${status} ${JSON.stringify(body).slice(0, 300)}`);
    for (const r of body.Resources as Json[]) users.push({ id: String(r.id), userName: String(r.userName) });
    if (typeof body.nextCursor !== 'string') throw new Error(`${target.name}: no nextCursor after ${users.length} users`);
    cursor = body.nextCursor;
  }
  return { cursor, users, ms: performance.now() - start };
}

/** Deterministic shuffle (same order for both servers). */
function shuffled<T>(items: T[], seed = 42): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const rotate = <T>(items: T[]) => {
  let i = 0;
  return () => items[i++ % items.length];
};

export interface ScenarioRow {
  scenario: string;
  connections: number;
  switchboard: LoadFigures;
  floor?: LoadFigures;
  /** switchboard req/s ÷ floor req/s. */
  ratio?: number;
}

export interface CursorTiming {
  firstPageMs: number;
  deepPageMs: number;
  /** deep ÷ first, medians of sequential requests. */
  ratio: number;
}

export interface ScimHttpResult {
  users: number;
  seedSeconds: number;
  shapeCheck: string[];
  rows: ScenarioRow[];
  explain: { name: string; usesTrigram: boolean | undefined; plan: string }[];
  deep: number;
  cursor: { switchboard: CursorTiming; floor: CursorTiming };
  pglite?: { seedSeconds: number; rows: ScenarioRow[]; cursor: CursorTiming };
  targets: { name: string; value: string; met: boolean }[];
}

/** Compares the shape of a seeded user with one created through the API from the same document. */
async function shapeCheck(knex: Knex, target: Target, accountId: string, seededId: string): Promise<string[]> {
  const problems: string[] = [];
  const got = await getJson(target, `/scim/v2/Users/${seededId}`);
  if (got.status !== 200) return [`GET of a seeded user answered ${got.status}`];
  const doc = { ...got.body };
  for (const key of ['id', 'meta', 'groups', 'urn:switchboard:scim:schemas:extension:2.0:User']) delete doc[key];
  doc.schemas = (doc.schemas as string[]).filter((s) => !s.startsWith('urn:switchboard'));
  const fresh = `shape.check.${Date.now()}@corp.example`;
  doc.userName = fresh;
  doc.emails = (doc.emails as Json[]).map((e, i) => ({ ...e, value: i === 0 ? fresh : `shape.${Date.now()}@mail.example` }));
  const created = await getJson(target, '/scim/v2/Users', { method: 'POST', body: JSON.stringify(doc) });
  if (created.status !== 201) return [`POST of the seeded document answered ${created.status}: ${JSON.stringify(created.body)}`];
  const apiId = String(created.body.id);
  const shape = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(shape) : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).sort().map(([k, v]) => [k, shape(v)])) : value === null ? 'null' : typeof value;
  const [seeded, api] = await Promise.all(
    [seededId, apiId].map(async (id) => ({
      user: (await knex('users').where({ account_id: accountId, id }).first()) as Json,
      emails: (await knex('user_emails').where({ account_id: accountId, user_id: id }).orderBy('position').select('position', 'type', 'is_primary')) as Json[],
    })),
  );
  for (const column of Object.keys(api.user)) {
    if (['id', 'user_name', 'primary_email', 'created_at', 'updated_at', 'data', 'resource'].includes(column)) continue;
    if (JSON.stringify(seeded.user[column]) !== JSON.stringify(api.user[column])) problems.push(`users.${column}: seeded ${JSON.stringify(seeded.user[column])}, API ${JSON.stringify(api.user[column])}`);
  }
  if (JSON.stringify(shape(seeded.user.resource)) !== JSON.stringify(shape(api.user.resource))) problems.push(`users.resource shape differs: seeded ${JSON.stringify(shape(seeded.user.resource))} API ${JSON.stringify(shape(api.user.resource))}`);
  if (JSON.stringify(shape(seeded.user.data)) !== JSON.stringify(shape(api.user.data))) problems.push(`users.data shape differs: seeded ${JSON.stringify(shape(seeded.user.data))} API ${JSON.stringify(shape(api.user.data))}`);
  if (JSON.stringify(seeded.emails) !== JSON.stringify(api.emails)) problems.push(`user_emails differ: seeded ${JSON.stringify(seeded.emails)} API ${JSON.stringify(api.emails)}`);
  const seededGet = JSON.stringify(shape({ ...got.body, id: 'x' }));
  const apiGet = await getJson(target, `/scim/v2/Users/${apiId}`);
  if (seededGet !== JSON.stringify(shape({ ...apiGet.body, id: 'x' }))) problems.push('GET bodies differ in shape');
  const del = await getJson(target, `/scim/v2/Users/${apiId}`, { method: 'DELETE' });
  if (del.status !== 204) problems.push(`DELETE of the check user answered ${del.status}`);
  return problems;
}

/** EXPLAIN of a statement as knex sent it ($n placeholders), on a plain pg client. */
async function explainSql(url: string, query: { sql: string; bindings: readonly unknown[] }): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain ${query.sql}`, query.bindings as unknown[]);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.end();
  }
}

/**
 * The select statements `run` sends, as knex sent them. It runs in a transaction: there the repo's reads go through
 * knex (outside one they take a pooled connection directly, unseen by knex's query events).
 */
async function captureSelects(knex: Knex, run: (trx: Knex.Transaction) => Promise<unknown>): Promise<{ sql: string; bindings: readonly unknown[] }[]> {
  const captured: { sql: string; bindings: readonly unknown[] }[] = [];
  const listener = (query: { sql: string; bindings?: readonly unknown[] }) => {
    if (/^\s*select/i.test(query.sql)) captured.push({ sql: query.sql, bindings: query.bindings ?? [] });
  };
  knex.on('query', listener);
  try {
    await knex.transaction(run);
  } finally {
    knex.removeListener('query', listener);
  }
  return captured;
}

/** EXPLAIN (no ANALYZE) of the statements Switchboard's list runs for a filter. */
async function explainFilter(knex: Knex, url: string, accountId: string, filter: string): Promise<string[]> {
  const where = compileListFilter(filter, 'user', accountId);
  const captured = await captureSelects(knex, async (trx) => {
    await usersRepo.count(trx, accountId, where);
    await usersRepo.list(trx, accountId, { where, withGroups: true, limit: 100 });
  });
  const plans: string[] = [];
  for (const query of captured) plans.push(await explainSql(url, query));
  return plans;
}

async function cursorTiming(target: Target, deepCursor: string, samples = 40): Promise<CursorTiming> {
  const first: number[] = [];
  const deep: number[] = [];
  for (let i = 0; i < samples; i++) {
    const a = await getJson(target, '/scim/v2/Users?cursor=&count=100');
    const b = await getJson(target, `/scim/v2/Users?cursor=${encodeURIComponent(deepCursor)}&count=100`);
    if (a.status !== 200 || b.status !== 200) throw new Error(`${target.name}: cursor page answered ${a.status}/${b.status}`);
    if (i >= 5) {
      first.push(a.ms);
      deep.push(b.ms);
    }
  }
  const firstPageMs = pct(first, 50);
  const deepPageMs = pct(deep, 50);
  return { firstPageMs, deepPageMs, ratio: deepPageMs / firstPageMs };
}

function cells(f: LoadFigures | undefined): string {
  if (!f) return `${'—'.padStart(8)} ${''.padStart(7)} ${''.padStart(7)} ${''.padStart(6)}`;
  const flag = f.non2xx + f.errors > 0 ? ` !${f.non2xx + f.errors}` : '';
  return `${fmt(f.rps).padStart(8)} ${fmt(f.p50, 1).padStart(7)} ${fmt(f.p99, 1).padStart(7)} ${fmt(f.cpuMsPerRequest, 2).padStart(6)}${flag}`;
}

export function formatTable(rows: ScenarioRow[], labels = ['switchboard', 'floor']): string {
  const head = `${'scenario'.padEnd(40)} ${'conn'.padStart(4)} | ${labels[0].padEnd(8)}  req/s     p50     p99    cpu | ${labels[1].padEnd(8)}  req/s     p50     p99    cpu | ratio`;
  const lines = [head, '-'.repeat(head.length)];
  for (const r of rows) {
    lines.push(`${r.scenario.padEnd(40)} ${String(r.connections).padStart(4)} | ${cells(r.switchboard).padEnd(38)} | ${cells(r.floor).padEnd(38)} | ${r.ratio === undefined ? '' : `${fmt(r.ratio * 100)} %`}`);
  }
  lines.push('(req/s over the whole run; p50/p99 latency in ms; cpu = server process CPU ms per request; ratio = switchboard req/s ÷ floor req/s; "!n" = n non-2xx or errors)');
  return lines.join('\n');
}

export interface ScimHttpOptions {
  users?: number;
  /** Seconds per load phase. */
  duration?: number;
  connections?: number[];
  pglite?: boolean;
  log?: (line: string) => void;
}

export async function benchScimHttp(options: ScimHttpOptions = {}): Promise<ScimHttpResult> {
  const users = options.users ?? 100_000;
  const seconds = options.duration ?? 5;
  const connectionsList = options.connections ?? [2, 16];
  const log = options.log ?? console.log;
  const serverUrl = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
  const dbUrl = `${serverUrl}/${DB_NAME}`;
  const deep = Math.min(90_000, Math.floor(users * 0.9));

  log('building dist/ (tsc) …');
  buildDist();
  const admin = knexFactory({ client: 'pg', connection: `${serverUrl}/postgres`, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${DB_NAME} with (force)`);
  await admin.raw(`create database ${DB_NAME}`);

  const children: Child[] = [];
  const knex = knexFactory({ client: 'pg', connection: dbUrl, pool: { min: 0, max: 2 } });
  try {
    log(`seeding ${fmt(users)} users into PostgreSQL ${DB_NAME} …`);
    const sbChild = await startChild(fileURLToPath(import.meta.url), ['--serve-switchboard'], { BENCH_DATABASE_URL: dbUrl, BENCH_SEED: String(users) }, undefined, SWITCHBOARD_NODE_ARGS);
    children.push(sbChild);
    const { accountId, token, idpToken } = sbChild.info as { accountId: string; token: string; idpToken: string };
    const seedSeconds = Number(sbChild.info.seedMs) / 1000;
    log(`  seeded in ${fmt(seedSeconds, 1)} s (users + user_emails, set-based SQL)`);
    const sb: Target = { name: 'switchboard', url: String(sbChild.info.url), token, pid: sbChild.pid };
    const floorChild = await startChild(path.join(here, 'floor-server.ts'), [], { FLOOR_DATABASE_URL: dbUrl, FLOOR_ACCOUNT_ID: accountId, FLOOR_TOKEN: token }, undefined, FLOOR_NODE_ARGS);
    children.push(floorChild);
    const floor: Target = { name: 'floor', url: String(floorChild.info.url), token, pid: floorChild.pid };

    // Both servers walk to the deep position with nextCursor; the walk also yields the ids and userNames.
    const sbWalk = await walkCursor(sb, deep);
    const floorWalk = await walkCursor(floor, deep);
    log(`  cursor walk to ${fmt(deep)} in pages of 1,000: switchboard ${fmt(sbWalk.ms / 1000, 1)} s, floor ${fmt(floorWalk.ms / 1000, 1)} s`);
    if (sbWalk.users[deep - 1].id !== floorWalk.users[deep - 1].id) throw new Error('switchboard and the floor disagree on the order of users');

    const shapeProblems = await shapeCheck(knex, sb, accountId, sbWalk.users[41].id);
    log(shapeProblems.length === 0 ? '  seed shape check: OK (users columns, data, user_emails and GET body match a user POSTed through the API)' : `  seed shape check FAILED:\n    ${shapeProblems.join('\n    ')}`);

    const sample = shuffled(sbWalk.users).slice(0, 5000);
    const fragments = sample.map((u) => u.userName.split('@')[0].split('.').slice(1).join('.')).filter((f) => f.length >= 4);
    const runId = Date.now().toString(36);
    let created = 0;
    let patched = 0;
    const scenarios: { name: string; gen: (t: Target) => Gen }[] = [
      { name: 'GET /Users/{id}', gen: () => { const next = rotate(sample); return () => ({ path: `/scim/v2/Users/${next().id}` }); } },
      { name: 'filter userName eq', gen: () => { const next = rotate(sample); return () => ({ path: q(`userName eq "${next().userName}"`) }); } },
      // The same two reads against the floor's read of one stored document (users.resource) from one table.
      { name: 'GET /Users/{id} [stored floor]', gen: (t) => { const next = rotate(sample); return () => ({ path: `${t === sb ? '' : '/stored'}/scim/v2/Users/${next().id}` }); } },
      { name: 'filter userName eq [stored floor]', gen: (t) => { const next = rotate(sample); return () => ({ path: `${t === sb ? '' : '/stored'}${q(`userName eq "${next().userName}"`)}` }); } },
      { name: 'filter name.familyName sw "Smi"', gen: () => () => ({ path: q('name.familyName sw "Smi"') }) },
      { name: 'filter emails.value co "<frag>"', gen: () => { const next = rotate(fragments); return () => ({ path: q(`emails.value co "${next()}"`) }); } },
      { name: `page 100 by index (startIndex ${fmt(deep + 1)})`, gen: () => () => ({ path: `/scim/v2/Users?startIndex=${deep + 1}&count=100` }) },
      {
        name: `page 100 by cursor (at ${fmt(deep)})`,
        gen: (t) => { const cursor = encodeURIComponent(t === sb ? sbWalk.cursor : floorWalk.cursor); return () => ({ path: `/scim/v2/Users?cursor=${cursor}&count=100` }); },
      },
      {
        name: 'POST /Users',
        gen: () => () => ({ method: 'POST', path: '/scim/v2/Users', body: newUserBody(created++) }),
      },
      {
        name: 'PATCH /Users/{id} (replace title)',
        gen: () => {
          const next = rotate(sample);
          return () => ({ method: 'PATCH', path: `/scim/v2/Users/${next().id}`, body: titlePatch(patched++) });
        },
      },
      {
        name: 'POST /Users (identity provider)',
        // The floor's /idp writes what an identity provider's write writes (row, stored document, emails, link, audit) in one statement.
        gen: (t) => () => ({ method: 'POST', path: t === sb ? '/scim/v2/Users' : '/idp/scim/v2/Users', body: newUserBody(created++), ...(t === sb ? { token: idpToken } : {}) }),
      },
      {
        name: 'PATCH /Users/{id} (identity provider)',
        gen: (t) => {
          const next = rotate(sample);
          return () => ({ method: 'PATCH', path: `${t === sb ? '' : '/idp'}/scim/v2/Users/${next().id}`, body: titlePatch(patched++), ...(t === sb ? { token: idpToken } : {}) });
        },
      },
    ];
    function newUserBody(n: number): string {
      const userName = `bench.${runId}.${n}@post.example`;
      return JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
        userName,
        name: { formatted: 'Bench Poster', givenName: 'Bench', familyName: 'Poster' },
        displayName: 'Bench Poster',
        title: 'Engineer',
        active: true,
        emails: [{ type: 'work', value: userName, primary: true }],
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { employeeNumber: String(n), department: 'Sales' },
      });
    }
    function titlePatch(n: number): string {
      return JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: `Title ${runId} ${n}` }] });
    }

    // Warm-up: JIT, pools, caches on both sides.
    for (const t of [sb, floor]) await load(t, 16, 2, scenarios[0].gen(t));

    const rows: ScenarioRow[] = [];
    for (const scenario of scenarios) {
      if (SCENARIO_PREFIXES && !SCENARIO_PREFIXES.some((prefix) => scenario.name.startsWith(prefix))) continue;
      for (const connections of connectionsList) {
        const s = await load(sb, connections, seconds, scenario.gen(sb));
        const f = await load(floor, connections, seconds, scenario.gen(floor));
        // A side answering errors measured something else: no ratio (a target over it reads 0, NOT MET).
        const clean = s.non2xx + s.errors + f.non2xx + f.errors === 0;
        const row: ScenarioRow = { scenario: scenario.name, connections, switchboard: s, floor: f, ratio: clean ? s.rps / f.rps : undefined };
        rows.push(row);
        const ratioText = row.ratio === undefined ? `no ratio: ${s.non2xx + s.errors} switchboard and ${f.non2xx + f.errors} floor answers were errors` : `${fmt(row.ratio * 100)} %`;
        log(`  ${scenario.name.padEnd(40)} c=${String(connections).padStart(2)}  switchboard ${fmt(s.rps).padStart(6)} req/s  floor ${fmt(f.rps).padStart(6)} req/s  ${ratioText}`);
      }
    }

    const explain: ScimHttpResult['explain'] = [];
    for (const [name, filter, index] of [
      ['name.familyName sw "Smi"', 'name.familyName sw "Smi"', 'users_lower_family_name_trgm_idx'],
      [`emails.value co "${fragments[0]}"`, `emails.value co "${fragments[0]}"`, 'user_emails_lower_value_trgm_idx'],
    ] as const) {
      const [countPlan, pagePlan] = await explainFilter(knex, dbUrl, accountId, filter);
      explain.push({ name: `${name} — count`, usesTrigram: countPlan.includes(index), plan: countPlan });
      explain.push({ name: `${name} — page of 100`, usesTrigram: pagePlan.includes(index), plan: pagePlan });
    }
    const [deepPosition] = (await knex('users').where({ account_id: accountId }).orderBy([{ column: 'created_at' }, { column: 'id' }]).offset(deep - 1).limit(1).select(knex.raw('created_at::text as v'), 'id')) as { v: string; id: string }[];
    const captured = await captureSelects(knex, (trx) => usersRepo.list(trx, accountId, { withGroups: true, limit: 101, after: { value: deepPosition.v, id: deepPosition.id } }));
    const cursorPlan = await explainSql(dbUrl, captured[0]);
    explain.push({ name: `cursor page at ${fmt(deep)} (keyset)`, usesTrigram: undefined, plan: cursorPlan });

    const cursor = { switchboard: await cursorTiming(sb, sbWalk.cursor), floor: await cursorTiming(floor, floorWalk.cursor) };

    for (const c of children.splice(0)) await c.stop();

    let pglite: ScimHttpResult['pglite'];
    if (options.pglite !== false) {
      log(`PGlite: seeding ${fmt(users)} users into an embedded PGlite …`);
      const pgChild = await startChild(fileURLToPath(import.meta.url), ['--serve-switchboard'], { BENCH_SEED: String(users) });
      children.push(pgChild);
      const pg: Target = { name: 'switchboard-pglite', url: String(pgChild.info.url), token: String(pgChild.info.token), pid: pgChild.pid };
      const pgSeedSeconds = Number(pgChild.info.seedMs) / 1000;
      log(`  seeded in ${fmt(pgSeedSeconds, 1)} s`);
      const pgWalk = await walkCursor(pg, deep);
      log(`  cursor walk to ${fmt(deep)}: ${fmt(pgWalk.ms / 1000, 1)} s`);
      const pgSample = shuffled(pgWalk.users).slice(0, 5000);
      const pgScenarios: { name: string; gen: Gen; pgRow: string }[] = [
        { name: 'GET /Users/{id}', gen: (() => { const next = rotate(pgSample); return () => ({ path: `/scim/v2/Users/${next().id}` }); })(), pgRow: 'GET /Users/{id}' },
        { name: 'filter userName eq', gen: (() => { const next = rotate(pgSample); return () => ({ path: q(`userName eq "${next().userName}"`) }); })(), pgRow: 'filter userName eq' },
        { name: `page 100 by cursor (at ${fmt(deep)})`, gen: () => ({ path: `/scim/v2/Users?cursor=${encodeURIComponent(pgWalk.cursor)}&count=100` }), pgRow: `page 100 by cursor (at ${fmt(deep)})` },
      ];
      await load(pg, 16, 2, pgScenarios[0].gen);
      const pgRows: ScenarioRow[] = [];
      for (const scenario of pgScenarios) {
        if (SCENARIO_PREFIXES && !SCENARIO_PREFIXES.some((prefix) => scenario.name.startsWith(prefix))) continue;
        for (const connections of connectionsList) {
          const f = await load(pg, connections, Math.max(2, Math.round(seconds * 0.6)), scenario.gen);
          const onPg = rows.find((r) => r.scenario === scenario.pgRow && r.connections === connections)?.switchboard;
          // Here the comparison column is Switchboard on PostgreSQL (same scenario), not the floor.
          pgRows.push({ scenario: scenario.name, connections, switchboard: f, floor: onPg, ratio: onPg ? f.rps / onPg.rps : undefined });
          log(`  ${scenario.name.padEnd(40)} c=${String(connections).padStart(2)}  pglite ${fmt(f.rps).padStart(6)} req/s`);
        }
      }
      pglite = { seedSeconds: pgSeedSeconds, rows: pgRows, cursor: await cursorTiming(pg, pgWalk.cursor, 20) };
      for (const c of children.splice(0)) await c.stop();
    }

    const ratioOf = (scenario: string) => Math.min(...rows.filter((r) => r.scenario === scenario).map((r) => r.ratio ?? 0));
    const getRatio = ratioOf('GET /Users/{id}');
    const eqRatio = ratioOf('filter userName eq');
    const storedGet = ratioOf('GET /Users/{id} [stored floor]');
    const storedEq = ratioOf('filter userName eq [stored floor]');
    const atTwo = (scenario: string) => rows.find((r) => r.scenario === scenario && r.connections === 2)?.ratio ?? 0;
    const idpPost = atTwo('POST /Users (identity provider)');
    const idpPatch = atTwo('PATCH /Users/{id} (identity provider)');
    const targets = [
      { name: 'GET /Users/{id} ≥ 80 % of the stored-document floor (worst of 2/16 connections)', value: `${fmt(storedGet * 100)} %`, met: storedGet >= 0.8 },
      { name: 'filter userName eq ≥ 80 % of the stored-document floor (worst of 2/16 connections)', value: `${fmt(storedEq * 100)} %`, met: storedEq >= 0.8 },
      { name: 'POST /Users (identity provider) ≥ 60 % of the floor writing the same rows (2 connections)', value: `${fmt(idpPost * 100)} %`, met: idpPost >= 0.6 },
      { name: 'PATCH /Users/{id} (identity provider) ≥ 60 % of the floor writing the same rows (2 connections)', value: `${fmt(idpPatch * 100)} %`, met: idpPatch >= 0.6 },
      { name: 'GET /Users/{id} ≥ 70 % of floor (worst of 2/16 connections)', value: `${fmt(getRatio * 100)} %`, met: getRatio >= 0.7 },
      { name: 'filter userName eq ≥ 70 % of floor (worst of 2/16 connections)', value: `${fmt(eqRatio * 100)} %`, met: eqRatio >= 0.7 },
      { name: `cursor page at ${fmt(deep)} within 1.5× of page 1 (PostgreSQL)`, value: `${fmt(cursor.switchboard.ratio, 2)}×`, met: cursor.switchboard.ratio <= 1.5 },
      ...(pglite ? [{ name: `cursor page at ${fmt(deep)} within 1.5× of page 1 (PGlite)`, value: `${fmt(pglite.cursor.ratio, 2)}×`, met: pglite.cursor.ratio <= 1.5 }] : []),
    ];
    return { users, seedSeconds, shapeCheck: shapeProblems, rows, explain, deep, cursor, pglite, targets };
  } finally {
    for (const c of children) await c.stop().catch(() => undefined);
    await knex.destroy();
    await admin.raw(`drop database if exists ${DB_NAME} with (force)`).catch(() => undefined);
    await admin.destroy();
  }
}

export function printScimHttp(result: ScimHttpResult, log: (line: string) => void = console.log): void {
  log('');
  log(`SCIM over HTTP — Switchboard on PostgreSQL vs the node:http + pg floor, ${fmt(result.users)} users (seeded in ${fmt(result.seedSeconds, 1)} s)`);
  log(formatTable(result.rows));
  log('');
  log('EXPLAIN (ANALYZE off) of the SQL Switchboard runs:');
  for (const e of result.explain) {
    log(`-- ${e.name}${e.usesTrigram === undefined ? '' : e.usesTrigram ? '  [trigram index: yes]' : '  [trigram index: NO]'}`);
    log(e.plan.split('\n').map((l) => `   ${l}`).join('\n'));
  }
  log('');
  const c = result.cursor;
  log('Cursor page of 100 (cursor= for page 1), median of 35 sequential requests (ms):');
  log(`  switchboard  page 1 ${fmt(c.switchboard.firstPageMs, 2)}  at ${fmt(result.deep)} ${fmt(c.switchboard.deepPageMs, 2)}  ratio ${fmt(c.switchboard.ratio, 2)}×`);
  log(`  floor        page 1 ${fmt(c.floor.firstPageMs, 2)}  at ${fmt(result.deep)} ${fmt(c.floor.deepPageMs, 2)}  ratio ${fmt(c.floor.ratio, 2)}×`);
  if (result.pglite) {
    const p = result.pglite;
    log('');
    log(`Switchboard on embedded PGlite (same ${fmt(result.users)} users, seeded in ${fmt(p.seedSeconds, 1)} s); compared with Switchboard on PostgreSQL`);
    log(formatTable(p.rows, ['pglite', 'postgres']).replace('ratio = switchboard req/s ÷ floor req/s', 'ratio = PGlite req/s ÷ PostgreSQL req/s'));
    log(`  cursor page 1 ${fmt(p.cursor.firstPageMs, 2)} ms, at ${fmt(result.deep)} ${fmt(p.cursor.deepPageMs, 2)} ms, ratio ${fmt(p.cursor.ratio, 2)}×`);
  }
  log('');
  log('Targets:');
  for (const t of result.targets) log(`  ${t.met ? 'MET    ' : 'NOT MET'}  ${t.name}: ${t.value}`);
  if (result.shapeCheck.length > 0) log(`  seed shape check problems: ${result.shapeCheck.join('; ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--serve-switchboard')) {
    await serveSwitchboard();
  } else {
    const result = await benchScimHttp({ users: Number(arg('users') ?? 100_000), duration: Number(arg('duration') ?? 5), pglite: !process.argv.includes('--no-pglite') });
    printScimHttp(result);
  }
}
