/**
 * The seed's Manage panel "displays the number of MiTeam Meetings licenses available for that account": each
 * subscription of the Account resource carries read-only `assigned` and `available`, counted case-insensitively
 * from the users' licences, on GET, the list and every write's answer; a client echoing them back is accepted and
 * only product and seats are stored.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const ACCOUNT = 'urn:switchboard:scim:schemas:core:2.0:Account';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const MTM = 'MiTeam Meetings';

interface Usage {
  product: string;
  seats: number;
  assigned: number;
  available: number;
}
interface AttributeDef {
  name: string;
  type: string;
  mutability: string;
  subAttributes?: AttributeDef[];
}

describe(`seed: the licence count on the Account resource (${testDatabaseKind})`, () => {
  let t: TestApp;
  let partner: { accountId: string; token: string };
  let customer: { accountId: string; token: string };
  before(async () => {
    t = await createTestApp();
    partner = await createAccountWithToken(t, { name: 'Count Partner', type: 'partner' });
    customer = await createAccountWithToken(t, { name: 'Count Customer', type: 'customer', parentId: partner.accountId, asToken: partner.token });
    const res = await t.request.patch(`/scim/v2/Accounts/${customer.accountId}`).set(auth(partner.token)).send({
      schemas: [PATCH], Operations: [{ op: 'replace', value: { settings: { miTeamMeetings: true }, subscriptions: [{ product: MTM, seats: 5 }, { product: 'MiCollab', seats: 2 }] } }],
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.subscriptions).to.deep.equal([
      { product: 'MiCollab', seats: 2, assigned: 0, available: 2 },
      { product: MTM, seats: 5, assigned: 0, available: 5 },
    ]);
    // Two licences, one under another spelling: both count against the one product.
    for (const [userName, product] of [['ann@count.test', MTM], ['bob@count.test', 'miteam meetings']] as const) {
      const created = await t.request.post(`/accounts/${customer.accountId}/scim/v2/Users`).set(auth(customer.token)).send({ schemas: [USER, EXT], userName, ...formFields(userName), [EXT]: { licenses: [product] } });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
    }
  });
  after(async () => t?.close());

  function auth(token: string): Record<string, string> {
    return { Authorization: `Bearer ${token}`, 'Content-Type': scimJson };
  }
  const path = () => `/scim/v2/Accounts/${customer.accountId}`;
  const mtmOf = (body: unknown): Usage => (body as { subscriptions: Usage[] }).subscriptions.find((s) => s.product === MTM)!;

  it('when the account or the list is read, then each subscription shows its seats, the licences assigned and those available', async () => {
    for (const token of [customer.token, partner.token]) {
      const got = await t.request.get(path()).set(auth(token));
      expect(got.status).to.equal(200);
      expect(got.body.subscriptions).to.deep.equal([
        { product: 'MiCollab', seats: 2, assigned: 0, available: 2 },
        { product: MTM, seats: 5, assigned: 2, available: 3 },
      ]);
    }
    const list = await t.request.get('/scim/v2/Accounts').query({ filter: `id eq "${customer.accountId}"` }).set(auth(partner.token));
    expect(list.status, JSON.stringify(list.body)).to.equal(200);
    expect(mtmOf(list.body.Resources[0])).to.deep.equal({ product: MTM, seats: 5, assigned: 2, available: 3 });
    const principal = { tokenId: 'test', accountId: partner.accountId, accountType: 'partner' as const, role: 'partner-admin' as const };
    expect(mtmOf({ subscriptions: await t.deps.accounts.licenceUsage(principal, customer.accountId) })).to.deep.equal(mtmOf(list.body.Resources[0]));
  });

  it('when /Schemas describes the Account, then assigned and available are read-only integers of subscriptions', async () => {
    const schema = await t.request.get(`/scim/v2/Schemas/${ACCOUNT}`).set(auth(t.operatorToken));
    expect(schema.status).to.equal(200);
    const subs = (schema.body.attributes as AttributeDef[]).find((a) => a.name === 'subscriptions')!;
    for (const name of ['assigned', 'available']) {
      expect(subs.subAttributes!.find((a) => a.name === name)).to.include({ type: 'integer', mutability: 'readOnly' });
    }
  });

  it('when a client PUTs back the account it read with new seats, then 200: the counts it echoes are ignored and only product and seats are stored', async () => {
    const got = await t.request.get(path()).set(auth(partner.token));
    const subscriptions = (got.body.subscriptions as Usage[]).map((s) => (s.product === MTM ? { ...s, seats: 6, assigned: 99, available: 99 } : s));
    const put = await t.request.put(path()).set(auth(partner.token)).send({ ...got.body, subscriptions });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    expect(mtmOf(put.body)).to.deep.equal({ product: MTM, seats: 6, assigned: 2, available: 4 });
    const stored = await t.db.knex('account_subscriptions').where({ account_id: customer.accountId }).orderBy('product').select('product', 'seats');
    expect(stored).to.deep.equal([{ product: 'MiCollab', seats: 2 }, { product: MTM, seats: 6 }]);
  });

  it('when a PATCH targets a count, then 400 mutability and nothing changes', async () => {
    const before = await t.request.get(path()).set(auth(partner.token));
    const res = await t.request.patch(path()).set(auth(partner.token)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `subscriptions[product eq "${MTM}"].available`, value: 50 }] });
    expect(res.status).to.equal(400);
    expect(res.body.scimType).to.equal('mutability');
    expect(res.body.detail).to.match(/available/);
    const after = await t.request.get(path()).set(auth(partner.token));
    expect(after.body.meta.version).to.equal(before.body.meta.version);
    expect(after.body.subscriptions).to.deep.equal(before.body.subscriptions);
  });

  it('when a licence is assigned, then the next read counts it: the counts are read each time, the account version does not move', async () => {
    const before = await t.request.get(path()).set(auth(partner.token));
    const created = await t.request.post(`/accounts/${customer.accountId}/scim/v2/Users`).set(auth(customer.token)).send({ schemas: [USER, EXT], userName: 'cid@count.test', ...formFields('cid@count.test'), [EXT]: { licenses: [MTM] } });
    expect(created.status).to.equal(201);
    const after = await t.request.get(path()).set(auth(partner.token));
    expect(mtmOf(after.body)).to.deep.include({ assigned: mtmOf(before.body).assigned + 1, available: mtmOf(before.body).available - 1 });
    expect(after.body.meta.version).to.equal(before.body.meta.version);
  });
});
