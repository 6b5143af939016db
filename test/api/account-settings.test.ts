import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';

describe(`account settings (${testDatabaseKind})`, () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());

  it('when an account admin patches its settings, then Twilio numbers become assignable and only pool numbers are accepted', async () => {
    const a = await createAccountWithToken(t, { name: 'Settings Co', type: 'customer' });
    const h = { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/scim+json' };
    const user = await t.request.post('/scim/v2/Users').set(h).send({ schemas: [USER], userName: 'sms@example.com', ...formFields('sms@example.com') });
    const early = await t.request.patch(`/scim/v2/Users/${user.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${SB}:smsNumber`, value: '+14155550100' }] });
    expect(early.status).to.equal(400);
    expect(early.body.detail).to.match(/Twilio/);
    const patched = await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set(h).send({
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'settings.twilio', value: { enabled: true, userNumbers: true, smsPool: ['+14155550100', '+14155550101'] } }],
    });
    expect(patched.status).to.equal(200);
    expect(patched.body.settings.twilio.smsPool).to.deep.equal(['+14155550100', '+14155550101']);
    const ok = await t.request.patch(`/scim/v2/Users/${user.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${SB}:smsNumber`, value: '+14155550100' }] });
    expect(ok.status).to.equal(200);
    expect(ok.body[SB].smsNumber).to.equal('+14155550100');
    const outside = await t.request.patch(`/scim/v2/Users/${user.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${SB}:smsNumber`, value: '+14155550199' }] });
    expect(outside.status).to.equal(400);
    expect(outside.body.detail).to.match(/not in the account's pool/);
    const other = await t.request.post('/scim/v2/Users').set(h).send({ schemas: [USER, SB], userName: 'sms2@example.com', ...formFields('sms2@example.com'), [SB]: { smsNumber: '+14155550100' } });
    expect(other.status).to.equal(409);
    const badPool = await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'settings.twilio', value: { enabled: true, userNumbers: true, smsPool: ['555'] } }] });
    expect(badPool.status).to.equal(400);
    expect(badPool.body.detail).to.match(/E\.164/);
  });

  it('when a partner account is given MiTeam Meetings seats, then 400', async () => {
    const p = await createAccountWithToken(t, { name: 'Partner Seats', type: 'partner' });
    const res = await t.request.patch(`/scim/v2/Accounts/${p.accountId}`).set({ Authorization: `Bearer ${t.operatorToken}` }).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'subscriptions', value: [{ product: 'MiTeam Meetings', seats: 25 }] }] });
    expect(res.status).to.equal(400);
    expect(res.body.detail).to.match(/partner account cannot be licensed for MiTeam Meetings/);
  });

  it('when the last account admin would lose the role, then 400 and the toggle stays on', async () => {
    const a = await createAccountWithToken(t, { name: 'Admins Co', type: 'customer' });
    const h = { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/scim+json' };
    const admin = await t.request.post('/scim/v2/Users').set(h).send({ schemas: [USER, SB], userName: 'admin@example.com', ...formFields('admin@example.com'), [SB]: { accountAdmin: true } });
    const off = await t.request.patch(`/scim/v2/Users/${admin.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${SB}:accountAdmin`, value: false }] });
    expect(off.status).to.equal(400);
    expect(off.body.detail).to.match(/last account admin/);
    const second = await t.request.post('/scim/v2/Users').set(h).send({ schemas: [USER, SB], userName: 'admin2@example.com', ...formFields('admin2@example.com'), [SB]: { accountAdmin: true } });
    expect(second.status).to.equal(201);
    const nowOk = await t.request.patch(`/scim/v2/Users/${admin.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${SB}:accountAdmin`, value: false }] });
    expect(nowOk.status).to.equal(200);
    expect(nowOk.body[SB].accountAdmin).to.equal(false);
  });
});
