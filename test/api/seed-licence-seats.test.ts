/**
 * The seed's "never past the seats" on the User Edit page: a MiTeam Meetings licence given to one user is counted
 * against the account's seats under the account row lock, case-insensitively, by the same count the assignLicense
 * action uses; edits racing for the last seat cannot both take it, and an action and an edit do not deadlock.
 */
import { expect } from 'chai';
import { DomainError } from '../../src/domain/errors.js';
import type { StoredUser } from '../../src/db/users-repo.js';
import { createAccountWithToken, createTestApp, formFields, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const MTM = 'MiTeam Meetings';

type Json = Record<string, unknown>;

describe(`seed: licence seats on user edits (${testDatabaseKind})`, () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t?.close());

  async function licensedAccount(name: string, seats: number, users: number) {
    const a = await createAccountWithToken(t, { name, type: 'customer' });
    const res = await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set({ Authorization: `Bearer ${t.operatorToken}` }).send({
      schemas: [PATCH], Operations: [{ op: 'replace', value: { settings: { miTeamMeetings: true }, subscriptions: [{ product: MTM, seats }] } }],
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const ids: string[] = [];
    for (let i = 0; i < users; i++) {
      const userName = `u${i}@${name.toLowerCase().replace(/\W/g, '')}.test`;
      const created = await t.request.post(`/accounts/${a.accountId}/scim/v2/Users`).set(auth(a.token)).send({ schemas: [USER], userName, ...formFields(userName) });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      ids.push(created.body.id as string);
    }
    return { ...a, ids };
  }

  function auth(token: string) {
    return { Authorization: `Bearer ${token}`, 'Content-Type': scimJson };
  }

  const license = (a: { accountId: string; token: string }, id: string, product = MTM) =>
    t.request.patch(`/accounts/${a.accountId}/scim/v2/Users/${id}`).set(auth(a.token)).send({ schemas: [PATCH], Operations: [{ op: 'add', path: `${EXT}:licenses`, value: [product] }] });

  const holders = async (accountId: string) =>
    ((await t.db.knex('users').where({ account_id: accountId })) as { data: Json }[]).filter((u) => Array.isArray((u.data[EXT] as Json | undefined)?.licenses)).length;

  it('when a seat is held under another spelling of the product, then the last seat is taken and the next edit gets 400 saying so', async () => {
    const a = await licensedAccount('Spelling Co', 1, 2);
    const first = await license(a, a.ids[0]!, 'miteam meetings');
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    const before = await t.request.get(`/accounts/${a.accountId}/scim/v2/Users/${a.ids[1]}`).set(auth(a.token));
    const second = await license(a, a.ids[1]!);
    expect(second.status, JSON.stringify(second.body)).to.equal(400);
    expect(second.body.scimType).to.equal('invalidValue');
    expect(second.body.detail).to.equal(`No ${MTM} seat left: all 1 are assigned`);
    const after = await t.request.get(`/accounts/${a.accountId}/scim/v2/Users/${a.ids[1]}`).set(auth(a.token));
    expect(after.body.meta.version).to.equal(before.body.meta.version);
    expect(await holders(a.accountId)).to.equal(1);
  });

  it('when an edit holds the last seat in an open transaction, then a second edit waits for it and is refused once it commits', async () => {
    const a = await licensedAccount('Race Co', 1, 2);
    const { users } = t.deps;
    const writer = { type: 'admin' as const, via: 'token' as const, actor: 'test' };
    const withLicence = (user: StoredUser): Json => ({ ...user.doc, [EXT]: { ...((user.doc[EXT] as Json | undefined) ?? {}), licenses: [MTM] } });
    const first = await t.db.knex.transaction();
    let settled = false;
    let second: Promise<unknown> | undefined;
    try {
      const one = await users.findForUpdate(first, a.accountId, a.ids[0]!);
      await users.apply(first, a.accountId, writer, one, withLicence(one));
      second = users
        .transaction(async (trx) => {
          const two = await users.findForUpdate(trx, a.accountId, a.ids[1]!);
          return users.apply(trx, a.accountId, writer, two, withLicence(two));
        })
        .finally(() => {
          settled = true;
        });
      second.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled, 'the second edit must wait for the account row the first one locked').to.equal(false);
      await first.commit();
    } catch (error) {
      if (!first.isCompleted()) await first.rollback();
      throw error;
    }
    const outcome = await second!.then(() => undefined, (error: unknown) => error);
    expect(outcome).to.be.instanceOf(DomainError);
    expect((outcome as DomainError).detail).to.equal(`No ${MTM} seat left: all 1 are assigned`);
    expect(await holders(a.accountId)).to.equal(1);
  });

  it('when edits and an assignLicense action race for few seats, then the seats are never exceeded and each refusal says why', async () => {
    const a = await licensedAccount('Crowd Co', 3, 8);
    const [edits, action] = await Promise.all([
      Promise.all(a.ids.slice(0, 5).map((id) => license(a, id))),
      t.request.post(`/accounts/${a.accountId}/scim/v2/Actions`).set(auth(a.token)).send({ schemas: [ACTION], type: 'assignLicense', targets: { ids: a.ids.slice(6) }, params: { product: MTM } }),
    ]);
    for (const res of edits) {
      expect([200, 400], JSON.stringify(res.body)).to.include(res.status);
      if (res.status === 400) expect(res.body.detail).to.match(/No MiTeam Meetings seat left/);
    }
    // The action is all or nothing: 201 when its users fitted the seats left, else 400 saying how many are left.
    expect([201, 400], JSON.stringify(action.body)).to.include(action.status);
    if (action.status === 400) expect(action.body.detail).to.match(/Not enough MiTeam Meetings licences/);
    expect(await holders(a.accountId)).to.equal(3);
  });
});
