/**
 * Issue 13, access and secrets seen from the HTTP edge: which tokens a token may see, what the request log never
 * holds, where mailed links point, and the headers every response carries.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';

describe(`hardening: access and secrets at the edge (${testDatabaseKind})`, () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t?.close());

  it('when an account-admin of a partner account lists, reads and revokes tokens, then it sees only roles it may create and the partner-admin token stays', async () => {
    const partner = await createAccountWithToken(t, { name: 'Token Partner', type: 'partner' });
    const partnerAdmin = { Authorization: `Bearer ${partner.token}`, 'Content-Type': scimJson };
    const issued = await t.request.post('/scim/v2/Tokens').set(partnerAdmin).send({ schemas: [TOKEN], role: 'account-admin' });
    expect(issued.status, JSON.stringify(issued.body)).to.equal(201);
    const accountAdmin = { Authorization: `Bearer ${issued.body.token as string}`, 'Content-Type': scimJson };
    const all = await t.request.get('/scim/v2/Tokens').set(partnerAdmin);
    const partnerAdminToken = (all.body.Resources as { id: string; role: string }[]).find((r) => r.role === 'partner-admin');
    expect(partnerAdminToken).to.not.equal(undefined);

    const listed = await t.request.get('/scim/v2/Tokens').set(accountAdmin);
    expect(listed.status).to.equal(200);
    const listedRoles = (listed.body.Resources as { role: string }[]).map((r) => r.role);
    expect(listedRoles).to.not.include('partner-admin');
    expect(listed.body.totalResults).to.equal(listedRoles.length);
    expect((await t.request.get(`/scim/v2/Tokens/${partnerAdminToken!.id}`).set(accountAdmin)).status).to.equal(404);
    const revoked = await t.request.delete(`/scim/v2/Tokens/${partnerAdminToken!.id}`).set(accountAdmin);
    expect(revoked.status).to.equal(404);
    expect((await t.request.get('/scim/v2/Tokens').set(partnerAdmin)).status, 'the partner-admin token still works').to.equal(200);
  });

  describe('links without PUBLIC_URL on a server reachable from outside (HOST 0.0.0.0)', () => {
    let open: TestApp;
    before(async () => {
      open = await createTestApp({ HOST: '0.0.0.0' });
    });
    after(async () => open?.close());

    it('when POST /Actions would mail a link, then 409 naming PUBLIC_URL, nothing queued, and the Host header never becomes a link', async () => {
      const a = await createAccountWithToken(open, { name: 'No Link Base', type: 'customer', role: 'provisioning' });
      const pushed = await open.request.post('/accounts/' + a.accountId + '/scim/v2/Users').set({ Authorization: `Bearer ${a.token}` }).send({ schemas: [USER], userName: 'eve@links.test', emails: [{ value: 'eve@links.test' }] });
      expect(pushed.status, JSON.stringify(pushed.body)).to.equal(201);
      const res = await open.request
        .post(`/accounts/${a.accountId}/scim/v2/Actions`)
        .set({ Authorization: `Bearer ${open.operatorToken}`, Host: 'evil.example' })
        .send({ schemas: [ACTION], type: 'sendWelcomeEmail', targets: { ids: [pushed.body.id] } });
      expect(res.status, JSON.stringify(res.body)).to.equal(409);
      expect(res.body.detail).to.contain('PUBLIC_URL');
      const queued = (await open.deps.db.knex('outbox').where({ account_id: a.accountId })) as { text_body: string }[];
      expect(queued).to.have.length(0);
      expect(await open.deps.db.knex('registration_links').where({ account_id: a.accountId })).to.have.length(0);
    });

    it('when an admin creates a user (which mails a welcome link), then 409 naming PUBLIC_URL and no user is created', async () => {
      const a = await createAccountWithToken(open, { name: 'No Link Base Admin', type: 'customer' });
      const res = await open.request
        .post(`/accounts/${a.accountId}/scim/v2/Users`)
        .set({ Authorization: `Bearer ${a.token}`, Host: 'evil.example' })
        .send({ schemas: [USER], userName: 'amy@links.test', name: { givenName: 'Amy', familyName: 'Links' }, emails: [{ value: 'amy@links.test', primary: true }] });
      expect(res.status, JSON.stringify(res.body)).to.equal(409);
      expect(res.body.detail).to.contain('PUBLIC_URL');
      expect(await open.deps.db.knex('users').where({ account_id: a.accountId })).to.have.length(0);
    });
  });
});
