/**
 * Server CPU per request of the two reads of issue 10 (GET /Users/{id}, filter userName eq), Switchboard (dist/, in
 * this process) beside the stored floor (bench/floor-server.ts /stored routes), or (mode `writes`) of the identity
 * provider's two writes (POST /Users, PATCH /Users/{id} replacing title, with a provisioning token) beside the floor's
 * /idp routes, which write the same rows in one statement: a child process drives a
 * fixed number of requests (autocannon) at one server at a time, and the server's CPU time (process.cpuUsage here,
 * /proc for the floor, which runs in a process of its own) over them is divided by their number. CPU time, unlike req/s, hardly moves with the machine's load.
 * PROFILE=dir writes a .cpuprofile of each measured window (inspector), nothing of the set-up.
 *
 * Run: npm run build && node --import tsx bench/_reads-cpu.ts [users=2000] [requests=20000] [connections=2] [reads|writes]
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import inspector from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knexFactory from 'knex';
import { seedUsers } from './seed-users.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** SWITCHBOARD_DIST: another build to measure (another worktree's dist/, for an A/B on the same machine state). */
const distRoot = process.env.SWITCHBOARD_DIST ?? path.resolve(here, '..', 'dist');
const [users = 2000, requests = 20000, connections = 2] = process.argv.slice(2, 5).map(Number);
const mode = process.argv[5] ?? 'reads';
if (mode !== 'reads' && mode !== 'writes') throw new Error(`mode must be reads or writes, not ${mode}`);
const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const DB = `reads_cpu_${process.pid}`;
const TOKEN = 'reads-cpu-operator-token-0123456789abcdef0123456789abcdef';

const admin = knexFactory({ client: 'pg', connection: `${PG}/postgres` });
await admin.raw(`create database ${DB}`);
const databaseUrl = `${PG}/${DB}`;
const { loadConfig } = (await import(pathToFileURL(path.join(distRoot, 'src', 'config.js')).href)) as typeof import('../src/config.js');
const { startServer } = (await import(pathToFileURL(path.join(distRoot, 'src', 'server.js')).href)) as typeof import('../src/server.js');
const dataDir = fs.mkdtempSync('/tmp/reads-cpu-');
const server = await startServer(
  loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: databaseUrl, SWITCHBOARD_BOOTSTRAP_TOKEN: TOKEN, LOG_LEVEL: 'silent', SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', RATE_LIMITS: 'off' }),
  {},
  () => {},
);
const call = async (method: string, url: string, token: string, body?: unknown) => {
  const res = await fetch(`${server.url}${url}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const account = await call('POST', '/scim/v2/Accounts', TOKEN, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Bench Corp', type: 'customer' });
const newToken = (role: string) => call('POST', `/accounts/${String(account.id)}/scim/v2/Tokens`, TOKEN, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role });
const token = await newToken('account-admin');
const idpToken = await newToken('provisioning');
await seedUsers(server.deps.db.knex, { accountId: String(account.id), count: users, updatedBy: `account-admin:${String(token.id)}` });
// The floor in a process of its own (as bench/scim-http.ts runs it): this one carries Switchboard's AsyncLocalStorage.
const floorChild = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'floor-server.ts')], {
  env: { ...process.env, NODE_ENV: 'production', FLOOR_DATABASE_URL: databaseUrl, FLOOR_ACCOUNT_ID: String(account.id), FLOOR_TOKEN: String(token.token) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
// Whatever way this process ends, the floor ends with it.
process.once('exit', () => floorChild.kill('SIGKILL'));
const floor = await new Promise<{ url: string }>((resolve) => floorChild.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as { url: string })));
/** user and system CPU time of a process in µs, from /proc (USER_HZ 100). */
const cpuOf = (pid: number) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(fields[11]) * 10_000, system: Number(fields[12]) * 10_000 };
};
/** CPU time (µs) of a process's main thread (JavaScript) and of its other threads (V8's GC helpers, libuv's pool). */
const threadCpu = (pid: number | 'self') => {
  const out = new Map<string, number>();
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      // Every thread of node is named "node": the main thread (JavaScript) is the one whose id is the process's.
      const name = task === String(pid === 'self' ? process.pid : pid) ? 'main' : 'other threads';
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10_000);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
};
const cpuUsage = (pid: number | undefined, before?: { user: number; system: number }) => {
  const now = pid === undefined ? process.cpuUsage() : cpuOf(pid);
  return before ? { user: now.user - before.user, system: now.system - before.system } : now;
};
const sample = (await server.deps.db.knex('users').where({ account_id: account.id }).select('id', 'user_name').limit(500)) as { id: string; user_name: string }[];
const q = (filter: string) => `/scim/v2/Users?filter=${encodeURIComponent(filter)}`;
/** One request of a scenario; `{n}` in its body becomes a number of its own (each POST a new userName). */
interface Call {
  method: string;
  path: string;
  body?: string;
}
interface Scenario {
  name: string;
  /** The floor's routes for the same work: /stored (reads) or /idp (writes). */
  floorPrefix: string;
  /** Switchboard's token for it when not the account admin's (the identity provider's writes). */
  token?: string;
  calls(prefix: string): Call[];
}
// The bodies of bench/scim-http.ts (newUserBody, titlePatch).
const newUserBody = JSON.stringify({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
  userName: 'bench.{n}@post.example',
  name: { formatted: 'Bench Poster', givenName: 'Bench', familyName: 'Poster' },
  displayName: 'Bench Poster',
  title: 'Engineer',
  active: true,
  emails: [{ type: 'work', value: 'bench.{n}@post.example', primary: true }],
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { employeeNumber: '{n}', department: 'Sales' },
});
const titlePatch = JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Title {n}' }] });
const scenarios: Scenario[] =
  mode === 'reads'
    ? [
        { name: 'GET /Users/{id}', floorPrefix: '/stored', calls: (prefix) => sample.map((u) => ({ method: 'GET', path: `${prefix}/scim/v2/Users/${u.id}` })) },
        { name: 'filter userName eq', floorPrefix: '/stored', calls: (prefix) => sample.map((u) => ({ method: 'GET', path: `${prefix}${q(`userName eq "${u.user_name}"`)}` })) },
      ]
    : [
        // Switchboard first: the floor's /idp routes write as the scim source, which Switchboard's first push creates.
        { name: 'POST /Users (idp)', floorPrefix: '/idp', token: String(idpToken.token), calls: (prefix) => [{ method: 'POST', path: `${prefix}/scim/v2/Users`, body: newUserBody }] },
        { name: 'PATCH /Users/{id} (idp)', floorPrefix: '/idp', token: String(idpToken.token), calls: (prefix) => sample.map((u) => ({ method: 'PATCH', path: `${prefix}/scim/v2/Users/${u.id}`, body: titlePatch })) },
      ];
// The load generator's script goes to the scratch directory, with autocannon imported by its resolved path.
const loader = path.join(dataDir, 'load.mjs');
const autocannonUrl = pathToFileURL(createRequire(import.meta.url).resolve('autocannon')).href;
fs.writeFileSync(
  loader,
  `import autocannon from '${autocannonUrl}';
const [url, token, amount, connections, callsFile, tag] = process.argv.slice(2);
const calls = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(callsFile, 'utf8')));
let i = 0;
const r = await autocannon({ url, amount: Number(amount), connections: Number(connections), headers: { authorization: 'Bearer ' + token, 'content-type': 'application/scim+json' },
  requests: [{ setupRequest: (req) => {
    const n = i++;
    const call = calls[n % calls.length];
    return { ...req, method: call.method, path: call.path, ...(call.body ? { body: call.body.replaceAll('{n}', tag + '.' + n) } : {}) };
  } }] });
console.log(JSON.stringify({ total: r.requests.total, non2xx: r.non2xx, errors: r.errors }));`,
);
let drives = 0;
const drive = (url: string, bearer: string, calls: Call[], amount: number): Promise<{ total: number; non2xx: number }> =>
  new Promise((resolve, reject) => {
    const file = path.join(dataDir, 'calls.json');
    fs.writeFileSync(file, JSON.stringify(calls));
    const child = spawn(process.execPath, [loader, url, bearer, String(amount), String(connections), file, `${process.pid}.${drives++}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { total: number; non2xx: number }) : reject(new Error(`load exited ${code}`))));
  });
const session = new inspector.Session();
session.connect();
await session.post('Profiler.enable');
for (const s of scenarios) {
  for (const target of [
    { name: 'switchboard', url: server.url, prefix: '', token: s.token ?? String(token.token), pid: undefined as number | undefined },
    { name: 'floor', url: floor.url, prefix: s.floorPrefix, token: String(token.token), pid: floorChild.pid },
  ]) {
    const calls = s.calls(target.prefix);
    await drive(target.url, target.token, calls, 2000); // warm-up: JIT, pools, caches
    if (process.env.PROFILE && !target.pid) await session.post('Profiler.start');
    const xacts = async () => Number(((await admin.raw('select xact_commit + xact_rollback as n from pg_stat_database where datname = ?', [DB])) as { rows: { n: string }[] }).rows[0]!.n);
    const xactsBefore = await xacts();
    // STRACE=1: the write system calls of the window, counted (strace slows the server: its CPU figure is then void).
    const tracer = process.env.STRACE ? spawn('strace', ['-f', '-c', '-e', 'trace=write,writev,sendto,sendmsg,read,readv,recvfrom,epoll_wait', '-p', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] }) : undefined;
    let traced = '';
    tracer?.stderr.on('data', (d: Buffer) => (traced += d.toString()));
    if (tracer) await new Promise((done) => setTimeout(done, 1000));
    const threadsBefore = threadCpu(target.pid ?? 'self');
    const before = cpuUsage(target.pid);
    const r = await drive(target.url, target.token, calls, requests);
    const used = cpuUsage(target.pid, before);
    const threads = [...threadCpu(target.pid ?? 'self')].map(([name, us]) => [name, us - (threadsBefore.get(name) ?? 0)] as const).filter(([, us]) => us > 0);
    if (tracer) {
      const exited = new Promise((done) => tracer.once('exit', done));
      tracer.kill('SIGINT');
      await exited;
      console.log(traced);
    }
    // pg_stat_database's counters arrive with a delay (stats flush): wait for them.
    await new Promise((done) => setTimeout(done, 1500));
    const perRequest = ((await xacts()) - xactsBefore - 1) / r.total;
    if (process.env.PROFILE && !target.pid) {
      const { profile } = await session.post('Profiler.stop');
      fs.mkdirSync(process.env.PROFILE, { recursive: true });
      fs.writeFileSync(path.join(process.env.PROFILE, `${target.name}-${s.name.replace(/\W+/g, '_')}.cpuprofile`), JSON.stringify(profile));
    }
    const ms = (used.user + used.system) / 1000 / r.total;
    console.log(`${s.name.padEnd(22)} ${target.name.padEnd(12)} ${ms.toFixed(3)} ms CPU/request (user ${(used.user / 1000 / r.total).toFixed(3)}, system ${(used.system / 1000 / r.total).toFixed(3)}) over ${r.total} requests at ${connections} connections, ${perRequest.toFixed(2)} transactions/request${r.non2xx ? `, ${r.non2xx} non-2xx!` : ''}`);
    console.log(`  by thread (ms/request): ${threads.map(([name, us]) => `${name} ${(us / 1000 / r.total).toFixed(3)}`).join(', ')}`);
  }
}
floorChild.kill('SIGTERM');
await new Promise((done) => floorChild.once('exit', done));
await server.stop();
await admin.raw(`drop database if exists ${DB} with (force)`);
await admin.destroy();
fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
