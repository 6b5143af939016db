/**
 * Entra sync benchmark (issue 11): a full sync of N users served by the Graph test server through the Entra
 * connector and the sync engine (users/s, peak RSS), then an incremental run after `changes` users changed; beside
 * them the floor of this run: the LDAP full sync's users/s (bench/ldap-sync.ts, same engine, same machine, same
 * database), so the ratio says whether the connector is the bottleneck (target ≥ 90 %).
 *
 * The Graph test server runs in this (parent) process with its N users; each (database, size) sync runs in a child
 * process of its own, so the child's peak RSS is the sync's alone (flat from 10,000 to 100,000 users means the
 * connector and the engine stream). The child does the full run, then asks the parent to change `changes` users,
 * then runs incrementally: that time should follow the changes, not the tenant (equal at 10,000 and 100,000).
 *
 * Run: npx tsx bench/entra-sync.ts [--sizes=10000,100000] [--changes=1000] [--db=postgres|pglite] [--ldap=100000]
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { entraConnector } from '../connectors/entra/index.js';
import { GraphTestServer } from '../connectors/entra/testing/graph-test-server.js';
import type { Connector } from '../connectors/sdk/index.js';
import type { SyncCounts } from '../src/db/sync-runs-repo.js';
import { benchLdapSync, type BenchDatabase, type LdapSyncFigures } from './ldap-sync.js';
import { benchChildMain, fmt, mib, runBenchChild, withBenchSource, type FullRunFigures } from './source-sync-child.js';
import { arg } from './bench-util.js';

export interface EntraSyncFigures {
  database: BenchDatabase;
  users: number;
  full: FullRunFigures;
  incremental: { changed: number; seconds: number; counts: SyncCounts };
}

interface GraphAccess {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  url: string;
  caCertPem: string;
}

/** The child: full run, then (after the parent changed `changes` users) an incremental one. */
async function childRun(database: BenchDatabase, users: number, changes: number, graph: GraphAccess, askForChanges: () => Promise<void>): Promise<EntraSyncFigures> {
  const config = { ...graph, authorityUrl: graph.url, graphUrl: graph.url, url: undefined };
  return withBenchSource({ database, dbName: 'switchboard_bench_entra', kind: 'entra', connector: entraConnector as Connector, config }, async ({ engine, accountId, sourceId, fullRun }) => {
    const full = await fullRun(users);
    await askForChanges();
    const incStart = performance.now();
    const inc = await engine.run(accountId, sourceId, { mode: 'incremental' });
    const incSeconds = (performance.now() - incStart) / 1000;
    if (inc.status !== 'succeeded' || inc.counts.updated !== changes) throw new Error(`incremental run ${inc.status} ${JSON.stringify(inc.counts)}: ${inc.error}`);
    return { database, users, full, incremental: { changed: changes, seconds: incSeconds, counts: inc.counts } };
  });
}

/** One (database, size): the Graph test server here, the sync in a child; the child asks for the changes on stdout. */
async function runSize(database: BenchDatabase, users: number, changes: number): Promise<EntraSyncFigures> {
  const graph = await GraphTestServer.start();
  try {
    const app = graph.registerApp();
    const tenant = graph.addUsers(users);
    graph.defaultPageSize = 999;
    const access: GraphAccess = { tenantId: graph.tenantId, clientId: app.clientId, clientSecret: app.clientSecret!, url: graph.url, caCertPem: graph.caCertPem };
    const step = Math.floor(users / changes);
    return await runBenchChild<EntraSyncFigures>(fileURLToPath(import.meta.url), [`--db=${database}`, `--sizes=${users}`, `--changes=${changes}`], access, () => {
      for (let i = 0; i < changes; i++) graph.updateUser(tenant[i * step]!.id, { jobTitle: `Changed ${i}` });
    });
  } finally {
    await graph.stop();
  }
}

export interface EntraSyncBenchOptions {
  databases: { database: BenchDatabase; sizes: number[] }[];
  changes: number;
  /** The LDAP full sync measured in this run as the floor (its largest size, on PostgreSQL). */
  ldapEntries: number;
  log?: (line: string) => void;
}

export async function benchEntraSync(options: EntraSyncBenchOptions): Promise<{ entra: EntraSyncFigures[]; ldap: LdapSyncFigures | undefined }> {
  const log = options.log ?? console.log;
  const entra: EntraSyncFigures[] = [];
  for (const { database, sizes } of options.databases) {
    for (const users of sizes) {
      const r = await runSize(database, users, Math.min(options.changes, users));
      entra.push(r);
      log(`  ${r.database.padEnd(8)} ${fmt(r.users).padStart(7)} users`);
      log(`    full   sync                   ${fmt(r.full.usersPerSecond).padStart(7)} users/s    ${fmt(r.full.seconds, 2).padStart(6)} s  peak RSS ${mib(r.full.peakRssBytes)} (${mib(r.full.baseRssBytes)} before the run)  retries ${r.full.counts.retries}`);
      log(`    incr   ${fmt(r.incremental.changed)} changed, read again whole in JSON batches  ${fmt(r.incremental.seconds, 2).padStart(6)} s  ${JSON.stringify({ updated: r.incremental.counts.updated, unchanged: r.incremental.counts.unchanged })}`);
    }
  }
  const [ldap] = await benchLdapSync({ databases: [{ database: 'postgres', sizes: [options.ldapEntries] }], changes: 1_000, rounds: 1, log: () => undefined });
  if (ldap) {
    log(`  floor  LDAP full sync, ${fmt(ldap.entries)} slapd entries (postgres, this run)  ${fmt(ldap.full.usersPerSecond).padStart(7)} users/s  ${fmt(ldap.full.seconds, 2)} s`);
    const largest = entra.filter((r) => r.database === 'postgres').sort((a, b) => b.users - a.users)[0];
    if (largest) log(`  ratio  Entra/LDAP users/s at ${fmt(largest.users)} (postgres): ${fmt((largest.full.usersPerSecond / ldap.full.usersPerSecond) * 100)} % (target ≥ 90 %)`);
  }
  for (const { database } of options.databases) {
    const runs = entra.filter((r) => r.database === database).sort((a, b) => a.users - b.users);
    if (runs.length < 2) continue;
    const [small, large] = [runs[0]!, runs.at(-1)!];
    log(`  ${database}: peak RSS ${fmt(small.users)} → ${fmt(large.users)} users: ${mib(small.full.peakRssBytes)} → ${mib(large.full.peakRssBytes)}; ${fmt(small.incremental.changed)} changes: ${fmt(small.incremental.seconds, 2)} s → ${fmt(large.incremental.seconds, 2)} s`);
  }
  return { entra, ldap };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = (arg('sizes') ?? '10000,100000').split(',').map(Number);
  const changes = Number(arg('changes') ?? 1000);
  const dbs = (arg('db') ?? 'postgres').split(',') as BenchDatabase[];
  if (process.argv.includes('--child')) {
    benchChildMain<GraphAccess>((access, askForChanges) => childRun(dbs[0]!, sizes[0]!, changes, access, askForChanges));
  } else {
    benchEntraSync({ databases: dbs.map((database) => ({ database, sizes })), changes, ldapEntries: Number(arg('ldap') ?? Math.max(...sizes)) }).catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  }
}
