/**
 * The seed gives admins the Account Admin toggle, licences and SMS numbers ("The Users page enables Mitel Partners
 * and Account Admins ... enable or disable administrative rights for a user ... assign products and licenses to a
 * user; and delete a user"): a `user` token keeps its own profile editable through /Me (RFC 7644 §3.11) and cannot
 * change those. seed-user-fields covers the grants; this covers echoes, removals and mixed PATCHes.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const MTM = 'MiTeam Meetings';

describe(`seed: what a user token may change of itself through /Me (${testDatabaseKind})`, () => {
  let t: TestApp;
  let a: { accountId: string; token: string };
  let userId: string;
  let me: Record<string, string>;
  before(async () => {
    t = await createTestApp();
    a = await createAccountWithToken(t, { name: 'Me Rights Co', type: 'customer' });
    const account = await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set({ Authorization: `Bearer ${t.operatorToken}` }).send({
      schemas: [PATCH], Operations: [{ op: 'replace', value: { settings: { miTeamMeetings: true }, subscriptions: [{ product: MTM, seats: 2 }] } }],
    });
    expect(account.status, JSON.stringify(account.body)).to.equal(200);
    const created = await t.request.post(`/accounts/${a.accountId}/scim/v2/Users`).set(admin()).send({ schemas: [USER, EXT], userName: 'mia@me.test', ...formFields('mia@me.test', 'Mia'), [EXT]: { licenses: [MTM] } });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    userId = created.body.id as string;
    const token = await t.request.post(`/accounts/${a.accountId}/scim/v2/Tokens`).set(admin()).send({ schemas: [TOKEN], role: 'user', userId });
    expect(token.status).to.equal(201);
    me = { Authorization: `Bearer ${token.body.token as string}`, 'Content-Type': scimJson };
  });
  after(async () => t?.close());

  function admin(): Record<string, string> {
    return { Authorization: `Bearer ${a.token}`, 'Content-Type': scimJson };
  }

  it('when a user PUTs back what GET /Me gave with its own edits (the toggle shown off), then 200: unchanged admin fields are not a change', async () => {
    const got = await t.request.get('/scim/v2/Me').set(me);
    const put = await t.request.put('/scim/v2/Me').set(me).send({ ...got.body, title: 'Designer', [EXT]: { ...got.body[EXT], accountAdmin: false } });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    expect(put.body.title).to.equal('Designer');
    expect(put.body[EXT].licenses).to.deep.equal([MTM]);
  });

  it('when a user removes its own licence, or mixes a profile edit with a licence change, then 403 naming licenses and nothing changes', async () => {
    const before = await t.request.get('/scim/v2/Me').set(me);
    for (const Operations of [
      [{ op: 'remove', path: `${EXT}:licenses` }],
      [{ op: 'replace', path: 'nickName', value: 'Mimi' }, { op: 'replace', path: `${EXT}:licenses`, value: [] }],
    ]) {
      const res = await t.request.patch('/scim/v2/Me').set(me).send({ schemas: [PATCH], Operations });
      expect(res.status, JSON.stringify(res.body)).to.equal(403);
      expect(res.body.detail).to.contain('licenses');
    }
    const put = await t.request.put('/scim/v2/Me').set(me).send({ schemas: [USER], userName: 'mia@me.test', ...formFields('mia@me.test', 'Mia') });
    expect(put.status).to.equal(403);
    expect(put.body.detail).to.contain('licenses');
    const after = await t.request.get('/scim/v2/Me').set(me);
    expect(after.body.meta.version).to.equal(before.body.meta.version);
    expect(after.body.nickName).to.equal(undefined);
  });

  it('when an account admin changes the same user\'s role, licences and deletes it, then the admin may', async () => {
    const res = await t.request.patch(`/accounts/${a.accountId}/scim/v2/Users/${userId}`).set(admin()).send({
      schemas: [PATCH], Operations: [{ op: 'replace', path: `${EXT}:accountAdmin`, value: true }, { op: 'remove', path: `${EXT}:licenses` }],
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body[EXT].accountAdmin).to.equal(true);
    expect((await t.request.delete('/scim/v2/Me').set(me)).status).to.equal(403);
    expect((await t.request.get('/scim/v2/Me').set(me)).status).to.equal(200);
  });
});
