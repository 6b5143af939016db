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
import { createWriteStream } from 'node:fs';
import { chown, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mivbConnector } from '../connectors/mivb/index.js';
import type { Connector, JsonValue, SourceItem } from '../connectors/sdk/index.js';
import { mivbExportChunks } from '../connectors/testing/pbx-fixtures.js';
import type { SyncCounts } from '../src/db/sync-runs-repo.js';
import { startSshd, SFTP_USER, type Sshd } from '../test/support/sshd.js';
import { benchLdapSync, type LdapSyncFigures } from './ldap-sync.js';
import { benchChildMain, fmt, mib, runBenchChild, withBenchSource, type FullRunFigures } from './source-sync-child.js';
import { arg } from './bench-util.js';

export interface PbxSyncFigures {
  rows: number;
  full: FullRunFigures;
  /** The median of five runs (each in runsMs); newSessions: SFTP sessions they opened (0: they used the one kept from the full run). */
  unchanged: { ms: number; runsMs: number[]; idle: boolean; newSessions: number; connectorMs: { keptSession: number; newSession: number } };
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
  const config = { ...sftp, clusterId: 'bench' };
  const columns = { delete_threshold_count: rows, delete_threshold_percent: 100 };
  return withBenchSource({ database: 'postgres', kind: 'mivb', connector: mivbConnector as Connector, config, columns }, async ({ db, engine, accountId, sourceId, sessions, fullRun }) => {
    const full = await fullRun(rows);

    // The export read by the full run, unchanged: its SFTP session is still open (kept between the source's runs).
    // Five runs, the median reported: one run is a few milliseconds of work, easily delayed on a loaded machine.
    const opened = sessions.opened;
    const idleRuns: number[] = [];
    let idle = { status: 'succeeded', idle: true, error: null as string | null };
    for (let i = 0; i < 5 && idle.status === 'succeeded' && idle.idle; i++) {
      const idleStart = performance.now();
      idle = await engine.run(accountId, sourceId, { mode: 'incremental' });
      idleRuns.push(performance.now() - idleStart);
    }
    const idleMs = [...idleRuns].sort((a, b) => a - b)[Math.floor(idleRuns.length / 2)]!;
    const newSessions = sessions.opened - opened;
    if (idle.status !== 'succeeded' || !idle.idle) throw new Error(`unchanged run ${idle.status} (idle: ${idle.idle}): ${idle.error}`);
    // The connector's idle read alone, on the kept session and on a new one (the SSH handshake and login): what the session saves.
    const parsed = mivbConnector.parseConfig(config);
    const idleRead = async (kept: boolean): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { state } = (await db.knex('sources').where({ id: sourceId }).first('state')) as { state: JsonValue };
        const start = performance.now();
        for await (const item of mivbConnector.read(parsed, { mode: 'incremental', state }, kept ? { sessions: { pool: sessions, owner: sourceId } } : {}) as AsyncIterable<SourceItem>) {
          if (item.type !== 'state' || !item.idle) throw new Error(`the unchanged export read ${item.type}`);
        }
        times.push(performance.now() - start);
      }
      return [...times].sort((a, b) => a - b)[2]!;
    };
    const connectorMs = { keptSession: await idleRead(true), newSession: await idleRead(false) };

    await askForChanges();
    // The connector's read of the changed export alone, from the saved state: what the engine's run waits for.
    const saved = (await db.knex('sources').where({ id: sourceId }).first('state')) as { state: JsonValue };
    const readStart = performance.now();
    let read = 0;
    for await (const item of mivbConnector.read(parsed, { mode: 'incremental', state: saved.state }) as AsyncIterable<SourceItem>) if (item.type === 'record') read++;
    const readSeconds = (performance.now() - readStart) / 1000;
    if (read !== rows) throw new Error(`the changed export read ${read} records, not ${rows}`);
    const runStart = performance.now();
    const changed = await engine.run(accountId, sourceId, { mode: 'incremental' });
    const runSeconds = (performance.now() - runStart) / 1000;
    if (changed.status !== 'succeeded' || changed.counts.updated !== changes) throw new Error(`changed run ${changed.status} ${JSON.stringify(changed.counts)}: ${changed.error}`);
    return { rows, full, unchanged: { ms: idleMs, runsMs: idleRuns, idle: idle.idle, newSessions, connectorMs }, changed: { rows: changes, readSeconds, runSeconds, counts: changed.counts } };
  });
}

async function runSize(sshd: Sshd, rows: number, changes: number): Promise<PbxSyncFigures> {
  const name = `mivb-${rows}.csv`;
  await writeExport(sshd, name, rows, 0, 120_000);
  const access: SftpAccess = { location: sshd.url(join(sshd.dir, name)), password: sshd.password, hostKeySha256: sshd.hostKeySha256 };
  // The changed export: another modification time, settled before the read, as a nightly export is.
  return runBenchChild<PbxSyncFigures>(fileURLToPath(import.meta.url), [`--sizes=${rows}`, `--changes=${changes}`], access, () => writeExport(sshd, name, rows, changes, 60_000));
}

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
      log(`    unchanged export                   ${fmt(r.unchanged.ms, 1).padStart(7)} ms median of ${r.unchanged.runsMs.map((ms) => fmt(ms)).join(', ')} (idle: ${r.unchanged.idle}, new SFTP sessions: ${r.unchanged.newSessions}; target < 100 ms)`);
      log(`           the connector's idle read alone, median of 5: ${fmt(r.unchanged.connectorMs.keptSession, 1)} ms on the kept session, ${fmt(r.unchanged.connectorMs.newSession, 1)} ms on a new one`);
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
  const sizes = (arg('sizes') ?? '10000,100000').split(',').map(Number);
  const changes = Number(arg('changes') ?? 1000);
  if (process.argv.includes('--child')) {
    benchChildMain<SftpAccess>((access, askForChanges) => childRun(sizes[0]!, changes, access, askForChanges));
  } else {
    benchPbxSync({ sizes, changes, ldapEntries: Number(arg('ldap') ?? Math.max(...sizes)) }).catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  }
}
