/**
 * /metrics as an operator reads it (README › Metrics): each figure moves when its event happens — a sync run on a
 * real slapd, a welcome email queued then delivered, an action, a refusal — and the database gauges are read when
 * scraped, so another app on the same database (a second instance) answers the same.
 */
import { expect } from 'chai';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDeps } from '../../src/deps.js';
import { silentLogger } from '../../src/lib/logger.js';
import supertest from 'supertest';
import { peopleLdif, startSlapd, type Slapd } from '../support/slapd.js';
import { createAccountWithToken, createTestApp, formFields, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const SOURCE = 'urn:switchboard:scim:schemas:core:2.0:Source';
const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The value of one sample of the exposition text (0 when absent): `name{a="x",b="y"} value`, labels in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(match[3]);
  }
  return 0;
}

describe(`Metrics (${testDatabaseKind})`, () => {
  let t: TestApp;
  let slapd: Slapd;
  // slapd and the first migrated database of the process take their time on a loaded machine.
  before(async function () {
    this.timeout(180_000);
    slapd = await startSlapd({ initialLdif: peopleLdif(3) });
    t = await createTestApp({ RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '2' });
  });
  after(async () => {
    await t?.close();
    await slapd?.stop();
  });

  const scrape = async (): Promise<string> => {
    const res = await t.request.get('/metrics').set('Authorization', `Bearer ${t.operatorToken}`);
    expect(res.status).to.equal(200);
    return res.text;
  };
  const base = (accountId: string) => `/accounts/${accountId}/scim/v2`;

  it('when scraped, then every Switchboard metric has HELP text and TYPE, and the list is the one README › Metrics names', async () => {
    const text = await scrape();
    const names = [...text.matchAll(/^# TYPE (switchboard_\w+) (\w+)$/gm)].map((m) => m[1]!).sort();
    expect(names).to.deep.equal([
      'switchboard_actions_total',
      'switchboard_db_pool_connections',
      'switchboard_http_request_duration_seconds',
      'switchboard_mail_outbox_messages',
      'switchboard_mail_outbox_oldest_pending_age_seconds',
      'switchboard_rate_limit_refusals_total',
      'switchboard_source_last_success_timestamp_seconds',
      'switchboard_sync_records_total',
      'switchboard_sync_run_duration_seconds',
      'switchboard_sync_runs_total',
    ]);
    for (const name of names) expect(text).to.match(new RegExp(`^# HELP ${name} \\S.{20,}$`, 'm'));
  });

  it('when a sync run ends, then runs by kind and status, the duration histogram, records by outcome and the source\'s last success move', async () => {
    const a = await createAccountWithToken(t, { name: 'Metrics sync', type: 'customer' });
    const source = await t.request.post(`${base(a.accountId)}/Sources`).set('Authorization', `Bearer ${a.token}`).set('Content-Type', scimJson)
      .send({ schemas: [SOURCE], name: 'Directory', kind: 'ldap', config: { url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn } });
    expect(source.status, JSON.stringify(source.body)).to.equal(201);
    const before = await scrape();
    expect(sample(before, 'switchboard_source_last_success_timestamp_seconds', { source_id: source.body.id })).to.equal(0);

    const { done } = await t.deps.syncEngine.start(a.accountId, source.body.id as string, { mode: 'full' });
    const run = await done;
    expect(run.status).to.equal('succeeded');
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(moved('switchboard_sync_runs_total', { kind: 'ldap', status: 'succeeded' })).to.equal(1);
    expect(moved('switchboard_sync_run_duration_seconds_count', { kind: 'ldap' })).to.equal(1);
    expect(moved('switchboard_sync_run_duration_seconds_sum', { kind: 'ldap' })).to.be.closeTo(run.durationMs! / 1000, 0.001);
    expect(moved('switchboard_sync_records_total', { kind: 'ldap', outcome: 'created' })).to.equal(3);
    expect(sample(after, 'switchboard_source_last_success_timestamp_seconds', { account_id: a.accountId, source_id: source.body.id, kind: 'ldap' })).to.equal(run.finishedAt!.getTime() / 1000);

    // A second run reads the same three entries: unchanged, counted as such.
    await (await t.deps.syncEngine.start(a.accountId, source.body.id as string, { mode: 'full' })).done;
    expect(sample(await scrape(), 'switchboard_sync_records_total', { kind: 'ldap', outcome: 'unchanged' }) - sample(after, 'switchboard_sync_records_total', { kind: 'ldap', outcome: 'unchanged' })).to.equal(3);
  });

  it(`when an added user's welcome email is queued and then delivered, then the outbox gauges (pending, its age, sent) follow${testDatabaseKind === 'postgres' ? ', and a second instance on the database reads the same' : ''}`, async () => {
    const a = await createAccountWithToken(t, { name: 'Metrics mail', type: 'customer' });
    const before = await scrape();
    const created = await t.request.post(`${base(a.accountId)}/Users`).set('Authorization', `Bearer ${a.token}`).set('Content-Type', scimJson)
      .send({ schemas: [USER], userName: 'mail@metrics.test', ...formFields('mail@metrics.test') });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const queued = await scrape();
    expect(sample(queued, 'switchboard_mail_outbox_messages', { status: 'pending' }) - sample(before, 'switchboard_mail_outbox_messages', { status: 'pending' })).to.equal(1);
    const age = sample(queued, 'switchboard_mail_outbox_oldest_pending_age_seconds');
    expect(age).to.be.greaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sample(await scrape(), 'switchboard_mail_outbox_oldest_pending_age_seconds')).to.be.at.least(age + 0.2);

    // A second instance on the same database (its own registry, no mail of its own) reads the same outbox.
    if (testDatabaseKind === 'postgres') {
      const config = loadConfig({ DATA_DIR: '/tmp/switchboard-test-unused', HOST: '127.0.0.1', SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', DATABASE_URL: t.db.url! });
      const other = await createDeps(config, { clock: t.clock, logger: silentLogger });
      try {
        const res = await supertest(createApp(other)).get('/metrics').set('Authorization', `Bearer ${t.operatorToken}`);
        expect(sample(res.text, 'switchboard_mail_outbox_messages', { status: 'pending' })).to.equal(sample(queued, 'switchboard_mail_outbox_messages', { status: 'pending' }));
        expect(sample(res.text, 'switchboard_mail_outbox_oldest_pending_age_seconds')).to.be.greaterThan(age);
      } finally {
        await other.close();
      }
    }

    // The message is due at the database's time of queueing; the worker's (test) clock started before it.
    t.clock.advance(3_600_000);
    await t.deps.mailWorker.drain();
    const delivered = await scrape();
    expect(sample(delivered, 'switchboard_mail_outbox_messages', { status: 'pending' })).to.equal(0);
    expect(sample(delivered, 'switchboard_mail_outbox_messages', { status: 'sent' }) - sample(queued, 'switchboard_mail_outbox_messages', { status: 'sent' })).to.equal(1);
    expect(sample(delivered, 'switchboard_mail_outbox_oldest_pending_age_seconds')).to.equal(0);
    expect(delivered).to.match(/^switchboard_mail_outbox_messages\{status="failed"\} \d+$/m);
  });

  it('when actions complete or are refused, then actions by type and status count them', async () => {
    const a = await createAccountWithToken(t, { name: 'Metrics actions', type: 'customer' });
    const user = await t.request.post(`${base(a.accountId)}/Users`).set('Authorization', `Bearer ${a.token}`).set('Content-Type', scimJson)
      .send({ schemas: [USER], userName: 'action@metrics.test', ...formFields('action@metrics.test') });
    const before = await scrape();
    const run = (params: Json) =>
      t.request.post(`${base(a.accountId)}/Actions`).set('Authorization', `Bearer ${a.token}`).set('Content-Type', scimJson).send({ schemas: [ACTION], targets: { ids: [user.body.id] }, ...params });
    expect((await run({ type: 'resetPassword' })).status).to.equal(201);
    expect((await run({ type: 'assignLicense', params: { product: 'No Such Product' } })).status).to.equal(400);
    const after = await scrape();
    expect(sample(after, 'switchboard_actions_total', { type: 'resetPassword', status: 'completed' }) - sample(before, 'switchboard_actions_total', { type: 'resetPassword', status: 'completed' })).to.equal(1);
    expect(sample(after, 'switchboard_actions_total', { type: 'assignLicense', status: 'refused' }) - sample(before, 'switchboard_actions_total', { type: 'assignLicense', status: 'refused' })).to.equal(1);
  });

  it('when an address keeps failing authentication past its limit, then the 429s are counted as refusals of that limit', async () => {
    const before = sample(await scrape(), 'switchboard_rate_limit_refusals_total', { limit: 'failed_auth' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await t.request.get('/scim/v2/Users').set('Authorization', 'Bearer sb_not_a_token_0123456789abcdefghijklmnopqrstuv')).status);
    expect(statuses).to.deep.equal([401, 401, 429, 429]);
    expect(sample(await scrape(), 'switchboard_rate_limit_refusals_total', { limit: 'failed_auth' }) - before).to.equal(2);
  });

  it('when a transaction holds a connection, then the pool gauges show it in use, and the cap is the pool\'s', async () => {
    const idle = await scrape();
    const used = (text: string) => sample(text, 'switchboard_db_pool_connections', { state: 'used', database: testDatabaseKind });
    // PGlite is one in-process database that knex lends as a pool of one connection.
    expect(sample(idle, 'switchboard_db_pool_connections', { state: 'max', database: testDatabaseKind })).to.equal(testDatabaseKind === 'postgres' ? 10 : 1);
    expect(sample(idle, 'switchboard_db_pool_connections', { state: 'waiting', database: testDatabaseKind })).to.equal(0);
    const trx = await t.deps.db.knex.transaction();
    await trx.raw('select 1');
    // On PGlite the scrape's own queries wait for the held connection: let it go once the pool has been read.
    const busy = scrape();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await trx.commit();
    expect(used(await busy)).to.equal(used(idle) + 1);
  });
});
