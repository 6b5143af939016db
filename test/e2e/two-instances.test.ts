/**
 * Issue 13 item 26 (in part): two server processes over one PostgreSQL. Rate limits are counted once for both,
 * a cursor issued by one is honoured by the other, and the mail outbox is delivered exactly once by the two
 * workers together. Runs against the local PostgreSQL server whichever database the rest of the suite uses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { expect } from 'chai';
import knexFactory from 'knex';
import { startSmtpTestServer, type SmtpTestServer } from '../support/smtp-test-server.js';

const SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const TOKEN = `sb_two_instances_${crypto.randomBytes(16).toString('hex')}`;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

async function admin(sql: string): Promise<void> {
  const k = knexFactory({ client: 'pg', connection: SERVER_URL, pool: { min: 0, max: 1 } });
  try {
    await k.raw(sql);
  } finally {
    await k.destroy();
  }
}

describe('two server processes over one PostgreSQL', function () {
  this.timeout(180_000);
  const name = `switchboard_two_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const children: ChildProcess[] = [];
  let smtp: SmtpTestServer;
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
    await smtp?.stop();
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
});
