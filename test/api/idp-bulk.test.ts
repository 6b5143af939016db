import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
/** supertest listens on a new port per request: compare locations without their origin. */
const pathOf = (location: unknown): string => String(location).replace(/^https?:\/\/[^/]+/, '');

/** RFC 7644 §3.7.3: every operation response names its resource's location, except a failed POST. */
describe(`Identity providers: Bulk operation responses (${testDatabaseKind})`, () => {
  let t: TestApp;
  let h: Record<string, string>;
  let base: string;
  before(async () => {
    t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Bulk Co', type: 'customer' });
    h = { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/scim+json' };
    base = `/accounts/${a.accountId}/scim/v2`;
  });
  after(async () => t.close());

  it('when a bulk patches a group (204) and deletes a user (204), then each result carries its location, the patch its version', async () => {
    const u = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'bulk-member@example.com', ...formFields('bulk-member@example.com') });
    const g = await t.request.post(`${base}/Groups`).set(h).send({ schemas: [GROUP], displayName: 'Bulk group' });
    const res = await t.request.post(`${base}/Bulk`).set(h).send({
      schemas: [BULK],
      Operations: [
        { method: 'PATCH', path: `/Groups/${g.body.id}`, data: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: u.body.id }] }] } },
        { method: 'DELETE', path: `/Users/${u.body.id}` },
        { method: 'POST', bulkId: 'dup', path: '/Users', data: { schemas: [USER], userName: 'bulk-member-2@example.com', ...formFields('bulk-member-2@example.com') } },
        { method: 'POST', bulkId: 'dup2', path: '/Users', data: { schemas: [USER], userName: 'bulk-member-2@example.com', ...formFields('bulk-member-2@example.com') } },
      ],
    });
    expect(res.status).to.equal(200);
    const [patch, del, post, failed] = res.body.Operations as Record<string, unknown>[];
    expect(patch).to.include({ method: 'PATCH', status: '204' });
    expect(pathOf(patch!.location)).to.equal(pathOf(g.body.meta.location));
    const group = await t.request.get(`${base}/Groups/${g.body.id}`).set(h);
    expect(patch!.version).to.equal(group.body.meta.version);
    expect(del).to.include({ method: 'DELETE', status: '204' });
    expect(pathOf(del!.location)).to.equal(pathOf(u.body.meta.location));
    expect(post).to.include({ status: '201' });
    expect(post!.location).to.be.a('string');
    expect(failed).to.include({ status: '409' });
    expect(failed).to.not.have.property('location');
  });

  it('when a bulk operation carries a stale version, then that operation answers 412 and the resource is unchanged', async () => {
    const u = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'bulk-version@example.com', ...formFields('bulk-version@example.com'), title: 'Before' });
    const res = await t.request.post(`${base}/Bulk`).set(h).send({
      schemas: [BULK],
      Operations: [{ method: 'PATCH', path: `/Users/${u.body.id}`, version: 'W/"99"', data: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'After' }] } }],
    });
    expect(res.body.Operations[0]).to.include({ status: '412' });
    expect(pathOf(res.body.Operations[0].location)).to.equal(pathOf(u.body.meta.location));
    expect((await t.request.get(`${base}/Users/${u.body.id}`).set(h)).body.title).to.equal('Before');
  });
});
