import { expect } from 'chai';
import supertest from 'supertest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { peopleLdif, startSlapd, type Slapd } from '../support/slapd.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { OPERATOR_TOKEN, createAccountWithToken, scimJson, type TestApp } from '../support/test-app.js';

const SOURCE = 'urn:switchboard:scim:schemas:core:2.0:Source';

describe('Sources and SyncRuns API', () => {
  let db: TestDatabase;
  let deps: Deps;
  let t: TestApp;
  let slapd: Slapd;
  let token: string;
  let base: string;

  before(async () => {
    slapd = await startSlapd({ initialLdif: peopleLdif(12) });
    db = await createTestDatabase();
    const config = loadConfig({ DATA_DIR: '/tmp/switchboard-test-unused', SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false' });
    const clock = new ManualClock(new Date());
    deps = await createDeps(config, { db, clock, logger: silentLogger });
    const boot = await deps.tokens.bootstrap({ bootstrapToken: OPERATOR_TOKEN, dataDir: config.dataDir, print: () => {} });
    const app = createApp(deps);
    t = { app, deps, db, clock, operatorToken: OPERATOR_TOKEN, operatorAccountId: boot.operatorAccountId, request: supertest(app), close: async () => undefined };
    const account = await createAccountWithToken(t, { name: 'Sync API Co', type: 'customer' });
    token = account.token;
    base = `/accounts/${account.accountId}/scim/v2`;
  });
  after(async () => {
    await deps.close();
    await db.close();
    await slapd.stop();
  });

  const auth = (r: supertest.Test) => r.set('Authorization', `Bearer ${token}`).set('Content-Type', scimJson);
  const ldapConfig = () => ({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn });

  it('when a source is created, read, listed and changed, then its bindPassword is never returned', async () => {
    const created = await auth(t.request.post(`${base}/Sources`)).send({ schemas: [SOURCE], name: 'Directory', kind: 'ldap', config: ldapConfig(), schedule: '*/15 * * * *' });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body.config).to.include({ url: slapd.url, bindDn: slapd.bindDn });
    expect(created.body.config).to.not.have.property('bindPassword');
    expect(created.body.status).to.include({ state: 'idle', consecutiveFailures: 0, hasState: false });
    // Every 15 minutes: the next run is the first quarter hour after now on the server's clock.
    const nextRunAt = new Date(created.body.status.nextRunAt);
    const now = t.clock.now().getTime();
    expect(nextRunAt.getTime()).to.be.above(now).and.at.most(now + 15 * 60_000);
    expect(nextRunAt.getMinutes() % 15).to.equal(0);
    expect(nextRunAt.getSeconds()).to.equal(0);
    expect(created.body.deleteThreshold).to.deep.equal({ count: 500, percent: 20 });
    expect(created.headers.location).to.match(/\/Sources\/[0-9a-f-]{36}$/);
    const got = await auth(t.request.get(`${base}/Sources/${created.body.id}`));
    expect(got.status).to.equal(200);
    expect(JSON.stringify(got.body)).to.not.contain(slapd.bindPassword);
    const list = await auth(t.request.get(`${base}/Sources`));
    expect(list.body.totalResults).to.equal(1);
    expect(JSON.stringify(list.body)).to.not.contain(slapd.bindPassword);

    // A PUT without the secret keeps it; PATCH changes plain attributes.
    const { bindPassword: _omitted, ...withoutSecret } = ldapConfig();
    const put = await auth(t.request.put(`${base}/Sources/${created.body.id}`)).send({ schemas: [SOURCE], name: 'Directory', kind: 'ldap', config: withoutSecret, softMatch: false });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    expect(put.body.softMatch).to.equal(false);
    const stored = await db.knex('sources').where({ id: created.body.id }).first();
    expect(t.deps.secrets.open(stored.config.bindPassword)).to.equal(slapd.bindPassword); // sealed at rest (issue 13)
    const patched = await auth(t.request.patch(`${base}/Sources/${created.body.id}`)).send({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'gracePeriodDays', value: 7 }],
    });
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    expect(patched.body.gracePeriodDays).to.equal(7);
    const check = await auth(t.request.post(`${base}/SyncRuns`)).send({ sourceId: created.body.id, mode: 'check' });
    expect(check.status).to.equal(200);
    expect(check.body.status).to.equal('succeeded');
    const gone = await auth(t.request.delete(`${base}/Sources/${created.body.id}`));
    expect(gone.status).to.equal(204);
  });

  it('when where a stored secret is sent changes without the secret, then 400 naming it and nothing changes; given again, accepted', async () => {
    const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
    const ldap = await auth(t.request.post(`${base}/Sources`)).send({ schemas: [SOURCE], name: 'Moving directory', kind: 'ldap', config: ldapConfig() });
    expect(ldap.status, JSON.stringify(ldap.body)).to.equal(201);
    const moved = await auth(t.request.patch(`${base}/Sources/${ldap.body.id}`)).send({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'config.url', value: 'ldaps://elsewhere.example.com' }] });
    expect(moved.status).to.equal(400);
    expect(moved.body.detail).to.equal('config.bindPassword is required again when config.url changes: the stored secret is not sent to a new place');
    expect((await db.knex('sources').where({ id: ldap.body.id }).first()).config.url).to.equal(slapd.url);
    const withSecret = await auth(t.request.patch(`${base}/Sources/${ldap.body.id}`)).send({
      schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'config', value: { url: 'ldaps://elsewhere.example.com', bindPassword: 'new-secret' } }],
    });
    expect(withSecret.status, JSON.stringify(withSecret.body)).to.equal(200);

    const entra = { tenantId: '11111111-2222-3333-4444-555555555555', clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', clientSecret: 'entra~secret' };
    const created = await auth(t.request.post(`${base}/Sources`)).send({ schemas: [SOURCE], name: 'Entra ID', kind: 'entra', config: entra });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body.config).to.not.have.property('clientSecret');
    const { clientSecret: _secret, ...rest } = entra;
    const renamed = await auth(t.request.put(`${base}/Sources/${created.body.id}`)).send({ schemas: [SOURCE], name: 'Entra ID', kind: 'entra', config: { ...rest, pageSize: 500 } });
    expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
    const otherCloud = await auth(t.request.put(`${base}/Sources/${created.body.id}`)).send({ schemas: [SOURCE], name: 'Entra ID', kind: 'entra', config: { ...rest, cloud: 'usgov', authorityUrl: 'https://login.example.com' } });
    expect(otherCloud.status).to.equal(400);
    expect(otherCloud.body.detail).to.equal('config.clientSecret is required again when config.cloud, config.authorityUrl change: the stored secret is not sent to a new place');
  });

  it('when the config is invalid, then POST /Sources answers 400 with a clear detail', async () => {
    const bad = await auth(t.request.post(`${base}/Sources`)).send({ schemas: [SOURCE], name: 'Bad', kind: 'ldap', config: { url: 'http://nope', bindDn: 'x' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.scimType).to.equal('invalidValue');
    expect(bad.body.detail).to.match(/config: .*(url|bindPassword|baseDn)/);
  });

  it('when a SyncRun is posted, then it runs in the background and GET polls it to completion with results', async () => {
    const source = await auth(t.request.post(`${base}/Sources`)).send({ schemas: [SOURCE], name: 'Dir 2', kind: 'ldap', config: ldapConfig() });
    expect(source.status).to.equal(201);
    const started = await auth(t.request.post(`${base}/SyncRuns`)).send({ sourceId: source.body.id, mode: 'full' });
    expect(started.status, JSON.stringify(started.body)).to.equal(201);
    expect(started.body.status).to.equal('running');
    let run = started.body;
    for (let i = 0; i < 200 && run.status === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      run = (await auth(t.request.get(`${base}/SyncRuns/${started.body.id}`))).body;
    }
    expect(run.status).to.equal('succeeded');
    expect(run.counts).to.include({ created: 12, quarantined: 0 });
    expect(run.results).to.have.length(12);
    expect(run.results[0]).to.include({ outcome: 'created' });
    expect(run.results[0].changes.userName.new).to.match(/@example\.com$/);
    const listed = await auth(t.request.get(`${base}/SyncRuns`).query({ filter: `sourceId eq "${source.body.id}" and status eq "succeeded"` }));
    expect(listed.status).to.equal(200);
    expect(listed.body.totalResults).to.equal(1);
    const none = await auth(t.request.get(`${base}/SyncRuns`).query({ filter: 'status eq "failed"' }));
    expect(none.body.totalResults).to.equal(0);
    // The list's filter is a SCIM filter compiled to SQL: any operator on a listed attribute, 400 naming an unknown one.
    const byMode = await auth(t.request.get(`${base}/SyncRuns`).query({ filter: 'mode sw "FU" and not (status eq "failed") and counts.created gt 11' }));
    expect(byMode.status).to.equal(200);
    expect(byMode.body.totalResults).to.equal(1);
    const badFilter = await auth(t.request.get(`${base}/SyncRuns`).query({ filter: 'colour eq "x"' }));
    expect(badFilter.status).to.equal(400);
    expect(badFilter.body.scimType).to.equal('invalidFilter');
    expect(badFilter.body.detail).to.match(/colour/);
    const after = await auth(t.request.get(`${base}/Sources/${source.body.id}`));
    expect(after.body.status).to.include({ state: 'idle', hasState: true });
  });
});
