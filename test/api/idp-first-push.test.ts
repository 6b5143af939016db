/**
 * An account's first identity-provider push creates its `scim` source (the owner of what the provider writes).
 * Identity providers open several connections at once, so the first pushes arrive together.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const SOURCE = 'urn:switchboard:scim:schemas:core:2.0:Source';

describe(`the first identity-provider pushes into an account (${testDatabaseKind})`, () => {
  let t: TestApp;
  before(async function () {
    this.timeout(180_000);
    t = await createTestApp();
  });
  after(async () => t?.close());

  async function accountWithIdp(name: string): Promise<{ base: string; admin: string; idp: string }> {
    const admin = await createAccountWithToken(t, { name, type: 'customer' });
    const base = `/accounts/${admin.accountId}/scim/v2`;
    const res = await t.request.post(`${base}/Tokens`).set('Authorization', `Bearer ${t.operatorToken}`).send({ schemas: [TOKEN], role: 'provisioning' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return { base, admin: admin.token, idp: res.body.token as string };
  }
  const user = (n: number) => ({ schemas: [USER], userName: `first${n}@push.example`, externalId: `first-${n}`, name: { givenName: 'First', familyName: `Push${n}` }, emails: [{ value: `first${n}@push.example`, primary: true }] });
  // The scim source is not one of the Sources an admin manages (the API leaves it out): read its row.
  const scimSources = async (base: string) =>
    (await t.deps.db.knex('sources').where({ account_id: base.split('/')[2], kind: 'scim' }).select('name')) as { name: string }[];

  it('when eight first pushes arrive at once, then all eight users are created under one scim source', async () => {
    for (let round = 0; round < 5; round++) {
      const { base, idp } = await accountWithIdp(`First push ${round}`);
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => t.request.post(`${base}/Users`).set('Authorization', `Bearer ${idp}`).send(user(i))));
      expect(answers.map((a) => a.status), JSON.stringify(answers.filter((a) => a.status !== 201).map((a) => a.body))).to.deep.equal(Array(8).fill(201));
      expect(await scimSources(base)).to.have.length(1);
    }
  });

  it('when an admin has named another source "SCIM push", then the first push still creates its user, under a scim source of its own name', async () => {
    const { base, admin, idp } = await accountWithIdp('Name taken');
    const ldap = await t.request.post(`${base}/Sources`).set('Authorization', `Bearer ${admin}`).send({ schemas: [SOURCE], name: 'SCIM push', kind: 'ldap', config: { url: 'ldap://127.0.0.1:389', bindDn: 'cn=admin,dc=example,dc=org', bindPassword: 'secret', baseDn: 'dc=example,dc=org' } });
    expect(ldap.status, JSON.stringify(ldap.body)).to.equal(201);
    const created = await t.request.post(`${base}/Users`).set('Authorization', `Bearer ${idp}`).send(user(1));
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const sources = await scimSources(base);
    expect(sources).to.have.length(1);
    expect(sources[0]!.name).to.match(/^SCIM push \(/);
  });
});
