/**
 * totalResults is the number of matches whatever the page (RFC 7644 §3.4.2.4): a page that ends the list proves it
 * without a count (src/scim/list-total.ts), the others count. Each page shape of each list is held to the true total.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

describe(`list totals on every page shape (${testDatabaseKind})`, () => {
  let t: TestApp;
  let auth: { Authorization: string };
  let base: string;
  before(async function () {
    // The first suite of a PGlite run builds its database template: minutes on a loaded 2-core machine.
    this.timeout(180_000);
    t = await createTestApp();
    const account = await createAccountWithToken(t, { name: 'Totals', type: 'customer' });
    base = `/accounts/${account.accountId}/scim/v2`;
    auth = { Authorization: `Bearer ${account.token}` };
    for (let i = 0; i < 5; i++) {
      const user = await t.request.post(`${base}/Users`).set(auth).send({ schemas: [USER], userName: `total${i}@totals.example`, name: { givenName: 'Tot', familyName: `Al${i}` }, emails: [{ value: `total${i}@totals.example`, primary: true }] });
      expect(user.status, JSON.stringify(user.body)).to.equal(201);
      const group = await t.request.post(`${base}/Groups`).set(auth).send({ schemas: [GROUP], displayName: `Totals ${i}` });
      expect(group.status, JSON.stringify(group.body)).to.equal(201);
    }
  });
  after(async () => t?.close());

  const shapes = ['count=2', 'count=10', 'startIndex=4&count=10', 'startIndex=5&count=1', 'startIndex=6&count=10', 'startIndex=99&count=10', 'count=0', 'cursor=&count=2', 'cursor=&count=5', 'cursor=&count=10'];
  const lists: [string, string, number][] = [
    ['Users', `filter=${encodeURIComponent('userName sw "total"')}`, 5],
    ['Users', `filter=${encodeURIComponent('userName eq "total3@totals.example"')}`, 1],
    ['Users', `filter=${encodeURIComponent('userName eq "nobody@totals.example"')}`, 0],
    ['Groups', `filter=${encodeURIComponent('displayName sw "Totals"')}`, 5],
    ['AuditEvents', `filter=${encodeURIComponent('action eq "user.create"')}`, 5],
  ];

  for (const [resource, filter, truth] of lists) {
    it(`when ${resource} with ${decodeURIComponent(filter)} is read in pages of every shape, then totalResults is always the number of matches`, async () => {
      const expected = truth;
      for (const shape of shapes) {
        const res = await t.request.get(`${base}/${resource}?${filter}&${shape}`).set(auth);
        expect(res.status, `${shape}: ${JSON.stringify(res.body)}`).to.equal(200);
        expect(res.body.totalResults, shape).to.equal(expected);
      }
      // The second page of a cursor listing, whose rows before it are not in the page: counted.
      const first = await t.request.get(`${base}/${resource}?${filter}&cursor=&count=2`).set(auth);
      if (first.body.nextCursor) {
        const second = await t.request.get(`${base}/${resource}?${filter}&cursor=${encodeURIComponent(first.body.nextCursor as string)}&count=2`).set(auth);
        expect(second.status).to.equal(200);
        expect(second.body.totalResults).to.equal(expected);
      }
    });
  }
});
