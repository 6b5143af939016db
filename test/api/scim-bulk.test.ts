import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

describe(`SCIM /Bulk (${testDatabaseKind})`, () => {
  let t: TestApp;
  let h: Record<string, string>;
  let base: string;
  before(async () => {
    t = await createTestApp({ SCIM_BULK_MAX_OPERATIONS: '5' });
    const a = await createAccountWithToken(t, { name: 'Bulk Co', type: 'customer' });
    h = { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/scim+json' };
    base = `/accounts/${a.accountId}/scim/v2`;
  });
  after(async () => t.close());

  it('when operations reference each other by bulkId, then ids are resolved, even forward references', async () => {
    const res = await t.request.post(`${base}/Bulk`).set(h).send({
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP], displayName: 'Bulk Group', members: [{ type: 'User', value: 'bulkId:u1' }] } },
        { method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [USER], userName: 'bulk1@example.com', ...formFields('bulk1@example.com') } },
        { method: 'PATCH', path: '/Users/bulkId:u1', data: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Boss' }] } },
      ],
    });
    expect(res.status).to.equal(200);
    expect(res.body.schemas).to.deep.equal(['urn:ietf:params:scim:api:messages:2.0:BulkResponse']);
    const statuses = res.body.Operations.map((o: { bulkId?: string; status: string }) => `${o.bulkId ?? '-'}:${o.status}`);
    expect(statuses).to.deep.equal(['g1:201', 'u1:201', '-:200']);
    const group = res.body.Operations[0];
    const members = await t.request.get(group.location.replace(/^https?:\/\/[^/]+/, '')).set(h);
    expect(members.body.members).to.have.length(1);
    const user = await t.request.get(`${base}/Users`).query({ filter: 'userName eq "bulk1@example.com"' }).set(h);
    expect(user.body.Resources[0].title).to.equal('Boss');
  });

  it('when failOnErrors is reached, then the rest is not run', async () => {
    const res = await t.request.post(`${base}/Bulk`).set(h).send({
      schemas: [BULK],
      failOnErrors: 1,
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'a', data: { schemas: [USER], userName: 'dupe@example.com', ...formFields('dupe@example.com') } },
        { method: 'POST', path: '/Users', bulkId: 'b', data: { schemas: [USER], userName: 'dupe@example.com', ...formFields('dupe@example.com') } },
        { method: 'POST', path: '/Users', bulkId: 'c', data: { schemas: [USER], userName: 'never@example.com', ...formFields('never@example.com') } },
      ],
    });
    expect(res.body.Operations).to.have.length(2);
    expect(res.body.Operations[1].status).to.equal('409');
    expect(res.body.Operations[1].response.scimType).to.equal('uniqueness');
    const never = await t.request.get(`${base}/Users`).query({ filter: 'userName eq "never@example.com"' }).set(h);
    expect(never.body.totalResults).to.equal(0);
  });

  it('when a request exceeds maxOperations, then 413', async () => {
    const Operations = Array.from({ length: 6 }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `x${i}`, data: { schemas: [USER], userName: `x${i}@example.com` } }));
    const res = await t.request.post(`${base}/Bulk`).set(h).send({ schemas: [BULK], Operations });
    expect(res.status).to.equal(413);
    expect(res.body.detail).to.match(/maximum is 5/);
  });
});
