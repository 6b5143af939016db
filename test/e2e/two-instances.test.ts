/**
 * Issue 13 item 26: two server processes over one PostgreSQL. Rate limits are counted once for both, a cursor
 * issued by one is honoured by the other, the mail outbox is delivered exactly once by the two workers together and
 * across a kill -9 of one in the middle of delivery, and a scheduled source runs once per cron tick. Runs against
 * the local PostgreSQL server whichever database the rest of the suite uses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import knexFactory from 'knex';
import { startSmtpTestServer, type SmtpTestServer } from '../support/smtp-test-server.js';
import { micloudPortalExport } from '../../connectors/testing/pbx-fixtures.js';

const SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const TOKEN = `sb_two_instances_${crypto.randomBytes(16).toString('hex')}`;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

async function admin(sql: string, bindings: readonly unknown[] = [], database?: string): Promise<{ rows: Record<string, unknown>[] }> {
  const url = new URL(SERVER_URL);
  if (database) url.pathname = `/${database}`;
  const k = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 1 } });
  try {
    return (await k.raw(sql, [...bindings] as knexFactory.Knex.RawBinding[])) as { rows: Record<string, unknown>[] };
  } finally {
    await k.destroy();
  }
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

describe('two server processes over one PostgreSQL', function () {
  this.timeout(180_000);
  const name = `switchboard_two_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const children: ChildProcess[] = [];
  let smtp: SmtpTestServer;
  let held: SmtpTestServer | undefined;
  const query = (sql: string, bindings: readonly unknown[] = []) => admin(sql, bindings, name).then((r) => r.rows);
  let urls: string[];

  function serve(port: number, env: Record<string, string>): ChildProcess {
    const url = new URL(SERVER_URL);
    url.pathname = `/${name}`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
      env: {
        ...process.env, DATABASE_URL: url.toString(), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error', SWITCHBOARD_BOOTSTRAP_TOKEN: TOKEN,
        SWITCHBOARD_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'), SCHEDULER_ENABLED: 'false', SMTP_URL: smtp.url, PUBLIC_URL: 'http://switchboard.test',
        RATE_LIMIT_PROVISIONING_RATE: '1', RATE_LIMIT_PROVISIONING_BURST: '6', ...env,
      },
      stdio: 'ignore',
    });
    children.push(child);
    return child;
  }

  async function ready(url: string): Promise<void> {
    for (let i = 0; i < 240; i++) {
      if (await fetch(`${url}/readyz`).then((r) => r.ok).catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${url} did not become ready`);
  }

  /** Kills every running instance, then starts both again with `env` (the first, then the second). */
  async function restart(env: Record<string, string>, secondEnv: Record<string, string> = env): Promise<[ChildProcess, ChildProcess]> {
    const running = children.splice(0);
    for (const child of running) child.kill('SIGKILL');
    await Promise.all(running.map(exited));
    const base = Number(new URL(urls[0]!).port);
    const started: [ChildProcess, ChildProcess] = [serve(base, env), serve(base + 1, secondEnv)];
    await Promise.all(urls.map(ready));
    return started;
  }

  const call = (url: string, path: string, init: { method?: string; token?: string; body?: unknown } = {}) =>
    fetch(`${url}${path}`, {
      method: init.method ?? 'GET',
      headers: { Authorization: `Bearer ${init.token ?? TOKEN}`, 'Content-Type': 'application/scim+json' },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });

  before(async () => {
    await admin(`create database ${name}`);
    smtp = await startSmtpTestServer({ delayMs: 20 });
    const base = 21000 + Math.floor(Math.random() * 20000);
    urls = [`http://127.0.0.1:${base}`, `http://127.0.0.1:${base + 1}`];
    // One after the other: the first migrates and bootstraps, the second finds both done.
    serve(base, { MAIL_WORKER_ENABLED: 'false' });
    await ready(urls[0]!);
    serve(base + 1, { MAIL_WORKER_ENABLED: 'false' });
    await ready(urls[1]!);
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await smtp?.stop();
    await held?.stop();
    await admin(`drop database if exists ${name} with (force)`).catch(() => undefined);
  });

  it('when one token is used on both instances, then they count against one limit; a cursor of one is honoured by the other; the outbox is delivered exactly once by two workers', async () => {
    const account = await (await call(urls[0]!, '/scim/v2/Accounts', { method: 'POST', body: { schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Two', type: 'customer' } })).json() as { id: string };
    const issued = await (await call(urls[1]!, `/accounts/${account.id}/scim/v2/Tokens`, { method: 'POST', body: { schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' } })).json() as { token: string };
    // Burst 6 for provisioning tokens: 4 requests on each instance, so the last two are refused wherever they land.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await call(urls[i % 2]!, '/scim/v2/Users', { token: issued.token })).status);
    expect(statuses.filter((s) => s === 200)).to.have.length(6);
    expect(statuses.slice(6)).to.deep.equal([429, 429]);

    // 30 users created by the operator (each is sent the welcome email), half on each instance.
    for (let i = 0; i < 30; i++) {
      const res = await call(urls[i % 2]!, `/accounts/${account.id}/scim/v2/Users`, {
        method: 'POST', body: { schemas: [USER], userName: `u${i}@two.test`, name: { givenName: 'U', familyName: String(i) }, emails: [{ value: `u${i}@two.test`, primary: true }] },
      });
      expect(res.status).to.equal(201);
    }
    const first = await (await call(urls[0]!, `/accounts/${account.id}/scim/v2/Users?cursor=&count=10`)).json() as { nextCursor: string; Resources: { id: string }[] };
    const second = await call(urls[1]!, `/accounts/${account.id}/scim/v2/Users?cursor=${encodeURIComponent(first.nextCursor)}&count=10`);
    expect(second.status).to.equal(200);
    const page = await second.json() as { Resources: { id: string }[] };
    expect(page.Resources).to.have.length(10);
    expect(page.Resources.map((r) => r.id)).to.not.include.members(first.Resources.map((r) => r.id));

    // Both mail workers start on the 30 queued emails at once.
    for (const child of children.splice(0)) child.kill('SIGKILL');
    const base = Number(new URL(urls[0]!).port);
    serve(base, {});
    serve(base + 1, {});
    await Promise.all(urls.map(ready));
    const received = await smtp.waitFor(30, 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    const recipients = smtp.messages.map((m) => (Array.isArray(m.to) ? m.to[0] : m.to)?.text);
    expect(smtp.messages).to.have.length(30);
    expect(new Set(recipients).size).to.equal(30);
    expect(received).to.have.length(30);
  });

  it('when a source is scheduled on both instances, then each cron tick runs it once, not once per instance', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-two-'));
    try {
      await writeFile(join(dir, 'export.csv'), micloudPortalExport(3, 0));
      const account = await (await call(urls[0]!, '/scim/v2/Accounts', { method: 'POST', body: { schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Scheduled', type: 'customer' } })).json() as { id: string };
      // Every 2 seconds; the export is unchanged after the first run, so each later run is a short idle one, which
      // ends long before the other instance's timer for the same tick fires.
      const [source] = await query(
        `insert into sources (account_id, name, kind, config, schedule) values (?, 'Every 2 s', 'micloud', ?::jsonb, '*/2 * * * * *') returning id`,
        [account.id, JSON.stringify({ location: `file://${join(dir, 'export.csv')}`, defaultCountry: 'US' })],
      );
      await restart({ SCHEDULER_ENABLED: 'true', MAIL_WORKER_ENABLED: 'false' });
      await new Promise((r) => setTimeout(r, 12_000));
      for (const child of children.splice(0)) child.kill('SIGKILL');
      const runs = await query(`select started_at, status from sync_runs where source_id = ? and trigger = 'schedule' order by started_at`, [source!.id]);
      const ticks = runs.map((r) => Math.floor(new Date(r.started_at as string).getTime() / 2000));
      expect(runs.length, JSON.stringify(runs)).to.be.at.least(3);
      expect(new Set(ticks).size, `runs per 2-second tick: ${JSON.stringify(runs)}`).to.equal(runs.length);
      expect(runs.every((r) => r.status === 'succeeded'), JSON.stringify(runs)).to.equal(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when an instance is killed with kill -9 in the middle of delivering mail, then its claims run out and the other instance delivers them: each email arrives exactly once', async () => {
    held = await startSmtpTestServer({ holdAtRecipient: true });
    // Only the first instance delivers until it is killed, so the held SMTP transactions are surely its own; then a
    // new process takes its place and delivers what the killed one had claimed, once the leases run out.
    const mailEnv = { SMTP_URL: held.url, MAIL_LEASE_SECONDS: '10' };
    const [first] = await restart(mailEnv, { ...mailEnv, MAIL_WORKER_ENABLED: 'false' });
    const account = await (await call(urls[0]!, '/scim/v2/Accounts', { method: 'POST', body: { schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Killed', type: 'customer' } })).json() as { id: string };
    // Created on the first instance, whose worker is woken by each commit and claims the welcome email at once.
    for (let i = 0; i < 10; i++) {
      const res = await call(urls[0]!, `/accounts/${account.id}/scim/v2/Users`, {
        method: 'POST', body: { schemas: [USER], userName: `k${i}@kill.test`, name: { givenName: 'K', familyName: String(i) }, emails: [{ value: `k${i}@kill.test`, primary: true }] },
      });
      expect(res.status).to.equal(201);
    }
    const sending = async () => Number((await query(`select count(*) as n from outbox where status = 'sending' and to_address like '%@kill.test'`))[0]!.n);
    for (let i = 0; (await sending()) < 10 || held.held === 0; i++) {
      if (i > 100) throw new Error(`claimed ${await sending()} of 10, ${held.held} SMTP transactions open`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Mid-delivery: the SMTP transactions are open (the server holds them at RCPT TO), the rest claimed in memory.
    first.kill('SIGKILL');
    await exited(first);
    children.splice(children.indexOf(first), 1);
    await new Promise((r) => setTimeout(r, 300));
    held.release();
    serve(Number(new URL(urls[0]!).port), mailEnv);
    await ready(urls[0]!);
    await held.waitFor(10, 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    const recipients = held.messages.map((m) => (Array.isArray(m.to) ? m.to[0] : m.to)?.text);
    expect(held.cut, 'SMTP transactions the killed instance left open').to.be.at.least(1);
    expect(held.messages, JSON.stringify(recipients)).to.have.length(10);
    expect(new Set(recipients).size).to.equal(10);
    expect(Number((await query(`select count(*) as n from outbox where status = 'sent' and to_address like '%@kill.test'`))[0]!.n)).to.equal(10);
  });
});
