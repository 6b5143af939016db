/**
 * The seed's New User form and the rights behind the Account Admin toggle (managing-users.txt): "Enter the First
 * Name, Last Name, and Email address. These fields are mandatory", "Enter a valid email address", PBX extension
 * numbers, and "The Users page enables Mitel Partners and Account Admins ... enable or disable administrative
 * rights for a user ... assign products and licenses to a user; and delete a user": not a user for itself (/Me).
 *
 * Needs UserService (src/services/user-service.ts) to call adminEntryViolation from src/domain/user-rules.ts for
 * admin writers, and the /Me routes (src/scim/users-router.ts) to refuse what only admins may change.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const MTM = 'MiTeam Meetings';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe(`seed: the New User form's mandatory and valid fields, and admin-only rights (${testDatabaseKind})`, () => {
  let t: TestApp;
  let a: { accountId: string; token: string };
  before(async () => {
    t = await createTestApp({ PUBLIC_URL: 'http://switchboard.test' });
    a = await createAccountWithToken(t, { name: 'Fields Co', type: 'customer' });
  });
  after(async () => t?.close());

  const base = () => `/accounts/${a.accountId}/scim/v2`;
  const auth = (token = a.token) => ({ Authorization: `Bearer ${token}`, 'Content-Type': scimJson });
  const complete = (userName: string, extra: Json = {}): Json => ({
    schemas: [USER, EXT], userName, name: { givenName: 'Fay', familyName: 'Fields' }, emails: [{ value: userName, primary: true }], ...extra,
  });
  const usersNamed = (userName: string) => t.db.knex('users').where({ account_id: a.accountId }).whereRaw('lower(user_name) = lower(?)', [userName]);

  for (const [label, body, words] of [
    ['without a First Name', { ...complete('no-first@fields.test'), name: { familyName: 'Fields' } }, /givenName|First Name/],
    ['without a Last Name', { ...complete('no-last@fields.test'), name: { givenName: 'Fay' } }, /familyName|Last Name/],
    ['with blank names', { ...complete('blank@fields.test'), name: { givenName: ' ', familyName: '' } }, /givenName|First Name/],
    ['without an Email', { ...complete('no-email@fields.test'), emails: undefined }, /email/i],
    ['with an invalid Email', complete('not-an-address'), /valid email/],
    ['with an Email missing its domain', { ...complete('no-domain@fields.test'), emails: [{ value: 'fay@', primary: true }] }, /valid email/],
    ['with an extension that is not a number', complete('ext-letters@fields.test', { [EXT]: { extensions: ['20a1'] } }), /extension/],
    ['with one extension listed twice', complete('ext-twice@fields.test', { [EXT]: { extensions: ['2001', '2001'] } }), /listed twice/],
  ] as [string, Json, RegExp][]) {
    it(`when an admin adds a user ${label}, then 400 invalidValue saying what to fix, and no user or welcome email is created`, async () => {
      const res = await t.request.post(`${base()}/Users`).set(auth()).send(body);
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.scimType).to.equal('invalidValue');
      expect(res.body.detail).to.match(words);
      expect(await usersNamed(String(body.userName))).to.have.length(0);
      expect(await t.db.knex('outbox').where({ account_id: a.accountId, kind: 'welcome' }).whereLike('to_address', `%${String(body.userName).split('@')[0]}%`)).to.have.length(0);
    });
  }

  it('when an admin edit empties a mandatory field or adds an invalid email, then 400 and the user is unchanged; other edits pass', async () => {
    const created = await t.request.post(`${base()}/Users`).set(auth()).send(complete('edit-me@fields.test'));
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id as string;
    for (const operation of [
      { op: 'remove', path: 'name.familyName' },
      { op: 'replace', path: 'name.givenName', value: '' },
      { op: 'remove', path: 'emails' },
      { op: 'replace', path: 'emails', value: [{ value: 'broken@@fields.test', primary: true }] },
      { op: 'replace', path: `${EXT}:extensions`, value: ['12-34'] },
    ]) {
      const res = await t.request.patch(`${base()}/Users/${id}`).set(auth()).send({ schemas: [PATCH], Operations: [operation] });
      expect(res.status, JSON.stringify(operation)).to.equal(400);
      expect(res.body.scimType).to.equal('invalidValue');
    }
    const now = await t.request.get(`${base()}/Users/${id}`).set(auth());
    expect(now.body.name).to.deep.include({ givenName: 'Fay', familyName: 'Fields' });
    expect(now.body.emails).to.deep.equal([{ value: 'edit-me@fields.test', primary: true }]);
    expect(now.body.meta.version).to.equal(created.body.meta.version);
    const ok = await t.request.patch(`${base()}/Users/${id}`).set(auth()).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'name.givenName', value: 'Faye' }, { op: 'add', path: `${EXT}:extensions`, value: ['3001'] }] });
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
  });

  it('when an identity provider pushes a user without names, then it is created: the form rules are the admin\'s', async () => {
    const idp = await t.request.post(`${base()}/Tokens`).set(auth()).send({ schemas: [TOKEN], role: 'provisioning' });
    const res = await t.request.post(`${base()}/Users`).set(auth(idp.body.token as string)).send({ schemas: [USER], userName: 'pushed@fields.test', externalId: 'entra-1' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
  });

  it('when a user token changes its own admin role, licences or SMS number through /Me, or deletes itself, then 403 and nothing changes; its own profile stays editable', async () => {
    const patched = await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set(auth(t.operatorToken)).send({
      schemas: [PATCH], Operations: [{ op: 'replace', value: { settings: { miTeamMeetings: true, twilio: { enabled: true, userNumbers: true, smsPool: ['+14155550181'] } }, subscriptions: [{ product: MTM, seats: 3 }] } }],
    });
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    const me = await t.request.post(`${base()}/Users`).set(auth()).send(complete('me@fields.test'));
    const token = await t.request.post(`${base()}/Tokens`).set(auth()).send({ schemas: [TOKEN], role: 'user', userId: me.body.id });
    expect(token.status).to.equal(201);
    const h = auth(token.body.token as string);
    for (const [path, value] of [[`${EXT}:accountAdmin`, true], [`${EXT}:licenses`, [MTM]], [`${EXT}:smsNumber`, '+14155550181']] as const) {
      const res = await t.request.patch('/scim/v2/Me').set(h).send({ schemas: [PATCH], Operations: [{ op: 'add', path, value }] });
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).to.equal(403);
      expect(res.body.detail, path).to.contain(path.split(':').pop());
    }
    const put = await t.request.put('/scim/v2/Me').set(h).send({ ...complete('me@fields.test'), [EXT]: { accountAdmin: true } });
    expect(put.status).to.equal(403);
    expect((await t.request.delete('/scim/v2/Me').set(h)).status).to.equal(403);
    const stored = (await t.db.knex('users').where({ account_id: a.accountId, id: me.body.id }).first()) as Json;
    expect(stored.account_admin).to.equal(false);
    expect(stored.data[EXT]?.licenses).to.equal(undefined);
    expect(stored.sms_number).to.equal(null);
    const nick = await t.request.patch('/scim/v2/Me').set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'nickName', value: 'Fay' }] });
    expect(nick.status).to.equal(200);
  });
});
