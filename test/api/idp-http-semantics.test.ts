import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe(`Identity providers: HTTP semantics of RFC 7644 (${testDatabaseKind})`, () => {
  let t: TestApp;
  let h: Record<string, string>;
  let base: string;
  let userId: string;
  let groupId: string;
  before(async () => {
    t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Semantics Co', type: 'customer' });
    h = { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/scim+json' };
    base = `/accounts/${a.accountId}/scim/v2`;
    const u = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'semantics@example.com', ...formFields('semantics@example.com') });
    userId = u.body.id;
    const g = await t.request.post(`${base}/Groups`).set(h).send({ schemas: [GROUP], displayName: 'Semantics', members: [] });
    groupId = g.body.id;
  });
  after(async () => t.close());

  describe('RFC 7644 §3.5.2.2: a required attribute removed or unassigned is a mutability error', () => {
    it('when a PATCH removes userName or replaces it with null, then 400 mutability and the user is unchanged', async () => {
      const before = await t.request.get(`${base}/Users/${userId}`).set(h);
      for (const op of [{ op: 'remove', path: 'userName' }, { op: 'replace', path: 'userName', value: null }]) {
        const res = await t.request.patch(`${base}/Users/${userId}`).set(h).send({ schemas: [PATCH], Operations: [op] });
        expect(res.status).to.equal(400);
        expect(res.body).to.include({ status: '400', scimType: 'mutability' });
        expect(res.body.detail).to.match(/userName.*required/);
      }
      const after = await t.request.get(`${base}/Users/${userId}`).set(h);
      expect(after.body.userName).to.equal('semantics@example.com');
      expect(after.body.meta.version).to.equal(before.body.meta.version);
    });

    it('when a group PATCH removes displayName, then 400 mutability and the group keeps its name', async () => {
      const res = await t.request.patch(`${base}/Groups/${groupId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'remove', path: 'displayName' }] });
      expect(res.status).to.equal(400);
      expect(res.body.scimType).to.equal('mutability');
      expect((await t.request.get(`${base}/Groups/${groupId}`).set(h)).body.displayName).to.equal('Semantics');
    });
  });

  describe('RFC 7644 §3.14: ETags on every successful write', () => {
    it('when a group PATCH answers 204, then its ETag is the new meta.version, usable as If-Match', async () => {
      const before = await t.request.get(`${base}/Groups/${groupId}`).set(h);
      const res = await t.request.patch(`${base}/Groups/${groupId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: userId }] }] });
      expect(res.status).to.equal(204);
      expect(res.headers.etag).to.be.a('string').and.not.equal(before.headers.etag);
      const after = await t.request.get(`${base}/Groups/${groupId}`).set(h);
      expect(res.headers.etag).to.equal(after.body.meta.version);
      const next = await t.request.patch(`${base}/Groups/${groupId}`).set({ ...h, 'If-Match': res.headers.etag as string }).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'Semantics 2' }] });
      expect(next.status).to.equal(204);
    });
  });

  describe('RFC 7644 §3.8: Accept: application/json', () => {
    it('when the client accepts only application/json, then resources, lists and errors come as application/json', async () => {
      const json = { ...h, Accept: 'application/json' };
      const one = await t.request.get(`${base}/Users/${userId}`).set(json);
      expect(one.status).to.equal(200);
      expect(one.headers['content-type']).to.match(/^application\/json/);
      expect(one.body.id).to.equal(userId);
      const list = await t.request.get(`${base}/Users`).query({ filter: 'userName eq "semantics@example.com"' }).set(json);
      expect(list.headers['content-type']).to.match(/^application\/json/);
      expect(list.body.totalResults).to.equal(1);
      const missing = await t.request.get(`${base}/Users/00000000-0000-4000-8000-000000000000`).set(json);
      expect(missing.status).to.equal(404);
      expect(missing.headers['content-type']).to.match(/^application\/json/);
      const created = await t.request.post(`${base}/Users`).set(json).send({ schemas: [USER], userName: 'json@example.com', ...formFields('json@example.com') });
      expect(created.status).to.equal(201);
      expect(created.headers['content-type']).to.match(/^application\/json/);
    });

    it('when the client accepts application/scim+json, anything, or says nothing, then application/scim+json', async () => {
      for (const accept of ['application/scim+json', 'application/scim+json, application/json', '*/*', undefined]) {
        const req = t.request.get(`${base}/Users/${userId}`).set(h);
        const res = await (accept === undefined ? req : req.set('Accept', accept));
        expect(res.headers['content-type'], String(accept)).to.match(/^application\/scim\+json/);
      }
    });
  });
});
