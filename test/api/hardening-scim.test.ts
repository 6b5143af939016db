/**
 * Issue 13 items 11, 21, 22, 23, 25: SCIM details seen from outside (Entra ID's payloads and filters, RFC 7643
 * caseExact, sortBy and attributes naming what cannot be sorted or does not exist).
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const MS_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
const MS_USER = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User';

describe(`hardening: SCIM details for identity providers (${testDatabaseKind})`, () => {
  let t: TestApp;
  let idp: Record<string, string>;
  let managerId: string;
  let userId: string;
  before(async () => {
    t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Entra Tenant', type: 'customer', role: 'provisioning' });
    idp = { Authorization: `Bearer ${a.token}`, 'Content-Type': scimJson };
    const manager = await t.request.post('/scim/v2/Users').set(idp).send({ schemas: [USER], userName: 'boss@entra.test', externalId: 'Ext-Boss' });
    expect(manager.status, JSON.stringify(manager.body)).to.equal(201);
    managerId = manager.body.id as string;
    const user = await t.request.post('/scim/v2/Users').set(idp).send({ schemas: [USER, ENTERPRISE], userName: 'worker@entra.test', externalId: 'Ext-Worker', [ENTERPRISE]: { manager: { value: managerId } } });
    expect(user.status, JSON.stringify(user.body)).to.equal(201);
    userId = user.body.id as string;
  });
  after(async () => t?.close());

  it('when sortBy names meta.resourceType or a complex attribute, then 400 invalidValue naming it', async () => {
    for (const sortBy of ['meta.resourceType', 'name', 'meta', 'emails', `${ENTERPRISE}:manager`, 'groups']) {
      const res = await t.request.get(`/scim/v2/Users?sortBy=${encodeURIComponent(sortBy)}`).set(idp);
      expect(res.status, `${sortBy}: ${JSON.stringify(res.body)}`).to.be.oneOf([200, 400]);
      if (res.status === 400) {
        expect(res.body.scimType, sortBy).to.equal('invalidValue');
        expect(res.body.detail, sortBy).to.not.match(/ORDER BY|constant/i);
      }
    }
    const constant = await t.request.get('/scim/v2/Users?sortBy=meta.resourceType').set(idp);
    expect(constant.status).to.equal(400);
    expect(constant.body.detail).to.contain('meta.resourceType');
    const complex = await t.request.get('/scim/v2/Users?sortBy=name').set(idp);
    expect(complex.status).to.equal(400);
    expect(complex.body.detail).to.contain('name');
    const groups = await t.request.get('/scim/v2/Groups?sortBy=meta.resourceType').set(idp);
    expect(groups.status).to.equal(400);
  });

  it('when Entra pushes a group or user with Microsoft\'s extra schema URN, then it is accepted and attributes of unknown schemas are ignored', async () => {
    const group = await t.request.post('/scim/v2/Groups').set(idp).send({ schemas: [GROUP, MS_GROUP], displayName: 'Entra Group', externalId: 'g-1', [MS_GROUP]: { whatever: 1 } });
    expect(group.status, JSON.stringify(group.body)).to.equal(201);
    expect(group.body.schemas).to.deep.equal([GROUP]);
    expect(group.body[MS_GROUP]).to.equal(undefined);
    const user = await t.request.post('/scim/v2/Users').set(idp).send({ schemas: [USER, MS_USER], userName: 'ms@entra.test', [MS_USER]: { foo: 'bar' } });
    expect(user.status, JSON.stringify(user.body)).to.equal(201);
    expect(user.body[MS_USER]).to.equal(undefined);
    const put = await t.request.put(`/scim/v2/Groups/${group.body.id as string}`).set(idp).send({ schemas: [GROUP, MS_GROUP], displayName: 'Entra Group 2' });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    // A malformed URN is still refused: only a well-formed URN or URL is accepted as an extension we do not know.
    const bad = await t.request.post('/scim/v2/Groups').set(idp).send({ schemas: [GROUP, 'not a schema'], displayName: 'Bad' });
    expect(bad.status).to.equal(400);
  });

  it('when Entra filters with manager eq "<id>" (the reference form), then it reads as manager.value eq', async () => {
    const res = await t.request.get(`/scim/v2/Users?filter=${encodeURIComponent(`id eq "${userId}" and manager eq "${managerId}"`)}`).set(idp);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.totalResults).to.equal(1);
    const none = await t.request.get(`/scim/v2/Users?filter=${encodeURIComponent(`id eq "${userId}" and manager eq "${userId}"`)}`).set(idp);
    expect(none.body.totalResults).to.equal(0);
  });

  it('when id or externalId is filtered in another case, then nothing matches (caseExact)', async () => {
    for (const filter of [`id eq "${userId.toUpperCase()}"`, 'externalId eq "ext-worker"', 'externalId eq "EXT-WORKER"']) {
      const res = await t.request.get(`/scim/v2/Users?filter=${encodeURIComponent(filter)}`).set(idp);
      expect(res.status, filter).to.equal(200);
      expect(res.body.totalResults, filter).to.equal(0);
    }
    const exact = await t.request.get(`/scim/v2/Users?filter=${encodeURIComponent('externalId eq "Ext-Worker"')}`).set(idp);
    expect(exact.body.totalResults).to.equal(1);
  });

  it('when attributes or excludedAttributes names an unknown attribute, then 400 invalidValue naming it', async () => {
    for (const query of ['attributes=shoeSize', 'attributes=userName,shoeSize', 'excludedAttributes=shoeSize']) {
      for (const path of ['/scim/v2/Users', `/scim/v2/Users/${userId}`]) {
        const res = await t.request.get(`${path}?${query}`).set(idp);
        expect(res.status, `${path}?${query}`).to.equal(400);
        expect(res.body.scimType).to.equal('invalidValue');
        expect(res.body.detail).to.contain('shoeSize');
      }
    }
    const search = await t.request.post('/scim/v2/Users/.search').set(idp).send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], attributes: ['shoeSize'] });
    expect(search.status).to.equal(400);
    const known = await t.request.get(`/scim/v2/Users?attributes=userName,${encodeURIComponent(`${ENTERPRISE}:manager`)}`).set(idp);
    expect(known.status).to.equal(200);
  });
});

describe(`hardening: what an identity provider's token may write (${testDatabaseKind})`, () => {
  const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
  const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
  let t: TestApp;
  let idp: Record<string, string>;
  let accountId: string;
  before(async () => {
    t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Provisioned', type: 'customer', role: 'provisioning' });
    accountId = a.accountId;
    idp = { Authorization: `Bearer ${a.token}`, 'Content-Type': scimJson };
  });
  after(async () => t?.close());

  it('when a provisioning token sets accountAdmin, licenses or smsNumber (POST, PUT, PATCH), then 403 naming the attribute and nothing changes; a PUT leaving them out keeps them', async () => {
    const post = await t.request.post('/scim/v2/Users').set(idp).send({ schemas: [USER, EXT], userName: 'root@idp.test', [EXT]: { accountAdmin: true } });
    expect(post.status, JSON.stringify(post.body)).to.equal(403);
    expect(post.body.detail).to.contain('accountAdmin');
    expect(await t.deps.db.knex('users').where({ account_id: accountId, user_name: 'root@idp.test' })).to.have.length(0);
    const user = await t.request.post('/scim/v2/Users').set(idp).send({ schemas: [USER], userName: 'plain@idp.test' });
    expect(user.status).to.equal(201);
    const id = user.body.id as string;
    for (const Operations of [
      [{ op: 'replace', path: `${EXT}:accountAdmin`, value: true }],
      [{ op: 'add', path: `${EXT}:licenses`, value: ['MiTeam Meetings'] }],
      [{ op: 'replace', value: { [`${EXT}:smsNumber`]: '+15550001' } }],
    ]) {
      const res = await t.request.patch(`/scim/v2/Users/${id}`).set(idp).send({ schemas: [PATCH], Operations });
      expect(res.status, JSON.stringify(res.body)).to.equal(403);
      expect(res.body.detail).to.match(/accountAdmin|licenses|smsNumber/);
    }
    const put = await t.request.put(`/scim/v2/Users/${id}`).set(idp).send({ schemas: [USER, EXT], userName: 'plain@idp.test', [EXT]: { accountAdmin: true } });
    expect(put.status).to.equal(403);
    // An admin makes the user an account admin; the identity provider's PUT of the whole user without it keeps it.
    const admin = await t.request.patch(`/accounts/${accountId}/scim/v2/Users/${id}`).set({ Authorization: `Bearer ${t.operatorToken}` }).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${EXT}:accountAdmin`, value: true }] });
    expect(admin.status, JSON.stringify(admin.body)).to.equal(200);
    const keep = await t.request.put(`/scim/v2/Users/${id}`).set(idp).send({ schemas: [USER], userName: 'plain@idp.test', title: 'Engineer' });
    expect(keep.status, JSON.stringify(keep.body)).to.equal(200);
    expect(keep.body[EXT].accountAdmin).to.equal(true);
  });

  it('when a provisioning PATCH sends only phoneNumbers, then the scim source claims phoneNumbers only', async () => {
    const created = await t.request.post(`/accounts/${accountId}/scim/v2/Users`).set({ Authorization: `Bearer ${t.operatorToken}` }).send({ schemas: [USER], userName: 'local@idp.test', name: { givenName: 'Lo', familyName: 'Cal' }, emails: [{ value: 'local@idp.test', primary: true }] });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id as string;
    const res = await t.request.patch(`/scim/v2/Users/${id}`).set(idp).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'phoneNumbers', value: [{ value: '+3225550199', type: 'work' }] }] });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const locked = (res.body[EXT].lockedAttributes as { attribute: string; source: string }[]).filter((l) => l.source === 'scim').map((l) => l.attribute);
    expect(locked).to.deep.equal(['phoneNumbers']);
    // The admin still edits what the identity provider did not write.
    const edit = await t.request.patch(`/accounts/${accountId}/scim/v2/Users/${id}`).set({ Authorization: `Bearer ${t.operatorToken}` }).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'name.givenName', value: 'Loo' }] });
    expect(edit.status, JSON.stringify(edit.body)).to.equal(200);
  });
});

describe(`hardening: a DELETE that would not delete (${testDatabaseKind})`, () => {
  let t: TestApp;
  after(async () => t?.close());

  it('when an admin DELETEs a user synced from an identity provider, then 409 with the reason pointing to deleteUsers, the user and its platform account stay; the action reports it', async () => {
    t = await createTestApp();
    const idp = await createAccountWithToken(t, { name: 'Synced Co', type: 'customer', role: 'provisioning' });
    const pushed = await t.request.post('/scim/v2/Users').set({ Authorization: `Bearer ${idp.token}` }).send({ schemas: [USER], userName: 'synced@idp.test', emails: [{ value: 'synced@idp.test' }] });
    expect(pushed.status).to.equal(201);
    const id = pushed.body.id as string;
    const admin = { Authorization: `Bearer ${t.operatorToken}` };
    const before = await t.request.get(`/accounts/${idp.accountId}/scim/v2/Users/${id}`).set(admin);
    const res = await t.request.delete(`/accounts/${idp.accountId}/scim/v2/Users/${id}`).set(admin);
    expect(res.status, JSON.stringify(res.body)).to.equal(409);
    expect(res.body.detail).to.contain('deleteUsers');
    expect(res.body.detail).to.contain('scim');
    const after = await t.request.get(`/accounts/${idp.accountId}/scim/v2/Users/${id}`).set(admin);
    expect(after.status).to.equal(200);
    expect(after.body.meta.version).to.equal(before.body.meta.version);
    const action = await t.request.post(`/accounts/${idp.accountId}/scim/v2/Actions`).set(admin).send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Action'], type: 'deleteUsers', targets: { ids: [id] } });
    expect(action.status, JSON.stringify(action.body)).to.equal(201);
    expect(action.body.results[0]).to.include({ userId: id, outcome: 'done', value: 'unregistered' });
    // The identity provider's own DELETE still deprovisions (its link goes; no other source feeds the user).
    expect((await t.request.delete(`/scim/v2/Users/${id}`).set({ Authorization: `Bearer ${idp.token}` })).status).to.equal(204);
  });
});

describe(`hardening: filter cost (${testDatabaseKind})`, () => {
  let t: TestApp;
  after(async () => t?.close());

  it('when a filter joins more than 100 conditions with or that each need a search, then 400 invalidFilter naming the limit; 400 comparisons of one attribute are one search and served', async () => {
    t = await createTestApp();
    const auth = { Authorization: `Bearer ${t.operatorToken}` };
    const created = await t.request.post('/scim/v2/Users').set(auth).send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'or.chain@corp.example', name: { givenName: 'Or', familyName: 'Chain' }, emails: [{ value: 'or.chain-399x@corp.example' }] });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const search = (filter: string) => t.request.post('/scim/v2/Users/.search').set(auth).send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter });
    // A value filter per term is a sub-query per term: capped.
    const valuePaths = (n: number) => Array.from({ length: n }, (_, i) => `emails[value co "${i}x"]`).join(' or ');
    const over = await t.request.get(`/scim/v2/Users?filter=${encodeURIComponent(valuePaths(101))}`).set(auth);
    expect(over.status).to.equal(400);
    expect(over.body.scimType).to.equal('invalidFilter');
    expect(over.body.detail).to.contain('101 conditions').and.to.contain('limit is 100');
    expect((await t.request.get(`/scim/v2/Users?filter=${encodeURIComponent(valuePaths(100))}`).set(auth)).status).to.equal(200);
    // The issue's 400 emails.value co terms: one search, served.
    const emailTerms = Array.from({ length: 400 }, (_, i) => `emails.value co "${i + 1}"`).join(' or ');
    const served = await search(emailTerms);
    expect(served.status, JSON.stringify(served.body)).to.equal(200);
    expect(served.body.Resources.map((u: { userName: string }) => u.userName)).to.deep.equal(['or.chain@corp.example']);
    // 60 comparisons on each of two attributes are two searches, and 100 ungrouped ones beside them are over the limit.
    const mixed = `${Array.from({ length: 60 }, (_, i) => `userName sw "${i}y" or emails.value ew "${i}y"`).join(' or ')} or ${valuePaths(100)}`;
    const refused = await search(mixed);
    expect(refused.status).to.equal(400);
    expect(refused.body.detail).to.contain('102 conditions');
  });

  it('when a statement runs past STATEMENT_TIMEOUT_MS on PostgreSQL, then it is cancelled and read as a statement timeout (503 with Retry-After at the edge); PGlite runs one statement at a time and takes no timeout', async () => {
    const { openDatabase } = await import('../../src/db/database.js');
    const { databaseFault } = await import('../../src/db/database-errors.js');
    const { createTestDatabase } = await import('../support/test-database.js');
    const scratch = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: scratch.url, statementTimeoutMs: 200 });
    try {
      const started = Date.now();
      const error = await db.knex.raw('select pg_sleep(3)').then(() => undefined, (e: unknown) => e);
      if (scratch.url) {
        expect(Date.now() - started).to.be.below(2000);
        expect(databaseFault(error)).to.equal('statementTimeout');
      } else {
        expect(error).to.equal(undefined);
      }
    } finally {
      await db.close();
      await scratch.close();
    }
  });
});
