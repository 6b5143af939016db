/**
 * totalResultsLimit, the console's own list parameter: matches are counted up to the limit only, and a response
 * past it says so; without it (every SCIM client) totalResults is the exact count.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

describe(`users list: totalResultsLimit (${testDatabaseKind})`, () => {
  let t: TestApp;
  let auth: { Authorization: string };
  let accountId: string;
  before(async () => {
    t = await createTestApp();
    const account = await createAccountWithToken(t, { name: 'Counted', type: 'customer' });
    accountId = account.accountId;
    auth = { Authorization: `Bearer ${account.token}` };
    for (let i = 0; i < 5; i++) {
      const created = await t.request.post(`/accounts/${accountId}/scim/v2/Users`).set(auth).send({ schemas: [USER], userName: `limit${i}@count.example`, name: { givenName: 'Lim', familyName: `It${i}` }, emails: [{ value: `limit${i}@count.example`, primary: true }] });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
    }
  });
  after(async () => t?.close());

  const list = (query: string) => t.request.get(`/accounts/${accountId}/scim/v2/Users?${query}`).set(auth);
  const filter = `filter=${encodeURIComponent('userName sw "limit"')}`;

  it('when a list asks for totalResultsLimit below its matches, then totalResults is the limit with totalResultsLimited, and the page is whole', async () => {
    for (const query of [`${filter}&totalResultsLimit=3`, `${filter}&totalResultsLimit=3&cursor=&count=4`, `${filter}&totalResultsLimit=3&count=0`]) {
      const res = await list(query);
      expect(res.status, query).to.equal(200);
      expect(res.body.totalResults, query).to.equal(3);
      expect(res.body.totalResultsLimited, query).to.equal(true);
    }
    expect((await list(`${filter}&totalResultsLimit=3`)).body.Resources).to.have.length(5);
    expect((await list(`${filter}&totalResultsLimit=3&cursor=&count=4`)).body.Resources).to.have.length(4);
  });

  it('when the matches are within the limit, no limit is asked or no filter given, then totalResults is exact and not flagged', async () => {
    for (const query of [`${filter}&totalResultsLimit=5`, `${filter}&totalResultsLimit=1000&cursor=`, filter, `${filter}&count=0`, 'totalResultsLimit=3']) {
      const res = await list(query);
      expect(res.body.totalResults, query).to.equal(5);
      expect(res.body, query).not.to.have.property('totalResultsLimited');
    }
  });

  it('when totalResultsLimit is not a whole number of at least 1, then 400 invalidValue naming it', async () => {
    for (const bad of ['0', '-2', 'many']) {
      const res = await list(`${filter}&totalResultsLimit=${bad}`);
      expect(res.status).to.equal(400);
      expect(res.body.scimType).to.equal('invalidValue');
      expect(res.body.detail).to.contain('totalResultsLimit');
    }
  });
});
