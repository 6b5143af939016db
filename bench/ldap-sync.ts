/**
 * Full sync of N slapd entries into PGlite through the sync engine (users/s, peak RSS), then an incremental
 * run after 1 % of the entries changed; compared with the connector-only read floor (bench/ldap-sync-floor.ts).
 * Run: npx tsx bench/ldap-sync.ts 10000
 */
import { pathToFileURL } from 'node:url';
import { ldapConnector } from '../connectors/ldap/index.js';
import type { Connector } from '../connectors/sdk/index.js';
import { migrateLatest, openDatabase } from '../src/db/database.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { UserService } from '../src/services/user-service.js';
import { SyncEngine } from '../src/sync/sync-engine.js';
import type { SyncCounts } from '../src/sync/sync-runs-repo.js';
import { peopleLdif, startSlapd } from '../test/support/slapd.js';
import { benchLdapFloor } from './ldap-sync-floor.js';

export interface LdapSyncBenchResult {
  entries: number;
  full: { seconds: number; usersPerSecond: number; peakRssBytes: number; counts: SyncCounts };
  incremental: { changed: number; seconds: number; counts: SyncCounts };
  floorEntriesPerSecond: number;
  /** engine users/s ÷ connector-only entries/s. */
  ratioToFloor: number;
}

function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
  return { stop: () => (clearInterval(timer), Math.max(peak, process.memoryUsage().rss)) };
}

export async function benchLdapSync(entries: number): Promise<LdapSyncBenchResult> {
  const slapd = await startSlapd({ initialLdif: peopleLdif(entries) });
  const db = await openDatabase({});
  try {
    await migrateLatest(db.knex);
    const [account] = await db.knex('accounts').insert({ type: 'customer', name: 'Bench' }).returning('id');
    const accountId = (account as { id: string }).id;
    const [source] = await db.knex('sources')
      .insert({
        account_id: accountId, name: 'ldap', kind: 'ldap',
        config: JSON.stringify({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn, pageSize: 500, defaultCountry: 'BE' }),
        delete_threshold_count: entries, delete_threshold_percent: 100,
      })
      .returning('id');
    const sourceId = (source as { id: string }).id;
    const engine = new SyncEngine({
      db, users: new UserService(db.knex, systemClock), clock: systemClock, logger: silentLogger, connectors: new Map([['ldap', ldapConnector as Connector]]),
    });

    const rss = rssSampler();
    const start = performance.now();
    const full = await engine.run(accountId, sourceId, { mode: 'full' });
    const fullSeconds = (performance.now() - start) / 1000;
    const peakRssBytes = rss.stop();
    if (full.status !== 'succeeded') throw new Error(`full run ${full.status}: ${full.error}`);

    const changed = Math.max(1, Math.floor(entries / 100));
    for (let i = 0; i < changed; i++) {
      const n = String(i * Math.floor(entries / changed)).padStart(5, '0');
      await slapd.modify(`uid=user${n},${slapd.peopleDn}`, { title: 'Changed' });
    }
    const incStart = performance.now();
    const inc = await engine.run(accountId, sourceId, { mode: 'incremental' });
    const incSeconds = (performance.now() - incStart) / 1000;

    await slapd.stop();
    const floor = await benchLdapFloor(entries);
    const usersPerSecond = entries / fullSeconds;
    return {
      entries,
      full: { seconds: fullSeconds, usersPerSecond, peakRssBytes, counts: full.counts },
      incremental: { changed, seconds: incSeconds, counts: inc.counts },
      floorEntriesPerSecond: floor.connector.entriesPerSecond,
      ratioToFloor: usersPerSecond / floor.connector.entriesPerSecond,
    };
  } finally {
    await slapd.stop();
    await db.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchLdapSync(Number(process.argv[2] ?? 10000)).then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
