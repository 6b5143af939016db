/**
 * `npm run bench`: every benchmark in turn, each with its figures and its ratio to its floor.
 *   scim-http   Switchboard SCIM over HTTP vs a bare node:http + pg floor (bench/scim-http.ts)
 *   mail        outbox + MailWorker vs a bare nodemailer pool (bench/mail-throughput.ts)
 *   ldap-floor  LDAP connector read vs paged ldapsearch (bench/ldap-sync-floor.ts)
 *   ldap-sync   full sync of 10,000 and 100,000 slapd entries vs the same ldapts read writing the same rows by COPY (the floor,
 *               bench/ldap-pg-floor.ts; target ≤ 1.5×), best of two alternating runs each, peak RSS of each size, then an
 *               incremental run of 1,000 changes; on PostgreSQL and PGlite (bench/ldap-sync.ts)
 *   ldap-1m     full sync of 1,000,000 slapd entries beside 100,000 (PostgreSQL, the sync alone): it completes, peak RSS ≤ 400 MiB,
 *               users/s ≥ 90 % of the 100,000 run's; not in the default run (about 10 minutes on a quiet machine, the slapadd included)
 *   entra-sync  full sync of 10,000 and 100,000 users from the Graph test server (Entra connector + engine) vs the LDAP full
 *               sync's users/s in the same run (the floor, target ≥ 90 %), peak RSS of each size, then 1,000 changes read
 *               incrementally; on PostgreSQL (bench/entra-sync.ts)
 *   pbx-sync    full sync of a 10,000- and 100,000-row MiVB export over SFTP (real sshd) vs the LDAP full sync's users/s in
 *               the same run (the floor, target ≥ 90 %), peak RSS of each size, the unchanged export (idle, < 100 ms), and
 *               1,000 changed rows (the connector's read and the whole run apart); on PostgreSQL (bench/pbx-sync.ts)
 *   post-load   POST /Users as an identity provider at 8 concurrent into one account: users/s per block of 10,000, last ÷ first
 *               (target ≥ 0.90: writes do not serialise on the account) (bench/post-load.ts)
 *   actions     bench/actions-throughput.ts, when that file exists
 *   csv-import  POST /Imports of 10,000 and 100,000 rows vs COPY of the same rows into the same tables (the floor), peak RSS of
 *               each size, and GET /Users as text/csv of the users imported; on PostgreSQL and PGlite (bench/csv-import.ts)
 *   filter-or   issue 13 item 17: `emails.value co` chains of 10, 100 and 400 terms (and 400 `userName co`) as POST /Users/.search over
 *               50,000 users vs the matching rows read once by a bare statement (the floor), on PostgreSQL (bench/filter-or.ts)
 *   console     the admin console in Chromium: JavaScript shipped sign-in → Users page vs 150 KB, the Users page's first list and
 *               search-as-you-type results vs their GET /Users alone (the floor), 100,000 users on PostgreSQL (bench/console.ts)
 * Options: --only=<name>[,<name>…]  --post-users=N --post-block=N (post-load, default 100000 and 10000)  --users=N (scim-http, default 100000)  --duration=S (scim-http, default 5)
 *          --mail=N (default 10000)  --ldap=N (largest LDAP size, default 100000)  --ldap-pglite=N (PGlite's, default 100000)  --ldap-1m=N (default 1000000)  --actions=N (default 10000, the action size)  --csv=N (largest CSV size, default 100000)  --entra=N (largest Entra size, default 100000)  --pbx=N (largest MiVB export, default 100000)  --console-users=N (default 100000)  --filter-users=N (default 50000)  --no-pglite
 * The actions size is below its file's default: it writes every user through UserService.apply, about 100 users/s
 * on a 2-core machine, and `npm run bench` should stay under 15 minutes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { arg, fmt } from './bench-util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = arg('only')?.split(',').map((s) => s.trim());

/** Run only when named in --only (too long for the default run). */
const OPT_IN = new Set(['ldap-1m']);

const benches: { name: string; run: () => Promise<void> }[] = [
  {
    name: 'scim-http',
    async run() {
      const { benchScimHttp, printScimHttp } = await import('./scim-http.js');
      const result = await benchScimHttp({ users: Number(arg('users') ?? 100_000), duration: Number(arg('duration') ?? 5), pglite: !process.argv.includes('--no-pglite') });
      printScimHttp(result);
    },
  },
  {
    name: 'mail',
    async run() {
      const { benchMailThroughput } = await import('./mail-throughput.js');
      const r = await benchMailThroughput(Number(arg('mail') ?? 10_000));
      console.log(`Mail delivery, ${fmt(r.count)} messages to an in-process SMTP sink (database ${r.database}):`);
      console.log(`  floor  (nodemailer pool)      ${fmt(r.floor.emailsPerSecond).padStart(6)} emails/s  ${fmt(r.floor.ms)} ms  duplicates ${r.floor.duplicates}  missing ${r.floor.missing}`);
      console.log(`  outbox (rows + MailWorker)    ${fmt(r.outbox.emailsPerSecond).padStart(6)} emails/s  ${fmt(r.outbox.ms)} ms drain (+ ${fmt(r.outbox.enqueueMs)} ms enqueue)  duplicates ${r.outbox.duplicates}  missing ${r.outbox.missing}`);
      console.log(`  ratio outbox/floor: ${fmt((r.outbox.emailsPerSecond / r.floor.emailsPerSecond) * 100)} %`);
    },
  },
  {
    name: 'ldap-floor',
    async run() {
      const { benchLdapFloor } = await import('./ldap-sync-floor.js');
      const r = await benchLdapFloor(Number(arg('ldap') ?? 100_000));
      console.log(`LDAP read, ${fmt(r.entries)} entries (slapadd load ${fmt(r.loadSeconds, 1)} s):`);
      console.log(`  floor     (paged ldapsearch)    ${fmt(r.ldapsearch.entriesPerSecond).padStart(7)} entries/s  ${fmt(r.ldapsearch.seconds, 2)} s`);
      console.log(`  connector (read + map to SCIM)  ${fmt(r.connector.entriesPerSecond).padStart(7)} entries/s  ${fmt(r.connector.seconds, 2)} s  peak RSS +${fmt(r.connector.peakRssDeltaBytes / 2 ** 20, 1)} MiB  warnings ${r.connector.warnings}`);
      console.log(`  ratio connector/floor: ${fmt(r.ratioToFloor * 100)} %`);
    },
  },
  {
    name: 'ldap-sync',
    async run() {
      const { benchLdapSync } = await import('./ldap-sync.js');
      const largest = Number(arg('ldap') ?? 100_000);
      const pglite = Number(arg('ldap-pglite') ?? 100_000);
      const sizes = (n: number) => [...new Set([Math.min(10_000, n), n])];
      console.log(`LDAP full sync (sync engine, batches of 1,000) vs its floor (the same ldapts read and rows by COPY, bench/ldap-pg-floor.ts), best of two alternating runs; each size in a child process of its own:`);
      if (pglite < largest) console.log(`  (PGlite runs ${fmt(pglite)} entries at most, not ${fmt(largest)}: --ldap-pglite)`);
      await benchLdapSync({
        changes: 1_000,
        databases: [
          { database: 'postgres', sizes: sizes(largest) },
          ...(process.argv.includes('--no-pglite') ? [] : [{ database: 'pglite' as const, sizes: sizes(pglite) }]),
        ],
      });
    },
  },
  {
    name: 'ldap-1m',
    async run() {
      const { benchLdapSync } = await import('./ldap-sync.js');
      const largest = Number(arg('ldap-1m') ?? 1_000_000);
      const base = Math.min(100_000, largest);
      console.log(`LDAP full sync at ${fmt(largest)} entries vs ${fmt(base)} (PostgreSQL, one sync each, no floor; targets: it completes, peak RSS ≤ 400 MiB, users/s ≥ 90 % of the ${fmt(base)} run's):`);
      const [small, large] = await benchLdapSync({ databases: [{ database: 'postgres', sizes: [base, largest] }], changes: 1_000, rounds: 1, floors: false });
      if (small && large) {
        const ratio = large.full.usersPerSecond / small.full.usersPerSecond;
        const rss = large.full.peakRssBytes / 2 ** 20;
        console.log(`  users/s ${fmt(largest)} ÷ ${fmt(base)}: ${fmt(ratio * 100)} % (target ≥ 90 %: ${ratio >= 0.9 ? 'MET' : 'NOT MET'}); peak RSS ${fmt(small.full.peakRssBytes / 2 ** 20)} → ${fmt(rss)} MiB (target ≤ 400: ${rss <= 400 ? 'MET' : 'NOT MET'})`);
      }
    },
  },
  {
    name: 'entra-sync',
    async run() {
      const { benchEntraSync } = await import('./entra-sync.js');
      const largest = Number(arg('entra') ?? 100_000);
      console.log('Entra sync (Graph test server in this process, the sync in a child per size, batches of 1,000) vs the LDAP full sync of the same size in this run:');
      await benchEntraSync({ databases: [{ database: 'postgres', sizes: [...new Set([Math.min(10_000, largest), largest])] }], changes: 1_000, ldapEntries: largest });
    },
  },
  {
    name: 'pbx-sync',
    async run() {
      const { benchPbxSync } = await import('./pbx-sync.js');
      const largest = Number(arg('pbx') ?? 100_000);
      console.log('PBX sync: a MiVB users export over SFTP (OpenSSH sshd; the sync in a child per size, batches of 1,000) vs the LDAP full sync of the same size in this run:');
      await benchPbxSync({ sizes: [...new Set([Math.min(10_000, largest), largest])], changes: 1_000, ldapEntries: largest });
    },
  },
  {
    name: 'post-load',
    async run() {
      const { benchPostLoad, printPostLoad } = await import('./post-load.js');
      printPostLoad(await benchPostLoad({ users: Number(arg('post-users') ?? 100_000), block: Number(arg('post-block') ?? 10_000), concurrency: 8 }));
    },
  },
  {
    name: 'actions',
    async run() {
      const file = path.join(here, 'actions-throughput.ts');
      if (!fs.existsSync(file)) {
        console.log('bench/actions-throughput.ts is not there (yet): skipped.');
        return;
      }
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      const bench = mod.benchActionsThroughput;
      if (typeof bench !== 'function') {
        console.log('bench/actions-throughput.ts exports no benchActionsThroughput: skipped.');
        return;
      }
      const result: unknown = await (bench as (users: number) => Promise<unknown>)(Number(arg('actions') ?? 10_000));
      const print = mod.printActionsThroughput;
      if (typeof print === 'function') (print as (r: unknown) => void)(result);
      else console.log(`Actions throughput:\n${JSON.stringify(result, null, 2)}`);
    },
  },
  {
    name: 'csv-import',
    async run() {
      const { benchCsvImport } = await import('./csv-import.js');
      const largest = Number(arg('csv') ?? 100_000);
      const sizes = [...new Set([Math.min(10_000, largest), largest])];
      console.log('CSV import (POST /Imports, batches through UserService.write) vs COPY of the same rows into the same tables; export GET /Users text/csv; each size in a child process:');
      await benchCsvImport({
        databases: [{ database: 'postgres', sizes }, ...(process.argv.includes('--no-pglite') ? [] : [{ database: 'pglite' as const, sizes }])],
      });
    },
  },
  {
    name: 'filter-or',
    async run() {
      const { benchFilterOr, printFilterOr } = await import('./filter-or.js');
      console.log('Filters joining many terms with or (issue 13 item 17):');
      printFilterOr(await benchFilterOr(Number(arg('filter-users') ?? 50_000)));
    },
  },
  {
    name: 'console',
    async run() {
      const { benchConsole, printConsole } = await import('./console.js');
      const users = Number(arg('console-users') ?? 100_000);
      console.log(`Admin console in Chromium (playwright-core, /usr/bin/chromium), an account of ${fmt(users)} users:`);
      printConsole(await benchConsole(users));
    },
  },
];

if (only) {
  const unknown = only.filter((name) => !benches.some((b) => b.name === name));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; choose from ${benches.map((b) => b.name).join(', ')}`);
    process.exit(2);
  }
}

const cpus = os.cpus();
console.log(`Switchboard benchmarks — ${new Date().toISOString()} — ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, Node ${process.version}`);
let failed = 0;
for (const bench of benches) {
  if (only ? !only.includes(bench.name) : OPT_IN.has(bench.name)) continue;
  console.log(`\n=== ${bench.name} ===`);
  const start = performance.now();
  try {
    await bench.run();
  } catch (error) {
    failed++;
    console.error(`${bench.name} failed:`, error);
  }
  console.log(`(${bench.name}: ${fmt((performance.now() - start) / 1000, 1)} s)`);
}
process.exit(failed > 0 ? 1 : 0);
