import { expect } from 'chai';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

/**
 * Deviations found by a conformance audit against RFC 7643/7644/9865 and the Entra and Okta guides, each pinned
 * here (the Entra and Okta sequences themselves live in scim-users-groups.test.ts).
 */
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';

describe(`SCIM conformance audit (${testDatabaseKind})`, () => {
  let t: TestApp;
  let h: Record<string, string>;
  let base: string;
  before(async () => {
    t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Audit Co', type: 'customer' });
    base = `/accounts/${a.accountId}/scim/v2`;
    const token = await t.request.post(`${base}/Tokens`).set('Authorization', `Bearer ${t.operatorToken}`).send({ schemas: [TOKEN], role: 'provisioning' });
    h = { Authorization: `Bearer ${token.body.token}`, 'Content-Type': 'application/scim+json' };
  });
  after(async () => t.close());

  describe('active (RFC 7643 §4.1.1)', () => {
    it('when a user is created without active, then it is returned and found as active true, as stored', async () => {
      const created = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'no-active@example.com' });
      expect(created.status).to.equal(201);
      expect(created.body.active).to.equal(true);
      const row = await t.db.knex('users').where({ id: created.body.id }).first('active');
      expect(row.active).to.equal(true);
      const got = await t.request.get(`${base}/Users/${created.body.id}`).query({ attributes: 'active' }).set(h);
      expect(got.body.active).to.equal(true);
      const listed = await t.request.get(`${base}/Users`).query({ filter: 'userName eq "no-active@example.com" and active eq true' }).set(h);
      expect(listed.body.Resources[0].active).to.equal(true);
    });
  });

  describe('attributes / excludedAttributes naming a whole extension (RFC 7644 §3.4.2.5, §3.10)', () => {
    let id: string;
    before(async () => {
      const res = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER, ENTERPRISE], userName: 'ext@example.com', title: 'Eng', [ENTERPRISE]: { department: 'R&D', employeeNumber: '7' } });
      id = res.body.id;
    });

    it('when excludedAttributes names an extension schema URN, then the extension and its schemas entry are left out', async () => {
      const res = await t.request.get(`${base}/Users/${id}`).query({ excludedAttributes: `${SB},${ENTERPRISE}` }).set(h);
      expect(res.status).to.equal(200);
      expect(res.body).to.not.have.property(SB);
      expect(res.body).to.not.have.property(ENTERPRISE);
      expect(res.body.schemas).to.deep.equal([USER]);
      expect(res.body.title).to.equal('Eng');
    });

    it('when attributes names an extension schema URN, then the whole extension comes back beside id and schemas', async () => {
      const res = await t.request.get(`${base}/Users`).query({ filter: 'userName eq "ext@example.com"', attributes: ENTERPRISE }).set(h);
      const user = res.body.Resources[0];
      expect(Object.keys(user).sort()).to.deep.equal(['id', 'schemas', ENTERPRISE].sort());
      expect(user[ENTERPRISE]).to.deep.equal({ department: 'R&D', employeeNumber: '7' });
      expect(user.schemas).to.deep.equal([USER, ENTERPRISE]);
    });
  });

  describe('method not allowed', () => {
    it('when a known endpoint gets a method it does not serve, then 405 with an Allow header and a SCIM error body', async () => {
      const cases: [string, string, string][] = [
        ['delete', '/Users', 'GET, POST'],
        ['put', '/Groups', 'GET, POST'],
        ['patch', '/ServiceProviderConfig', 'GET'],
        ['post', '/Schemas', 'GET'],
        ['post', '/Users/00000000-0000-4000-8000-000000000000', 'GET, PUT, PATCH, DELETE'],
      ];
      for (const [method, path, allow] of cases) {
        const res = await (t.request as unknown as Record<string, (url: string) => ReturnType<TestApp['request']['get']>>)[method]!(`${base}${path}`).set(h).send({});
        expect(res.status, `${method} ${path}`).to.equal(405);
        expect(res.headers.allow, `${method} ${path}`).to.equal(allow);
        expect(res.headers['content-type']).to.match(/application\/scim\+json/);
        expect(res.body).to.deep.include({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '405' });
      }
      // An unknown path is still 404.
      expect((await t.request.get(`${base}/Nothing`).set(h)).status).to.equal(404);
    });
  });

  describe('/Bulk locations (RFC 7644 §3.7.3)', () => {
    it('when a bulk POST creates a resource, then its location is on the origin the client used', async () => {
      const res = await t.request
        .post(`${base}/Bulk`)
        .set(h)
        .set('Host', 'scim.example.com')
        .set('X-Forwarded-Proto', 'https')
        .send({ schemas: [BULK], Operations: [{ method: 'POST', path: '/Users', bulkId: 'b1', data: { schemas: [USER], userName: 'bulk-location@example.com' } }] });
      expect(res.status).to.equal(200);
      const op = res.body.Operations[0];
      expect(op.status).to.equal('201');
      expect(op.location).to.match(new RegExp(`^https://scim\\.example\\.com${base}/Users/[0-9a-f-]{36}$`));
    });
  });

  describe('Groups cursor pagination (RFC 9865)', () => {
    it('when /Groups is paged by cursor, then every group comes exactly once, forwards and back, without startIndex', async () => {
      for (let i = 0; i < 5; i++) await t.request.post(`${base}/Groups`).set(h).send({ schemas: [GROUP], displayName: `cursor-${i}` });
      const filter = 'displayName sw "cursor-"';
      const seen: string[] = [];
      const cursors: string[] = [];
      let cursor = '';
      for (let guard = 0; guard < 5; guard++) {
        const page = await t.request.get(`${base}/Groups`).query({ filter, count: 2, cursor, sortBy: 'displayName', excludedAttributes: 'members' }).set(h);
        expect(page.status).to.equal(200);
        expect(page.body).to.not.have.property('startIndex');
        expect(page.body.totalResults).to.equal(5);
        seen.push(...page.body.Resources.map((g: { displayName: string }) => g.displayName));
        if (!page.body.nextCursor) break;
        cursors.push(page.body.nextCursor);
        cursor = page.body.nextCursor;
      }
      expect(seen).to.deep.equal(['cursor-0', 'cursor-1', 'cursor-2', 'cursor-3', 'cursor-4']);
      const third = await t.request.get(`${base}/Groups`).query({ filter, count: 2, cursor: cursors[1], sortBy: 'displayName' }).set(h);
      const back = await t.request.get(`${base}/Groups`).query({ filter, count: 2, cursor: third.body.previousCursor, sortBy: 'displayName' }).set(h);
      expect(back.body.Resources.map((g: { displayName: string }) => g.displayName)).to.deep.equal(['cursor-2', 'cursor-3']);
      const invalid = await t.request.get(`${base}/Groups`).query({ cursor: 'not-a-cursor' }).set(h);
      expect(invalid.status).to.equal(400);
      expect(invalid.body.scimType).to.equal('invalidCursor');
    });
  });

  describe('POST /.search at the root (RFC 7644 §3.4.3)', () => {
    before(async () => {
      await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'root-search@example.com', externalId: 'root-x' });
      await t.request.post(`${base}/Groups`).set(h).send({ schemas: [GROUP], displayName: 'Root search group', externalId: 'root-x' });
    });

    it('when a search is posted to the root, then it answers a ListResponse over users and groups', async () => {
      const res = await t.request.post(`${base}/.search`).set(h).send({ schemas: [SEARCH], filter: 'externalId eq "root-x"', attributes: ['externalId'] });
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/application\/scim\+json/);
      expect(res.body).to.include({ totalResults: 2, itemsPerPage: 2, startIndex: 1 });
      expect(res.body.Resources.map((r: { schemas: string[] }) => r.schemas[0]).sort()).to.deep.equal([USER, GROUP].sort());
      for (const r of res.body.Resources) expect(Object.keys(r).sort()).to.deep.equal(['externalId', 'id', 'schemas']);
    });

    it('when a root search filters on an attribute only users have, then groups simply do not match', async () => {
      const res = await t.request.post(`${base}/.search`).set(h).send({ schemas: [SEARCH], filter: 'userName eq "root-search@example.com"' });
      expect(res.status).to.equal(200);
      expect(res.body.totalResults).to.equal(1);
      expect(res.body.Resources[0].userName).to.equal('root-search@example.com');
    });

    it('when a root search pages, then startIndex and count run over users then groups', async () => {
      const all = await t.request.post(`${base}/.search`).set(h).send({ schemas: [SEARCH], filter: 'externalId eq "root-x"', count: 0 });
      expect(all.body).to.include({ totalResults: 2, itemsPerPage: 0 });
      const second = await t.request.post(`${base}/.search`).set(h).send({ schemas: [SEARCH], filter: 'externalId eq "root-x"', startIndex: 2, count: 1 });
      expect(second.body).to.include({ totalResults: 2, itemsPerPage: 1, startIndex: 2 });
      expect(second.body.Resources[0].schemas).to.deep.equal([GROUP]);
    });

    it('when the body is not a SearchRequest or the filter is invalid everywhere, then 400', async () => {
      const wrong = await t.request.post(`${base}/.search`).set(h).send({ schemas: ['urn:nope'], filter: 'id pr' });
      expect(wrong.status).to.equal(400);
      expect(wrong.body.scimType).to.equal('invalidSyntax');
      const bad = await t.request.post(`${base}/.search`).set(h).send({ schemas: [SEARCH], filter: 'nonsense eq "x"' });
      expect(bad.status).to.equal(400);
      expect(bad.body.scimType).to.equal('invalidFilter');
    });
  });
});
