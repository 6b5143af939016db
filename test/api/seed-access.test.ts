/**
 * The seed's "who may do what" on the Users page (managing-users.txt): "The Users page enables Mitel Partners and
 * Account Admins of a customer account to add, edit, view, and search for a user; enable or disable administrative
 * rights for a user; reset a user's password; resend welcome email to a user; assign products and licenses to a
 * user; and delete a user from that account", and MiTeam Meetings licences that need "at least one MiTeam
 * Meetings subscription/order assigned to" the account, never past its seats.
 */
import { usersRepo } from '../../src/db/users-repo.js';
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const ACCOUNT = 'urn:switchboard:scim:schemas:core:2.0:Account';
const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const MTM = 'MiTeam Meetings';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Tenant {
  accountId: string;
  token: string;
}

describe(`seed: who may manage the users of an account (${testDatabaseKind})`, () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ PUBLIC_URL: 'http://switchboard.test' });
  });
  after(async () => t?.close());

  const base = (accountId: string) => `/accounts/${accountId}/scim/v2`;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': scimJson });
  const knex = () => t.db.knex;

  async function customerOf(partner: Tenant, name: string): Promise<string> {
    const res = await t.request.post('/scim/v2/Accounts').set(auth(partner.token)).send({ schemas: [ACCOUNT], name, type: 'customer' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  }

  async function tokenFor(accountId: string, role: string, extra: Json = {}): Promise<string> {
    const res = await t.request.post(`${base(accountId)}/Tokens`).set(auth(t.operatorToken)).send({ schemas: [TOKEN], role, ...extra });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.token as string;
  }

  const newUser = (userName: string, ext: Json = {}) => ({
    schemas: [USER, EXT],
    userName,
    name: { givenName: userName.split('@')[0], familyName: 'Tester' },
    emails: [{ value: userName, primary: true }],
    ...(Object.keys(ext).length ? { [EXT]: ext } : {}),
  });

  async function setAccount(accountId: string, value: Json, token = t.operatorToken): Promise<Json> {
    const res = await t.request.patch(`/scim/v2/Accounts/${accountId}`).set(auth(token)).send({ schemas: [PATCH], Operations: [{ op: 'replace', value }] });
    return res;
  }

  it("when a partner admin works on its customer's Users page, then it adds, edits, views, searches, toggles the admin role, sends welcome and reset emails, licenses and deletes users", async () => {
    const partner = await createAccountWithToken(t, { name: 'Seed Partner', type: 'partner' });
    const customerId = await customerOf(partner, 'Seed Customer');
    const h = auth(partner.token);
    const b = base(customerId);
    expect((await setAccount(customerId, { settings: { miTeamMeetings: true, miCollab: false }, subscriptions: [{ product: MTM, seats: 5 }] }, partner.token)).status).to.equal(200);

    const created = await t.request.post(`${b}/Users`).set(h).send(newUser('ana@customer.test'));
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id as string;
    const welcome = await knex()('outbox').where({ account_id: customerId, user_id: id, kind: 'welcome' });
    expect(welcome, 'Add User sends the welcome email').to.have.length(1);

    const edited = await t.request.patch(`${b}/Users/${id}`).set(h).send({
      schemas: [PATCH],
      Operations: [
        { op: 'replace', path: 'name.familyName', value: 'Edited' },
        { op: 'replace', path: `${EXT}:accountAdmin`, value: true },
      ],
    });
    expect(edited.status, JSON.stringify(edited.body)).to.equal(200);
    expect(edited.body.name.familyName).to.equal('Edited');
    expect(edited.body[EXT].accountAdmin).to.equal(true);
    expect((await t.request.get(`${b}/Users/${id}`).set(h)).body.name.familyName).to.equal('Edited');
    const found = await t.request.get(`${b}/Users`).query({ filter: 'name.familyName sw "edi" or emails.value sw "edi"' }).set(h);
    expect(found.body.Resources.map((r: Json) => r.id)).to.deep.equal([id]);

    const second = await t.request.post(`${b}/Users`).set(h).send(newUser('bo@customer.test'));
    expect(second.status).to.equal(201);
    const admin = await t.request.post(`${b}/Users`).set(h).send(newUser('cy@customer.test', { accountAdmin: true }));
    expect(admin.status).to.equal(201);
    await knex()('users').where({ account_id: customerId, id }).update({ registered: true }); // A registered user, short of the registration flow: its stored representation follows.
    await usersRepo.refreshResources(knex(), customerId, [id]);
    for (const [type, params] of [['sendWelcomeEmail', {}], ['resetPassword', {}], ['assignLicense', { product: MTM }]] as const) {
      const res = await t.request.post(`${b}/Actions`).set(h).send({ schemas: [ACTION], type, targets: { ids: [id] }, params });
      expect(res.status, `${type}: ${JSON.stringify(res.body)}`).to.equal(201);
      expect(res.body.summary, type).to.include({ succeeded: 1, failed: 0 });
    }
    expect((await t.request.get(`${b}/Users/${id}`).set(h)).body[EXT].licenses).to.deep.equal([MTM]);
    const off = await t.request.patch(`${b}/Users/${id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${EXT}:accountAdmin`, value: false }] });
    expect(off.status).to.equal(200);
    expect(off.body[EXT].accountAdmin).to.equal(false);

    const deleted = await t.request.post(`${b}/Actions`).set(h).send({ schemas: [ACTION], type: 'deleteUsers', targets: { ids: [second.body.id] } });
    expect(deleted.status).to.equal(201);
    expect(deleted.body.results).to.deep.equal([{ userId: second.body.id, outcome: 'done', value: 'deleted' }]);
    expect((await t.request.get(`${b}/Users/${second.body.id}`).set(h)).status).to.equal(404);
  });

  it("when a partner or customer token reaches for an account outside its tree, then every Users page operation answers 404 and changes nothing", async () => {
    const mine = await createAccountWithToken(t, { name: 'Own Partner', type: 'partner' });
    const other = await createAccountWithToken(t, { name: 'Other Partner', type: 'partner' });
    const theirCustomer = await customerOf(other, 'Their Customer');
    const myCustomer = await customerOf(mine, 'My Customer');
    const theirUser = await t.request.post(`${base(theirCustomer)}/Users`).set(auth(other.token)).send(newUser('theirs@their.test'));
    expect(theirUser.status).to.equal(201);
    const customerAdmin = await tokenFor(myCustomer, 'account-admin');
    const partnerUser = await t.request.post(`${base(mine.accountId)}/Users`).set(auth(mine.token)).send(newUser('pat@partner.test'));
    expect(partnerUser.status).to.equal(201);

    const attempts: [string, string, string, string][] = [
      // [token, label, account addressed, user of it]
      [mine.token, "a partner on another partner's customer", theirCustomer, theirUser.body.id as string],
      [customerAdmin, "a customer admin on its partner's account", mine.accountId, partnerUser.body.id as string],
      [customerAdmin, 'a customer admin on a customer of another partner', theirCustomer, theirUser.body.id as string],
    ];
    for (const [token, label, accountId, userId] of attempts) {
      const h = auth(token);
      const b = base(accountId);
      const answers = [
        await t.request.get(`${b}/Users`).set(h),
        await t.request.get(`${b}/Users/${userId}`).set(h),
        await t.request.post(`${b}/Users`).set(h).send(newUser(`intruder-${accountId.slice(0, 8)}@x.test`)),
        await t.request.patch(`${b}/Users/${userId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${EXT}:accountAdmin`, value: true }] }),
        await t.request.delete(`${b}/Users/${userId}`).set(h),
        await t.request.post(`${b}/Actions`).set(h).send({ schemas: [ACTION], type: 'sendWelcomeEmail', targets: { all: true } }),
      ];
      expect(answers.map((r) => r.status), label).to.deep.equal([404, 404, 404, 404, 404, 404]);
      const user = (await knex()('users').where({ account_id: accountId, id: userId }).first()) as Json;
      expect(user.data[EXT]?.accountAdmin, label).to.equal(undefined);
      expect(await knex()('actions').where({ account_id: accountId }), label).to.have.length(0);
      expect(await knex()('users').where({ account_id: accountId }).whereLike('user_name', 'intruder%'), label).to.have.length(0);
    }
  });

  it('when an identity provider or a user token asks for a Users page operation (POST /Actions), then 403 and no action is recorded', async () => {
    const a = await createAccountWithToken(t, { name: 'Roles Customer', type: 'customer' });
    const user = await t.request.post(`${base(a.accountId)}/Users`).set(auth(a.token)).send(newUser('role@roles.test'));
    const provisioning = await tokenFor(a.accountId, 'provisioning');
    const userToken = await tokenFor(a.accountId, 'user', { userId: user.body.id });
    for (const token of [provisioning, userToken]) {
      for (const type of ['sendWelcomeEmail', 'resetPassword', 'deleteUsers']) {
        const res = await t.request.post(`${base(a.accountId)}/Actions`).set(auth(token)).send({ schemas: [ACTION], type, targets: { ids: [user.body.id] } });
        expect(res.status, type).to.equal(403);
        expect(res.body.schemas).to.deep.equal(['urn:ietf:params:scim:api:messages:2.0:Error']);
      }
    }
    expect(await knex()('actions').where({ account_id: a.accountId })).to.have.length(0);
    expect((await t.request.get(`${base(a.accountId)}/Users/${user.body.id}`).set(auth(a.token))).status).to.equal(200);
  });

  it("when an account's own admin changes its subscriptions, then 403 and the seats stay; its partner or the operator assigns them", async () => {
    const partner = await createAccountWithToken(t, { name: 'Seat Partner', type: 'partner' });
    const customerId = await customerOf(partner, 'Seat Customer');
    const admin = await tokenFor(customerId, 'account-admin');
    expect((await setAccount(customerId, { settings: { miTeamMeetings: true }, subscriptions: [{ product: MTM, seats: 2 }] }, partner.token)).status).to.equal(200);

    for (const operation of [
      { op: 'replace', path: 'subscriptions', value: [{ product: MTM, seats: 500 }] },
      { op: 'add', path: 'subscriptions', value: [{ product: 'MiCollab', seats: 10 }] },
      { op: 'remove', path: 'subscriptions' },
    ]) {
      const res = await t.request.patch(`/scim/v2/Accounts/${customerId}`).set(auth(admin)).send({ schemas: [PATCH], Operations: [operation] });
      expect(res.status, JSON.stringify(operation)).to.equal(403);
      expect(res.body.detail).to.match(/partner or the operator/);
    }
    const current = await t.request.get(`/scim/v2/Accounts/${customerId}`).set(auth(admin));
    const put = await t.request.put(`/scim/v2/Accounts/${customerId}`).set(auth(admin)).send({ ...current.body, subscriptions: [{ product: MTM, seats: 99 }] });
    expect(put.status).to.equal(403);
    // The admin still manages what is its own: the name and the integrations.
    const renamed = await t.request.put(`/scim/v2/Accounts/${customerId}`).set(auth(admin)).send({ ...current.body, name: 'Seat Customer Renamed' });
    expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
    const own = await setAccount(customerId, { settings: { miTeamMeetings: true, miCollab: false } }, admin);
    expect(own.status, JSON.stringify(own.body)).to.equal(200);
    const stored = await knex()('account_subscriptions').where({ account_id: customerId }).select('product', 'seats');
    expect(stored).to.deep.equal([{ product: MTM, seats: 2 }]);

    // A partner admin cannot raise its own partner account's orders either; the operator can.
    const selfPartner = await t.request.patch(`/scim/v2/Accounts/${partner.accountId}`).set(auth(partner.token)).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'subscriptions', value: [{ product: 'MiCollab', seats: 10 }] }] });
    expect(selfPartner.status).to.equal(403);
    const byOperator = await t.request.patch(`/scim/v2/Accounts/${partner.accountId}`).set(auth(t.operatorToken)).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'subscriptions', value: [{ product: 'MiCollab', seats: 10 }] }] });
    expect(byOperator.status, JSON.stringify(byOperator.body)).to.equal(200);
    expect(byOperator.body.subscriptions).to.deep.equal([{ product: 'MiCollab', seats: 10, assigned: 0, available: 10 }]);
  });

  it('when seats would drop below the MiTeam Meetings licences already assigned, or the subscription be removed, then 400 saying how many to unassign and nothing changes', async () => {
    const partner = await createAccountWithToken(t, { name: 'Shrink Partner', type: 'partner' });
    const customerId = await customerOf(partner, 'Shrink Customer');
    expect((await setAccount(customerId, { settings: { miTeamMeetings: true }, subscriptions: [{ product: MTM, seats: 3 }] }, partner.token)).status).to.equal(200);
    const admin = await tokenFor(customerId, 'account-admin');
    const ids: string[] = [];
    for (const name of ['s1', 's2', 's3']) {
      const res = await t.request.post(`${base(customerId)}/Users`).set(auth(admin)).send(newUser(`${name}@shrink.test`));
      ids.push(res.body.id as string);
    }
    const assign = await t.request.post(`${base(customerId)}/Actions`).set(auth(admin)).send({ schemas: [ACTION], type: 'assignLicense', targets: { ids: ids.slice(0, 2) }, params: { product: MTM } });
    expect(assign.status).to.equal(201);

    const shrink = await setAccount(customerId, { subscriptions: [{ product: MTM, seats: 1 }] }, partner.token);
    expect(shrink.status, JSON.stringify(shrink.body)).to.equal(400);
    expect(shrink.body.scimType).to.equal('invalidValue');
    expect(shrink.body.detail).to.contain('2 users hold a MiTeam Meetings licence').and.contain('unassign 1');
    const removed = await t.request.patch(`/scim/v2/Accounts/${customerId}`).set(auth(partner.token)).send({ schemas: [PATCH], Operations: [{ op: 'remove', path: 'subscriptions' }] });
    expect(removed.status).to.equal(400);
    expect(removed.body.detail).to.contain('cannot be removed');
    expect(await knex()('account_subscriptions').where({ account_id: customerId }).select('product', 'seats')).to.deep.equal([{ product: MTM, seats: 3 }]);

    const exact = await setAccount(customerId, { subscriptions: [{ product: MTM, seats: 2 }] }, partner.token);
    expect(exact.status, JSON.stringify(exact.body)).to.equal(200);
    // With every seat taken, the next licence is refused, by the action and by the edit page alike.
    const third = await t.request.post(`${base(customerId)}/Actions`).set(auth(admin)).send({ schemas: [ACTION], type: 'assignLicense', targets: { ids: [ids[2]] }, params: { product: MTM } });
    expect(third.status).to.equal(400);
    expect(third.body.detail).to.contain('0 of 2 available');
    const edit = await t.request.patch(`${base(customerId)}/Users/${ids[2]}`).set(auth(admin)).send({ schemas: [PATCH], Operations: [{ op: 'add', path: `${EXT}:licenses`, value: [MTM] }] });
    expect(edit.status).to.equal(400);
    expect(edit.body.detail).to.match(/seat/);
    expect((await t.request.get(`${base(customerId)}/Users/${ids[2]}`).set(auth(admin))).body[EXT].licenses).to.equal(undefined);
  });

  for (const [label, type, settings, subscriptions, reason] of [
    ['the account is a partner', 'partner', { miTeamMeetings: true }, undefined, /partner/],
    ['MiCollab is on', 'customer', { miTeamMeetings: true, miCollab: true }, [{ product: MTM, seats: 5 }], /MiCollab/],
    ['the MiTeam Meetings integration is off', 'customer', { miTeamMeetings: false }, [{ product: MTM, seats: 5 }], /integration/],
    ['there is no subscription', 'customer', { miTeamMeetings: true }, [], /subscription/],
  ] as const) {
    it(`when an admin licenses a user for MiTeam Meetings on the User Edit page and ${label}, then 400 with the reason and no licence`, async () => {
      const a = await createAccountWithToken(t, { name: `Edit licence ${label}`, type });
      expect((await setAccount(a.accountId, { settings, ...(subscriptions ? { subscriptions } : {}) })).status).to.equal(200);
      const user = await t.request.post(`${base(a.accountId)}/Users`).set(auth(a.token)).send(newUser(`lic-${type}@edit.test`));
      expect(user.status).to.equal(201);
      const created = await t.request.post(`${base(a.accountId)}/Users`).set(auth(a.token)).send(newUser(`lic2-${type}@edit.test`, { licenses: [MTM] }));
      expect(created.status, 'Add User with a licence').to.equal(400);
      const res = await t.request.patch(`${base(a.accountId)}/Users/${user.body.id}`).set(auth(a.token)).send({ schemas: [PATCH], Operations: [{ op: 'add', path: `${EXT}:licenses`, value: [MTM] }] });
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.scimType).to.equal('invalidValue');
      expect(res.body.detail).to.match(reason);
      expect((await t.request.get(`${base(a.accountId)}/Users/${user.body.id}`).set(auth(a.token))).body[EXT].licenses).to.equal(undefined);
    });
  }
});
