/**
 * Issue 13 item 17's filter: `emails.value co "1" or emails.value co "2" or …` with 10, 100 and 400 terms over an
 * account of N users (default 50,000, the issue's size), as POST /Users/.search (a page of 50 and its
 * totalResults) on PostgreSQL, beside the floor: one bare statement reading the matching email rows once
 * (`count(distinct user_id) … lower(value) like any(…)`) from Node over pg. Before the terms were compiled into one
 * `like any`, the issue measured 2 s, 8 s and 33 s for 10, 100 and 400 terms at 50,000 users.
 * Run: npm run bench -- --only=filter-or [--filter-users=N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/lib/logger.js';
import { startServer } from '../src/server.js';
import { seedUsers } from './seed-users.js';
import { fmt, median } from './bench-util.js';

const DB_NAME = 'switchboard_bench_filter_or';
const BOOT = 'sb_bench_filter_or_bootstrap_token_0123456789abcdef';
const RUNS = 3;

export interface FilterOrCase {
  attribute: string;
  terms: number;
  chars: number;
  total: number;
  ms: number;
  floorMs: number;
}

export async function benchFilterOr(users: number): Promise<{ users: number; cases: FilterOrCase[] }> {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = knexFactory({ client: 'pg', connection: adminUrl });
  await admin.raw(`drop database if exists ${DB_NAME} with (force)`);
  await admin.raw(`create database ${DB_NAME}`);
  const dbUrl = `${adminUrl.replace(/\/[^/]*$/, '')}/${DB_NAME}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-filter-or-'));
  const server = await startServer(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: dbUrl, SWITCHBOARD_BOOTSTRAP_TOKEN: BOOT, SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', DATA_DIR: tmp, RATE_LIMITS: 'off', STATEMENT_TIMEOUT_MS: '0' }),
    { logger: silentLogger },
    () => {},
  );
  // The floor's connection, also the seeder's (the server's carries the statement timeout).
  const bare = knexFactory({ client: 'pg', connection: dbUrl, pool: { min: 1, max: 1 } });
  try {
    const headers = { Authorization: `Bearer ${BOOT}`, 'Content-Type': 'application/scim+json' };
    const created = await fetch(`${server.url}/scim/v2/Accounts`, { method: 'POST', headers, body: JSON.stringify({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Filter Bench', type: 'customer' }) });
    const accountId = String(((await created.json()) as { id: string }).id);
    const seeded = await seedUsers(bare, { accountId, count: users });
    await bare.raw('vacuum analyze users');
    await bare.raw('vacuum analyze user_emails');
    console.log(`  ${fmt(seeded.count)} users in the account (seeded in ${fmt(seeded.ms / 1000, 1)} s); PostgreSQL`);

    const cases: FilterOrCase[] = [];
    for (const [attribute, terms] of [['emails.value', 10], ['emails.value', 100], ['emails.value', 400], ['userName', 400]] as const) {
      const values = Array.from({ length: terms }, (_, i) => String(i + 1));
      const filter = values.map((v) => `${attribute} co "${v}"`).join(' or ');
      const search = async (): Promise<{ ms: number; total: number }> => {
        const t0 = performance.now();
        const res = await fetch(`${server.url}/accounts/${accountId}/scim/v2/Users/.search`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter, count: 50, attributes: ['userName'] }),
        });
        const body = (await res.json()) as { totalResults: number; detail?: string };
        if (res.status !== 200) throw new Error(`${attribute} × ${terms}: ${res.status} ${body.detail ?? ''}`);
        return { ms: performance.now() - t0, total: body.totalResults };
      };
      const patterns = values.map((v) => `%${v}%`);
      const floorSql =
        attribute === 'userName'
          ? 'select count(*) as n from users where account_id = ? and lower(user_name) like any(?::text[])'
          : 'select count(distinct user_id) as n from user_emails where account_id = ? and lower(value) like any(?::text[])';
      const floor = async (): Promise<{ ms: number; total: number }> => {
        const t0 = performance.now();
        const { rows } = (await bare.raw(floorSql, [accountId, patterns])) as { rows: { n: number | string }[] };
        return { ms: performance.now() - t0, total: Number(rows[0]!.n) };
      };
      const ms: number[] = [];
      const floorMs: number[] = [];
      let total = 0;
      for (let run = 0; run < RUNS; run++) {
        const f = await floor();
        const s = await search();
        if (f.total !== s.total) throw new Error(`${attribute} × ${terms}: ${s.total} users found, the floor counts ${f.total}`);
        total = s.total;
        floorMs.push(f.ms);
        ms.push(s.ms);
      }
      cases.push({ attribute, terms, chars: filter.length, total, ms: median(ms), floorMs: median(floorMs) });
    }
    return { users: seeded.count, cases };
  } finally {
    await bare.destroy();
    await server.stop();
    await admin.raw(`drop database if exists ${DB_NAME} with (force)`);
    await admin.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function printFilterOr(r: { users: number; cases: FilterOrCase[] }): void {
  console.log(`  POST /Users/.search (page of 50 and totalResults), median of ${RUNS}, vs the floor (the matching rows read once by one bare statement):`);
  for (const c of r.cases) {
    console.log(
      `    ${c.attribute} co × ${String(c.terms).padStart(3)} terms (${fmt(c.chars)} characters) ${fmt(c.total).padStart(7)} users   ${fmt(c.ms).padStart(6)} ms   floor ${fmt(c.floorMs).padStart(6)} ms -> ${fmt(c.ms / c.floorMs, 1)}x`,
    );
  }
}
