/**
 * PBX sync benchmark (issue 12): a MiVB users export of N rows read over SFTP from a real OpenSSH sshd (the MiVB
 * connector: download with the content hash, two streaming CSV passes, the mapper) and synced by the engine.
 * Reported per size: the full sync's users/s and peak RSS (flat from 10,000 to 100,000 rows means the file layer
 * streams), the run of an unchanged export (idle; target < 100 ms), and, after 1,000 rows changed, the connector's
 * read of the changed export alone (download, hash, parse, map) beside the engine's whole run (the rest is writing).
 * The floor of this run: the LDAP full sync's users/s at the largest size (bench/ldap-sync.ts, same engine, same
 * database), target ≥ 90 %.
 *
 * sshd and the export files live in this (parent) process; each size syncs in a child process of its own, so the
 * child's peak RSS is the sync's alone. The child asks the parent for the changed export on stdout.
 *
 * Run: npx tsx bench/pbx-sync.ts [--sizes=10000,100000] [--changes=1000] [--ldap=100000]
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chown, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mivbConnector } from '../connectors/mivb/index.js';
import type { Connector, JsonValue, SourceItem } from '../connectors/sdk/index.js';
import { mivbExportChunks } from '../connectors/testing/pbx-fixtures.js';
import { migrateLatest } from '../src/db/database.js';
import type { SyncCounts } from '../src/db/sync-runs-repo.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { UserService } from '../src/services/user-service.js';
import { SyncEngine } from '../src/sync/sync-engine.js';
import { startSshd, SFTP_USER, type Sshd } from '../test/support/sshd.js';
import { benchLdapSync, openBenchDatabase, rssSampler, type LdapSyncFigures } from './ldap-sync.js';

export interface PbxSyncFigures {
  rows: number;
  full: { seconds: number; usersPerSecond: number; peakRssBytes: number; baseRssBytes: number; counts: SyncCounts };
  unchanged: { ms: number; idle: boolean };
  changed: { rows: number; readSeconds: number; runSeconds: number; counts: SyncCounts };
}

interface SftpAccess {
  location: string;
  password: string;
  hostKeySha256: string;
}

/** Writes an export of `rows` rows as the SFTP user's file, its modification time `ageMs` in the past. */
async function writeExport(sshd: Sshd, name: string, rows: number, changed: number, ageMs: number): Promise<void> {
  const path = join(sshd.dir, name);
  const out = createWriteStream(path);
  const step = Math.max(1, Math.floor(rows / Math.max(1, changed)));
  const indexes = new Set(Array.from({ length: changed }, (_, i) => i * step));
  for (const chunk of mivbExportChunks(rows, changed > 0 ? { changed: { indexes, version: 2 } } : {})) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  const { execFileSync } = await import('node:child_process');
  await chown(path, Number(execFileSync('id', ['-u', SFTP_USER]).toString()), Number(execFileSync('id', ['-g', SFTP_USER]).toString()));
  const at = new Date(Date.now() - ageMs);
  await utimes(path, at, at);
}

async function childRun(rows: number, changes: number, sftp: SftpAccess, askForChanges: () => Promise<void>): Promise<PbxSyncFigures> {
  const { db, drop } = await openBenchDatabase('postgres');
  try {
    await migrateLatest(db.knex);
    const [account] = await db.knex('accounts').insert({ type: 'customer', name: 'Bench' }).returning('id');
    const accountId = (account as { id: string }).id;
    const config = { ...sftp, clusterId: 'bench' };
    const [source] = await db.knex('sources')
      .insert({ account_id: accountId, name: 'mivb', kind: 'mivb', config: JSON.stringify(config), delete_threshold_count: rows, delete_threshold_percent: 100 })
      .returning('id');
    const sourceId = (source as { id: string }).id;
    const engine = new SyncEngine({ db, users: new UserService(db.knex, systemClock), clock: systemClock, logger: silentLogger, connectors: new Map([['mivb', mivbConnector as Connector]]) });

    (globalThis as { gc?: () => void }).gc?.();
    const baseRssBytes = process.memoryUsage.rss();
    const rss = rssSampler();
    const start = performance.now();
    const full = await engine.run(accountId, sourceId, { mode: 'full' });
    const fullSeconds = (performance.now() - start) / 1000;
    const peakRssBytes = rss.stop();
    if (full.status !== 'succeeded' || full.counts.created !== rows) throw new Error(`full run ${full.status} ${JSON.stringify(full.counts)}: ${full.error}`);

    const idleStart = performance.now();
    const idle = await engine.run(accountId, sourceId, { mode: 'incremental' });
    const idleMs = performance.now() - idleStart;
    if (idle.status !== 'succeeded') throw new Error(`unchanged run ${idle.status}: ${idle.error}`);

    await askForChanges();
    // The connector's read of the changed export alone, from the saved state: what the engine's run waits for.
    const saved = (await db.knex('sources').where({ id: sourceId }).first('state')) as { state: JsonValue };
    const parsed = mivbConnector.parseConfig(config);
    const readStart = performance.now();
    let read = 0;
    for await (const item of mivbConnector.read(parsed, { mode: 'incremental', state: saved.state }) as AsyncIterable<SourceItem>) if (item.type === 'record') read++;
    const readSeconds = (performance.now() - readStart) / 1000;
    if (read !== rows) throw new Error(`the changed export read ${read} records, not ${rows}`);
    const runStart = performance.now();
    const changed = await engine.run(accountId, sourceId, { mode: 'incremental' });
    const runSeconds = (performance.now() - runStart) / 1000;
    if (changed.status !== 'succeeded' || changed.counts.updated !== changes) throw new Error(`changed run ${changed.status} ${JSON.stringify(changed.counts)}: ${changed.error}`);
    return {
      rows,
      full: { seconds: fullSeconds, usersPerSecond: rows / fullSeconds, peakRssBytes, baseRssBytes, counts: full.counts },
      unchanged: { ms: idleMs, idle: idle.idle },
      changed: { rows: changes, readSeconds, runSeconds, counts: changed.counts },
    };
  } finally {
    await drop();
  }
}

async function runSize(sshd: Sshd, rows: number, changes: number): Promise<PbxSyncFigures> {
  const name = `mivb-${rows}.csv`;
  await writeExport(sshd, name, rows, 0, 120_000);
  const access: SftpAccess = { location: sshd.url(join(sshd.dir, name)), password: sshd.password, hostKeySha256: sshd.hostKeySha256 };
  const file = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', file, '--child', `--sizes=${rows}`, `--changes=${changes}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.write(`${JSON.stringify(access)}\n`);
  const lines = createInterface({ input: child.stdout });
  return new Promise<PbxSyncFigures>((resolve, reject) => {
    let result: PbxSyncFigures | undefined;
    lines.on('line', (line) => {
      if (line === 'changes?') {
        // The changed export: another modification time, settled before the read, as a nightly export is.
        void writeExport(sshd, name, rows, changes, 60_000).then(() => child.stdin.write('go\n'), reject);
      } else if (line.startsWith('{')) result = JSON.parse(line) as PbxSyncFigures;
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`bench child (${rows}) exited ${code}`))));
  });
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mib = (bytes: number) => `${fmt(bytes / 2 ** 20)} MiB`;

export interface PbxSyncBenchOptions {
  sizes: number[];
  changes: number;
  /** The LDAP full sync measured in this run as the floor (on PostgreSQL). */
  ldapEntries: number;
  log?: (line: string) => void;
}

export async function benchPbxSync(options: PbxSyncBenchOptions): Promise<{ pbx: PbxSyncFigures[]; ldap: LdapSyncFigures | undefined }> {
  const log = options.log ?? console.log;
  const sshd = await startSshd();
  const pbx: PbxSyncFigures[] = [];
  try {
    for (const rows of options.sizes) {
      const r = await runSize(sshd, rows, Math.min(options.changes, rows));
      pbx.push(r);
      log(`  postgres ${fmt(r.rows).padStart(7)} rows`);
      log(`    full   sync over SFTP              ${fmt(r.full.usersPerSecond).padStart(7)} users/s  ${fmt(r.full.seconds, 2).padStart(6)} s  peak RSS ${mib(r.full.peakRssBytes)} (${mib(r.full.baseRssBytes)} before the run)`);
      log(`    unchanged export                   ${fmt(r.unchanged.ms, 1).padStart(7)} ms (idle: ${r.unchanged.idle}; target < 100 ms)`);
      log(`    ${fmt(r.changed.rows)} rows changed: read ${fmt(r.changed.readSeconds, 2)} s (download, hash, parse, map: the connector alone), run ${fmt(r.changed.runSeconds, 2)} s (so writing ≈ ${fmt(Math.max(0, r.changed.runSeconds - r.changed.readSeconds), 2)} s)  ${JSON.stringify({ updated: r.changed.counts.updated, unchanged: r.changed.counts.unchanged })}`);
    }
  } finally {
    await sshd.stop();
  }
  const [ldap] = await benchLdapSync({ databases: [{ database: 'postgres', sizes: [options.ldapEntries] }], changes: 1_000, rounds: 1, log: () => undefined });
  if (ldap) {
    log(`  floor  LDAP full sync, ${fmt(ldap.entries)} slapd entries (postgres, this run)  ${fmt(ldap.full.usersPerSecond).padStart(7)} users/s  ${fmt(ldap.full.seconds, 2)} s`);
    const largest = [...pbx].sort((a, b) => b.rows - a.rows)[0];
    if (largest) log(`  ratio  MiVB over SFTP / LDAP users/s at ${fmt(largest.rows)}: ${fmt((largest.full.usersPerSecond / ldap.full.usersPerSecond) * 100)} % (target ≥ 90 %)`);
  }
  if (pbx.length >= 2) {
    const [small, large] = [pbx[0]!, pbx.at(-1)!];
    log(`  peak RSS ${fmt(small.rows)} → ${fmt(large.rows)} rows: ${mib(small.full.peakRssBytes)} → ${mib(large.full.peakRssBytes)} (target: flat)`);
  }
  return { pbx, ldap };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const sizes = (arg('sizes') ?? '10000,100000').split(',').map(Number);
  const changes = Number(arg('changes') ?? 1000);
  if (process.argv.includes('--child')) {
    const input = createInterface({ input: process.stdin });
    const next = (): Promise<string> => new Promise((resolve) => input.once('line', resolve));
    (async () => {
      const access = JSON.parse(await next()) as SftpAccess;
      const result = await childRun(sizes[0]!, changes, access, async () => {
        console.log('changes?');
        await next();
      });
      console.log(JSON.stringify(result));
      input.close();
    })().catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  } else {
    benchPbxSync({ sizes, changes, ldapEntries: Number(arg('ldap') ?? Math.max(...sizes)) }).catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  }
}
