/**
 * Issue 13, access and secrets seen from the HTTP edge: which tokens a token may see, what the request log never
 * holds, where mailed links point, and the headers every response carries.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';

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
});
