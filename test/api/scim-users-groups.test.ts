import { expect } from 'chai';
import crypto from 'node:crypto';
import { createAccountWithToken, createTestApp, formFields, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';

describe(`SCIM Users and Groups (${testDatabaseKind})`, function () {
  let t: TestApp;
  let admin: { accountId: string; token: string };
  let idp: string;
  let base: string;
  before(async () => {
    t = await createTestApp();
    admin = await createAccountWithToken(t, { name: 'Contoso', type: 'customer' });
    base = `/accounts/${admin.accountId}/scim/v2`;
    const res = await t.request.post(`${base}/Tokens`).set('Authorization', `Bearer ${t.operatorToken}`).send({ schemas: [TOKEN], role: 'provisioning' });
    idp = res.body.token;
  });
  after(async () => t.close());
  const as = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' });

  it('when Entra ID runs its sequence, then discovery, test connection, create, update, manager, soft delete and groups behave', async () => {
    const h = as(idp);
    expect((await t.request.get(`${base}/Schemas`).set(h)).status).to.equal(200);
    const spc = await t.request.get(`${base}/ServiceProviderConfig`).set(h);
    expect(spc.body.patch.supported).to.equal(true);
    expect(spc.body.filter.maxResults).to.be.a('number');
    // Test Connection: a random GUID filter answers an empty list.
    const probe = await t.request.get(`${base}/Users`).query({ filter: `userName eq "${crypto.randomUUID()}"` }).set(h);
    expect(probe.status).to.equal(200);
    expect(probe.body).to.include({ totalResults: 0 });
    expect(probe.body.Resources).to.deep.equal([]);
    // filter by userName, then create.
    const create = await t.request.post(`${base}/Users`).set(h).send({
      schemas: [USER, ENTERPRISE],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
    });
    expect(create.status).to.equal(201);
    expect(create.headers.location).to.match(new RegExp(`${base}/Users/${create.body.id}$`));
    expect(create.headers['content-type']).to.match(/application\/scim\+json/);
    const id = create.body.id;
    const found = await t.request.get(`${base}/Users`).query({ filter: 'userName eq "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1"' }).set(h);
    expect(found.body.totalResults).to.equal(1);
    // Update [single-valued] and [multi-valued] with capitalised ops and a valuePath that matches nothing.
    const upd = await t.request.patch(`${base}/Users/${id}`).set(h).send({
      schemas: [PATCH],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
        { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
      ],
    });
    expect(upd.status).to.equal(200);
    expect(upd.body.emails[0].value).to.equal('updatedEmail@microsoft.com');
    expect(upd.body.name.familyName).to.equal('updatedFamilyName');
    expect(upd.body.phoneNumbers).to.deep.include({ type: 'mobile', value: '+1 555 0100' });
    // manager set, then cleared.
    const mgr = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'manager@contoso.com' });
    const setMgr = await t.request.patch(`${base}/Users/${id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'Add', path: `${ENTERPRISE}:manager`, value: mgr.body.id }] });
    expect(setMgr.body[ENTERPRISE].manager.value).to.equal(mgr.body.id);
    const clearMgr = await t.request.patch(`${base}/Users/${id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'Remove', path: `${ENTERPRISE}:manager` }] });
    expect(clearMgr.body[ENTERPRISE]?.manager).to.equal(undefined);
    // soft delete: active "False" as a string.
    const off = await t.request.patch(`${base}/Users/${id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(off.body.active).to.equal(false);
    // groups created without members, then PATCH Add / Remove members.
    const g = await t.request.post(`${base}/Groups`).set(h).send({ schemas: [GROUP], externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', displayName: 'displayName', members: [] });
    expect(g.status).to.equal(201);
    const add = await t.request.patch(`${base}/Groups/${g.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }] });
    expect(add.status).to.equal(204);
    const withMembers = await t.request.get(`${base}/Groups/${g.body.id}`).set(h);
    expect(withMembers.body.members.map((m: { value: string }) => m.value)).to.deep.equal([id]);
    const user = await t.request.get(`${base}/Users/${id}`).set(h);
    expect(user.body.groups.map((x: { value: string }) => x.value)).to.deep.equal([g.body.id]);
    const remove = await t.request.patch(`${base}/Groups/${g.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'Remove', path: 'members', value: [{ value: id }] }] });
    expect(remove.status).to.equal(204);
    const empty = await t.request.get(`${base}/Groups/${g.body.id}`).set(h);
    expect(empty.body.members).to.equal(undefined);
    const excluded = await t.request.get(`${base}/Groups`).query({ excludedAttributes: 'members', filter: `displayName eq "displayName"` }).set(h);
    expect(excluded.body.Resources[0]).to.not.have.property('members');
  });

  it('when Okta runs its sequence, then existence check, create with password, GET + PUT, deactivate and group push behave', async () => {
    const h = as(idp);
    const check = await t.request.get(`${base}/Users`).query({ filter: 'userName eq "isaac.brock@example.com"', startIndex: 1, count: 100 }).set(h);
    expect(check.body).to.include({ totalResults: 0, startIndex: 1 });
    const create = await t.request.post(`${base}/Users`).set(h).send({
      schemas: [USER],
      userName: 'isaac.brock@example.com',
      name: { givenName: 'Isaac', familyName: 'Brock' },
      emails: [{ primary: true, value: 'isaac.brock@example.com', type: 'work' }],
      displayName: 'Isaac Brock',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: '1mz050nq',
      active: true,
    });
    expect(create.status).to.equal(201);
    expect(create.body).to.not.have.property('password');
    const row = await t.db.knex('users').where({ id: create.body.id }).first('password_hash');
    expect(row.password_hash).to.match(/^\$argon2id\$/);
    const got = await t.request.get(`${base}/Users/${create.body.id}`).set(h);
    const put = await t.request.put(`${base}/Users/${create.body.id}`).set(h).send({ ...got.body, name: { givenName: 'Isaac', familyName: 'Brocks' } });
    expect(put.status).to.equal(200);
    expect(put.body.name.familyName).to.equal('Brocks');
    expect(put.body.meta.version).to.not.equal(got.body.meta.version);
    const deactivate = await t.request.patch(`${base}/Users/${create.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(deactivate.body.active).to.equal(false);
    const group = await t.request.post(`${base}/Groups`).set(h).send({ schemas: [GROUP], displayName: 'Test Group', members: [] });
    const rename = await t.request.patch(`${base}/Groups/${group.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', value: { id: group.body.id, displayName: 'Renamed Group' } }] });
    expect(rename.status).to.equal(204);
    const both = await t.request.patch(`${base}/Groups/${group.body.id}`).set(h).send({
      schemas: [PATCH],
      Operations: [
        { op: 'remove', path: `members[value eq "${crypto.randomUUID()}"]` },
        { op: 'add', path: 'members', value: [{ value: create.body.id, display: 'isaac.brock@example.com' }] },
      ],
    });
    expect(both.status).to.equal(204);
    const after = await t.request.get(`${base}/Groups/${group.body.id}`).set(h);
    expect(after.body.displayName).to.equal('Renamed Group');
    expect(after.body.members).to.have.length(1);
    const clear = await t.request.patch(`${base}/Groups/${group.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'members', value: [] }] });
    expect(clear.status).to.equal(204);
    expect((await t.request.get(`${base}/Groups/${group.body.id}`).set(h)).body.members).to.equal(undefined);
  });

  it('when userName or an email is already used, then 409 uniqueness with the seed detail, case-insensitively', async () => {
    const h = as(admin.token);
    await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'dup@contoso.com', name: { givenName: 'Dup', familyName: 'Test' }, emails: [{ value: 'dup@contoso.com' }] });
    const again = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'DUP@contoso.com', ...formFields('dup-again@contoso.com') });
    expect(again.status).to.equal(409);
    expect(again.body.scimType).to.equal('uniqueness');
    expect(again.body.detail).to.match(/One or more of the attribute values are already in use.*userName/);
    const email = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'other@contoso.com', name: { givenName: 'Other', familyName: 'Test' }, emails: [{ value: 'Dup@Contoso.com' }] });
    expect(email.status).to.equal(409);
    expect(email.body.detail).to.match(/emails/);
  });

  it('when an admin edits an attribute the identity provider owns, then 400 mutability naming the owner, and unowned attributes stay editable', async () => {
    const pushed = await t.request.post(`${base}/Users`).set(as(idp)).send({ schemas: [USER], userName: 'owned@contoso.com', displayName: 'Owned' });
    expect((pushed.body[SB].lockedAttributes as { attribute: string; source: string }[]).map((l) => [l.attribute, l.source])).to.deep.include(['userName', 'scim']);
    expect(pushed.body[SB]).to.not.have.property('advanced');
    const advanced = await t.request.get(`${base}/Users/${pushed.body.id}`).query({ attributes: `${SB}:advanced` }).set(as(admin.token));
    expect(advanced.body[SB].advanced).to.have.length(1);
    expect(advanced.body[SB].advanced[0].source).to.equal('scim');
    expect(JSON.parse(advanced.body[SB].advanced[0].data).displayName).to.equal('Owned');
    const refused = await t.request.patch(`${base}/Users/${pushed.body.id}`).set(as(admin.token)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'Changed' }] });
    expect(refused.status).to.equal(400);
    expect(refused.body.scimType).to.equal('mutability');
    // The owner by name, kind and id, the same id lockedAttributes gives.
    const owner = (pushed.body[SB].lockedAttributes as { attribute: string; source: string; sourceId: string }[]).find((l) => l.attribute === 'displayName')!;
    expect(owner.sourceId).to.match(/^[0-9a-f-]{36}$/);
    expect(refused.body.detail).to.include(`displayName (owned by source "SCIM push", scim, id ${owner.sourceId})`);
    const ok = await t.request.patch(`${base}/Users/${pushed.body.id}`).set(as(admin.token)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${SB}:accountAdmin`, value: true }] });
    expect(ok.status).to.equal(200);
    expect(ok.body[SB].accountAdmin).to.equal(true);
  });

  it('when filters, sorting and both paginations are used, then results are exact and stable', async () => {
    const h = as(admin.token);
    for (let i = 0; i < 12; i++) {
      const res = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: `page${String(i).padStart(2, '0')}@fabrikam.com`, name: { familyName: `Family${i % 3}`, givenName: `G${i}` }, emails: [{ value: `p${i}@fabrikam.com`, type: i % 2 ? 'home' : 'work' }] });
      expect(res.status).to.equal(201);
    }
    const neither = await t.request.get(`${base}/Users`).query({ filter: 'userName sw "page" and not (name.familyName eq "family0" or name.familyName eq "Family1")', count: 100 }).set(h);
    expect(neither.body.totalResults).to.equal(4);
    const vp = await t.request.get(`${base}/Users`).query({ filter: 'emails[type eq "work" and value co "fabrikam"]', count: 100 }).set(h);
    expect(vp.body.totalResults).to.equal(6);
    const sorted = await t.request.get(`${base}/Users`).query({ filter: 'userName sw "page"', sortBy: 'userName', sortOrder: 'descending', count: 3, startIndex: 2 }).set(h);
    expect(sorted.body.Resources.map((r: { userName: string }) => r.userName)).to.deep.equal(['page10@fabrikam.com', 'page09@fabrikam.com', 'page08@fabrikam.com']);
    expect(sorted.body).to.include({ startIndex: 2, itemsPerPage: 3, totalResults: 12 });
    const countOnly = await t.request.get(`${base}/Users`).query({ filter: 'userName sw "page"', count: 0 }).set(h);
    expect(countOnly.body.totalResults).to.equal(12);
    expect(countOnly.body.Resources).to.deep.equal([]);
    const sms = await t.request.get(`${base}/Users`).query({ sortBy: `${SB}:smsNumber` }).set(h);
    expect(sms.status).to.equal(400);
    expect(sms.body.scimType).to.equal('invalidValue');
    const bad = await t.request.get(`${base}/Users`).query({ filter: 'active gt true' }).set(h);
    expect(bad.body.scimType).to.equal('invalidFilter');
    // RFC 9865 cursors walk every user exactly once.
    const seen: string[] = [];
    let cursor = '';
    for (let guard = 0; guard < 10; guard++) {
      const page = await t.request.get(`${base}/Users`).query({ filter: 'userName sw "page"', count: 5, cursor }).set(h);
      expect(page.status).to.equal(200);
      seen.push(...page.body.Resources.map((r: { userName: string }) => r.userName));
      if (!page.body.nextCursor) break;
      cursor = page.body.nextCursor;
    }
    expect(seen).to.have.length(12);
    expect(new Set(seen).size).to.equal(12);
    const invalid = await t.request.get(`${base}/Users`).query({ cursor: 'not-a-cursor' }).set(h);
    expect(invalid.body.scimType).to.equal('invalidCursor');
  });

  it('when If-Match is stale, then 412; when If-None-Match matches, then 304; concurrent PATCHes lose nothing', async () => {
    const h = as(admin.token);
    const u = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'etag@contoso.com', ...formFields('etag@contoso.com') });
    expect(u.headers.etag).to.equal(u.body.meta.version);
    const stale = await t.request.patch(`${base}/Users/${u.body.id}`).set(h).set('If-Match', 'W/"999"').send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'x' }] });
    expect(stale.status).to.equal(412);
    const cached = await t.request.get(`${base}/Users/${u.body.id}`).set(h).set('If-None-Match', u.headers.etag);
    expect(cached.status).to.equal(304);
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((v) =>
        t.request.patch(`${base}/Users/${u.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'roles', value: [{ value: v }] }] }),
      ),
    );
    const final = await t.request.get(`${base}/Users/${u.body.id}`).set(h);
    expect(final.body.roles.map((r: { value: string }) => r.value).sort()).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('when requests for different accounts run in parallel, then each meta.location names its own account', async () => {
    const other = await createAccountWithToken(t, { name: 'Parallel', type: 'customer' });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const acct = i % 2 ? admin.accountId : other.accountId;
        return t.request.post(`/accounts/${acct}/scim/v2/Users`).set(as(t.operatorToken)).send({ schemas: [USER], userName: `par${i}@x.com`, ...formFields(`par${i}@x.com`) }).then((r) => ({ acct, r }));
      }),
    );
    for (const { acct, r } of results) {
      expect(r.status).to.equal(201);
      expect(r.body.meta.location).to.include(`/accounts/${acct}/scim/v2/Users/`);
    }
  });

  it('when a customer token reads another customer, then its users are invisible', async () => {
    const other = await createAccountWithToken(t, { name: 'Other', type: 'customer' });
    const u = await t.request.post(`/scim/v2/Users`).set(as(other.token)).send({ schemas: [USER], userName: 'secret@other.com', ...formFields('secret@other.com') });
    expect((await t.request.get(`/accounts/${other.accountId}/scim/v2/Users/${u.body.id}`).set(as(admin.token))).status).to.equal(404);
    expect((await t.request.get(`${base}/Users/${u.body.id}`).set(as(admin.token))).status).to.equal(404);
    const list = await t.request.get(`${base}/Users`).query({ filter: 'userName eq "secret@other.com"' }).set(as(admin.token));
    expect(list.body.totalResults).to.equal(0);
    expect((await t.request.delete(`${base}/Users/${u.body.id}`).set(as(admin.token))).status).to.equal(404);
  });
});
