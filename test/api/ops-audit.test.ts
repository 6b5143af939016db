/**
 * Audit of issues 4 and 5 through the HTTP API, as a README reader uses them: source secrets changed by PATCH,
 * dry runs and the deletion threshold on a real slapd, welcome emails on partner accounts, and email links
 * that never name the origin the client claimed (Host) when PUBLIC_URL is unset.
 */
import { expect } from 'chai';
import { peopleLdif, startSlapd, type Slapd } from '../support/slapd.js';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';

const SOURCE = 'urn:switchboard:scim:schemas:core:2.0:Source';
const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('Ops audit: Sources, SyncRuns and Actions as the README and issues 4 and 5 describe them', () => {
  let t: TestApp;
  let slapd: Slapd;

  before(async () => {
    slapd = await startSlapd({ initialLdif: peopleLdif(10) });
    t = await createTestApp();
  });
  after(async () => {
    await t?.close();
    await slapd?.stop();
  });

  const base = (accountId: string) => `/accounts/${accountId}/scim/v2`;
  const ldapConfig = () => ({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn });

  async function waitForRun(a: { accountId: string; token: string }, id: string): Promise<Json> {
    for (let i = 0; i < 200; i++) {
      const res = await t.request.get(`${base(a.accountId)}/SyncRuns/${id}`).set('Authorization', `Bearer ${a.token}`);
      if (res.body.status !== 'running') return res.body as Json;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`run ${id} did not finish`);
  }

  async function startRun(a: { accountId: string; token: string }, body: Json): Promise<Json> {
    const res = await t.request.post(`${base(a.accountId)}/SyncRuns`).set('Authorization', `Bearer ${a.token}`).set('Content-Type', scimJson).send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return waitForRun(a, res.body.id as string);
  }

  async function createSource(a: { accountId: string; token: string }, name: string, config: Json = ldapConfig()): Promise<string> {
    const res = await t.request.post(`${base(a.accountId)}/Sources`).set('Authorization', `Bearer ${a.token}`).set('Content-Type', scimJson).send({ schemas: [SOURCE], name, kind: 'ldap', config });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  }

  for (const [form, operation] of [
    ['path config.bindPassword', { op: 'replace', path: 'config.bindPassword', value: 'wrong-password' }],
    ['path config with a partial value', { op: 'replace', path: 'config', value: { bindPassword: 'wrong-password' } }],
  ] as const) {
    it(`when the bind password is changed by PATCH (${form}), then it is stored, used by the next check and never returned`, async () => {
      const a = await createAccountWithToken(t, { name: `Secret rotation ${form}`, type: 'customer' });
      const id = await createSource(a, 'Directory');
      const patched = await t.request
        .patch(`${base(a.accountId)}/Sources/${id}`)
        .set('Authorization', `Bearer ${a.token}`)
        .set('Content-Type', scimJson)
        .send({ schemas: [PATCH_OP], Operations: [operation] });
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
      expect(JSON.stringify(patched.body)).to.not.contain('wrong-password');
      expect(patched.body.config).to.not.have.property('bindPassword');
      expect(patched.body.config).to.include({ url: slapd.url, bindDn: slapd.bindDn, baseDn: slapd.peopleDn });
      const stored = (await t.deps.db.knex('sources').where({ id }).first()) as { config: Json };
      expect(stored.config.bindPassword).to.match(/^enc:v1:/); // sealed at rest (issue 13)
      expect(t.deps.secrets.open(stored.config.bindPassword)).to.equal('wrong-password');
      const check = await t.request.post(`${base(a.accountId)}/SyncRuns`).set('Authorization', `Bearer ${a.token}`).send({ sourceId: id, mode: 'check' });
      expect(check.body.status).to.equal('failed');
      expect(JSON.stringify(check.body)).to.not.contain('wrong-password');
    });
  }

  it('when a dry run would create users, then its results name no user id (nothing was created) and no user exists', async () => {
    const a = await createAccountWithToken(t, { name: 'Dry run ids', type: 'customer' });
    const id = await createSource(a, 'Directory');
    const run = await startRun(a, { sourceId: id, mode: 'full', dryRun: true });
    expect(run.status).to.equal('succeeded');
    expect(run.counts.created).to.equal(10);
    expect(run.results).to.have.length(10);
    for (const result of run.results as Json[]) {
      expect(result.outcome).to.equal('created');
      expect(result.userId ?? null, 'a dry run creates nobody, so it names no user').to.equal(null);
      expect(result.changes.userName.old).to.equal(null);
    }
    const users = await t.request.get(`${base(a.accountId)}/Users`).set('Authorization', `Bearer ${a.token}`);
    expect(users.body.totalResults).to.equal(0);
  });

  it('when a full run stops at the deletion threshold, then its error says how many users would go and the limit', async () => {
    const a = await createAccountWithToken(t, { name: 'Threshold words', type: 'customer' });
    // A directory of its own, so deleting entries does not disturb the other tests.
    const own = await startSlapd({ initialLdif: peopleLdif(10) });
    try {
      const id = await createSource(a, 'Directory', { url: own.url, bindDn: own.bindDn, bindPassword: own.bindPassword, baseDn: own.peopleDn });
      expect((await startRun(a, { sourceId: id, mode: 'full' })).counts.created).to.equal(10);
      await own.deleteMany([0, 1, 2].map((i) => `uid=user${String(i).padStart(5, '0')},${own.peopleDn}`));
      const stopped = await startRun(a, { sourceId: id, mode: 'full' });
      expect(stopped.status).to.equal('stopped_deletion_threshold');
      // 3 of 10 linked users, the threshold min(500, 20 % of 10) = 2.
      expect(stopped.error).to.match(/\b3\b.*\b2\b/);
      expect(stopped.error).to.match(/allowDeletes/);
      const allowed = await startRun(a, { sourceId: id, mode: 'full', allowDeletes: true });
      expect(allowed.status).to.equal('succeeded');
      expect(allowed.counts.deactivated).to.equal(3);
    } finally {
      await own.stop();
    }
  });

  it('when sendWelcomeEmail targets the users of a partner account, then they are skipped (partners are never targeted) and no email is queued', async () => {
    const p = await createAccountWithToken(t, { name: 'Partner welcome', type: 'partner' });
    const user = await t.request
      .post(`${base(p.accountId)}/Users`)
      .set('Authorization', `Bearer ${p.token}`)
      .send({ schemas: [USER], userName: 'pat@partner.test', name: { givenName: 'Pat', familyName: 'Test' }, emails: [{ value: 'pat@partner.test', primary: true }] });
    expect(user.status, JSON.stringify(user.body)).to.equal(201);
    const res = await t.request
      .post(`${base(p.accountId)}/Actions`)
      .set('Authorization', `Bearer ${p.token}`)
      .send({ schemas: [ACTION], type: 'sendWelcomeEmail', targets: { all: true } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.summary).to.include({ targeted: 1, succeeded: 0, skipped: 1 });
    expect(res.body.results[0]).to.include({ userId: user.body.id, outcome: 'skipped' });
    expect(res.body.results[0].reason).to.match(/partner/i);
    const queued = await t.deps.db.knex('outbox').where({ account_id: p.accountId }).count({ n: '*' });
    expect(Number((queued[0] as { n: number | string }).n)).to.equal(0);
  });

  it('when PUBLIC_URL is unset on a server listening on a loopback address, then the welcome link names that address, whatever Host the request carried', async () => {
    const a = await createAccountWithToken(t, { name: 'Link origin', type: 'customer' });
    const user = await t.request
      .post(`${base(a.accountId)}/Users`)
      .set('Authorization', `Bearer ${a.token}`)
      .send({ schemas: [USER], userName: 'lou@origin.test', name: { givenName: 'Lou', familyName: 'Test' }, emails: [{ value: 'lou@origin.test', primary: true }] });
    expect(user.status).to.equal(201);
    const res = await t.request
      .post(`${base(a.accountId)}/Actions`)
      .set('Host', 'portal.example.test:8443')
      .set('X-Forwarded-Proto', 'https')
      .set('Authorization', `Bearer ${a.token}`)
      .send({ schemas: [ACTION], type: 'sendWelcomeEmail', targets: { ids: [user.body.id] } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    // The action's email (the user's first welcome email went out when the admin created it, from its own request).
    const [mail] = (await t.deps.db.knex('outbox').where({ account_id: a.accountId, action_id: res.body.id })) as { text_body: string }[];
    expect(mail!.text_body).to.match(/http:\/\/127\.0\.0\.1:8080\/register\/[\w-]{20,}/);
    expect(mail!.text_body).to.not.contain('portal.example.test');
  });
});
