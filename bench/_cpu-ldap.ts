/**
 * Load-robust figures of one LDAP full sync (issue 10): CPU seconds per 1,000 users of this process (Node) and of
 * the PostgreSQL backends serving its scratch database (/proc/<pid>/stat of the backends pg_stat_activity lists,
 * sampled every 500 ms), beside wall time and peak RSS; `--floor` runs bench/ldap-pg-floor.ts instead of the sync.
 * SIZES=1 prints the characters of string parameters sent per statement. LIVE=1 collects garbage every second during
 * the run and reports the largest heap left (the live heap, what grows with the directory when something is kept).
 *
 * Run: node --import tsx --expose-gc bench/_cpu-ldap.ts 10000 postgres [--floor]
 */
import { readFileSync } from 'node:fs';
import { ldapConnector } from '../connectors/ldap/index.js';
import type { Connector } from '../connectors/sdk/index.js';
import { migrateLatest } from '../src/db/database.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { UserService } from '../src/services/user-service.js';
import { SyncEngine } from '../src/sync/sync-engine.js';
import { peopleLdifChunks, startSlapd } from '../test/support/slapd.js';
import { openBenchDatabase, rssSampler } from './ldap-sync.js';
const N = Number(process.argv[2] ?? 10000);
const kind = (process.argv[3] ?? 'postgres') as 'postgres' | 'pglite';
const dbName = `ldapcpu_${process.pid}`;
const slapd = await startSlapd({ initialLdif: peopleLdifChunks(N, 0, undefined, { modifiedFrom: new Date(Date.now() - (N + 10) * 60_000) }) });
const { db, drop } = await openBenchDatabase(kind, dbName);
await migrateLatest(db.knex);
const [account] = await db.knex('accounts').insert({ type: 'customer', name: 'Bench' }).returning('id');
const accountId = (account as { id: string }).id;
const [source] = await db.knex('sources').insert({ account_id: accountId, name: 'ldap', kind: 'ldap', config: JSON.stringify({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn, pageSize: 500, defaultCountry: 'BE' }) }).returning('id');
const engine = new SyncEngine({ db, users: new UserService(db.knex, systemClock), clock: systemClock, logger: silentLogger, connectors: new Map([['ldap', ldapConnector as Connector]]) });
const tick = 100; // USER_HZ
const backendCpu = new Map<number, number>();
const sampleBackends = async () => {
  if (kind !== 'postgres') return;
  const { rows } = (await db.knex.raw('select pid from pg_stat_activity where datname = current_database()')) as { rows: { pid: number }[] };
  for (const { pid } of rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      backendCpu.set(pid, (Number(f[11]) + Number(f[12])) / tick);
    } catch { /* gone */ }
  }
};
const SIZES = new Map<string, { bytes: number; n: number; twoByte: number }>();
if (process.env.SIZES) db.knex.on('query', (q: { sql: string; bindings?: unknown[] }) => {
  const key = q.sql.replace(/\s+/g, ' ').slice(0, 70);
  const e = SIZES.get(key) ?? { bytes: 0, n: 0, twoByte: 0 };
  for (const b of q.bindings ?? []) if (typeof b === 'string') { e.bytes += b.length; if (/[^\u0000-\u00ff]/.test(b)) e.twoByte++; }
  e.n++; SIZES.set(key, e);
});
await sampleBackends();
const before = new Map(backendCpu);
const timer = setInterval(() => void sampleBackends(), 500);
(globalThis as { gc?: () => void }).gc?.();
const base = process.memoryUsage.rss();
const rss = rssSampler();
let liveHeap = 0;
const gc = (globalThis as { gc?: () => void }).gc;
const live = process.env.LIVE && gc ? setInterval(() => (gc(), (liveHeap = Math.max(liveHeap, process.memoryUsage().heapUsed))), 1000) : undefined;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const floorMode = process.argv.includes('--floor');
const r = floorMode
  ? await (async () => {
      const { ldapPgFloor } = await import('./ldap-pg-floor.js');
      const { ATTRIBUTES, PAGE_SIZE } = await import('./ldap-sync-floor.js');
      const { syncRunsRepo } = await import('../src/db/sync-runs-repo.js');
      const run = await syncRunsRepo.insert(db.knex, { accountId, sourceId: (source as { id: string }).id, mode: 'full', trigger: 'bench', dryRun: false, allowDeletes: false, at: new Date() });
      const f = await ldapPgFloor({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn, attributes: ATTRIBUTES, pageSize: PAGE_SIZE }, { db, accountId, sourceId: (source as { id: string }).id, runId: run.id });
      return { status: 'floor', counts: { created: f.entries } };
    })()
  : await engine.run(accountId, (source as { id: string }).id, { mode: 'full' });
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
clearInterval(timer);
clearInterval(live);
await sampleBackends();
const peak = rss.stop();
let dbCpu = 0;
for (const [pid, s] of backendCpu) dbCpu += s - (before.get(pid) ?? 0);
const node = (cpu.user + cpu.system) / 1e6;
const k = N / 1000;
console.log(JSON.stringify({ status: r.status, created: r.counts.created, n: N, kind, wall: +secs.toFixed(2), nodeCpuPer1k: +(node / k).toFixed(3), dbCpuPer1k: +(dbCpu / k).toFixed(3), nodeCpu: +node.toFixed(2), dbCpu: +dbCpu.toFixed(2), peakMiB: Math.round(peak / 2 ** 20), ...(live ? { liveHeapMiB: +(liveHeap / 2 ** 20).toFixed(1) } : {}), baseMiB: Math.round(base / 2 ** 20), load: readFileSync('/proc/loadavg', 'utf8').split(' ')[0] }));
for (const [k, v] of [...SIZES].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 8)) console.log(v.bytes, v.n, v.twoByte, k);
await slapd.stop();
await drop();
