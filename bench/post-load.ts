/**
 * Loading users into one account by POST /Users at 8 concurrent requests with an identity provider's token
 * (issue 10: writes must not serialise on the account). Switchboard runs from dist/ in its own child process
 * (bench/scim-http.ts --serve-switchboard, nothing seeded) on a scratch PostgreSQL database; this process sends
 * the requests over keep-alive connections and prints the rate of each block of users. Target: the last block's
 * rate at least 90 % of the first's. While it loads, pg_stat_activity is sampled every 50 ms: per block, the
 * share of the sampled active statements of the bench database waiting, by wait event (Lock/transactionid,
 * LWLock/MultiXact…, …), so a serialising point shows where it is.
 *
 * Run: npx tsx bench/post-load.ts [--users=100000] [--block=10000] [--concurrency=8]
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knexFactory from 'knex';
import { arg } from './bench-util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DB_NAME = process.env.BENCH_DB_NAME ?? 'switchboard_bench_post';

export interface PostLoadResult {
  users: number;
  block: number;
  concurrency: number;
  /** users/s of each block, in order. */
  rates: number[];
  /** last block's rate ÷ first block's. */
  ratio: number;
  /** Per block: wait event → share of the sampled active backends (of the bench database) waiting on it. */
  waits: Record<string, number>[];
}

export async function benchPostLoad(options: { users?: number; block?: number; concurrency?: number; log?: (line: string) => void } = {}): Promise<PostLoadResult> {
  const users = options.users ?? 100_000;
  const block = options.block ?? 10_000;
  const concurrency = options.concurrency ?? 8;
  const log = options.log ?? console.log;
  const serverUrl = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
  log('building dist/ (tsc) …');
  execFileSync(process.execPath, [path.resolve(here, '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.resolve(here, '..', 'tsconfig.json')], { stdio: 'inherit' });
  const admin = knexFactory({ client: 'pg', connection: `${serverUrl}/postgres`, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${DB_NAME} with (force)`);
  await admin.raw(`create database ${DB_NAME}`);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'scim-http.ts'), '--serve-switchboard'], {
    env: { ...process.env, NODE_ENV: 'production', BENCH_DATABASE_URL: `${serverUrl}/${DB_NAME}`, BENCH_SEED: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const info = await new Promise<{ url: string; idpToken: string }>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
      readline.createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as { url: string; idpToken: string }));
    });
    // Wait-event sampling on a connection of its own.
    const sampler = knexFactory({ client: 'pg', connection: `${serverUrl}/postgres`, pool: { min: 1, max: 1 } });
    let samples: Record<string, number> = {};
    let sampled = 0;
    let sampling = true;
    const sampleLoop = (async () => {
      while (sampling) {
        const { rows } = (await sampler.raw(
          // A statement waiting on a lock is named by its first words: which write waits shows where it serialises.
          `select coalesce(wait_event_type || '/' || wait_event, 'CPU')
                  || case when wait_event_type = 'Lock' then ' in ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 48) else '' end as w
             from pg_stat_activity where datname = ? and state = 'active' and pid <> pg_backend_pid()`,
          [DB_NAME],
        )) as { rows: { w: string }[] };
        for (const r of rows) samples[r.w] = (samples[r.w] ?? 0) + 1;
        sampled += rows.length;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const waits: Record<string, number>[] = [];
    let next = 0;
    const rates: number[] = [];
    let blockStart = performance.now();
    let done = 0;
    const post = async (i: number) => {
      const res = await fetch(`${info.url}/scim/v2/Users`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${info.idpToken}`, 'Content-Type': 'application/scim+json' },
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `load${i}@example.com`, externalId: `ext-${i}`,
          name: { givenName: `Given${i}`, familyName: 'Load' }, emails: [{ value: `load${i}@example.com`, type: 'work', primary: true }], active: true,
        }),
      });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`POST ${i}: ${res.status}`);
    };
    const worker = async () => {
      while (next < users) {
        const i = next++;
        await post(i);
        if (++done % block === 0) {
          const now = performance.now();
          rates.push(block / ((now - blockStart) / 1000));
          const shares = Object.fromEntries(Object.entries(samples).sort((a, b) => b[1] - a[1]).map(([w, n]) => [w, n / Math.max(1, sampled)]));
          waits.push(shares);
          samples = {};
          sampled = 0;
          const top = Object.entries(shares).slice(0, 5).map(([w, f]) => `${w} ${Math.round(f * 100)} %`).join(', ');
          log(`  users ${done - block + 1}–${done}: ${Math.round(rates.at(-1)!)} users/s  (active backends: ${top})`);
          blockStart = now;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    sampling = false;
    await sampleLoop;
    await sampler.destroy();
    const ratio = rates.length > 0 ? rates.at(-1)! / rates[0]! : 0;
    return { users, block, concurrency, rates, ratio, waits };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    await admin.raw(`drop database if exists ${DB_NAME} with (force)`).catch(() => undefined);
    await admin.destroy();
  }
}

export function printPostLoad(r: PostLoadResult, log: (line: string) => void = console.log): void {
  log(`POST /Users as an identity provider, ${r.concurrency} concurrent, ${r.users.toLocaleString('en-US')} users into one account (PostgreSQL):`);
  log(`  first ${r.block.toLocaleString('en-US')}: ${Math.round(r.rates[0] ?? 0)} users/s; last: ${Math.round(r.rates.at(-1) ?? 0)} users/s; ratio last/first ${r.ratio.toFixed(2)} (target ≥ 0.90: ${r.ratio >= 0.9 ? 'MET' : 'NOT MET'})`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await benchPostLoad({ users: Number(arg('users') ?? 100_000), block: Number(arg('block') ?? 10_000), concurrency: Number(arg('concurrency') ?? 8) });
  printPostLoad(result);
}
