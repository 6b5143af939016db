import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function hasNull(value: unknown): boolean {
  if (value === null) return true;
  if (Array.isArray(value)) return value.some(hasNull);
  if (value && typeof value === 'object') return Object.values(value).some(hasNull);
  return false;
}

describe(`SCIM protocol details (${testDatabaseKind})`, () => {
  let t: TestApp;
  let h: Record<string, string>;
  let base: string;
  let accountId: string;
  before(async () => {
    t = await createTestApp({ SCIM_MAX_RESULTS: '50' });
    const a = await createAccountWithToken(t, { name: 'Protocol Co', type: 'customer' });
    accountId = a.accountId;
    h = { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/scim+json' };
    base = `/accounts/${a.accountId}/scim/v2`;
  });
  after(async () => t.close());

  describe('discovery (RFC 7643 §5–7)', () => {
    it('when /Schemas is read, then it lists every schema served, with camelCase characteristics and no nulls', async () => {
      const res = await t.request.get(`${base}/Schemas`).set(h);
      expect(res.status).to.equal(200);
      expect(hasNull(res.body)).to.equal(false);
      const ids = res.body.Resources.map((s: { id: string }) => s.id);
      expect(ids).to.include.members([
        USER,
        'urn:ietf:params:scim:schemas:core:2.0:Group',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
        'urn:switchboard:scim:schemas:extension:2.0:User',
        'urn:switchboard:scim:schemas:core:2.0:Account',
        'urn:switchboard:scim:schemas:core:2.0:Token',
      ]);
      const user = res.body.Resources.find((s: { id: string }) => s.id === USER);
      const userName = user.attributes.find((a: { name: string }) => a.name === 'userName');
      expect(userName).to.include({ mutability: 'readWrite', returned: 'default', uniqueness: 'server', caseExact: false, required: true });
      const password = user.attributes.find((a: { name: string }) => a.name === 'password');
      expect(password).to.include({ mutability: 'writeOnly', returned: 'never' });
      const one = await t.request.get(`${base}/Schemas/${USER}`).set(h);
      expect(one.body.id).to.equal(USER);
    });

    it('when /ResourceTypes is read, then User carries both extensions and custom types are listed', async () => {
      const res = await t.request.get(`${base}/ResourceTypes`).set(h);
      const user = res.body.Resources.find((r: { id: string }) => r.id === 'User');
      expect(user.schemaExtensions.map((e: { schema: string }) => e.schema)).to.deep.equal([
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
        'urn:switchboard:scim:schemas:extension:2.0:User',
      ]);
      expect(res.body.Resources.map((r: { name: string }) => r.name)).to.include.members(['User', 'Group', 'Account', 'Token']);
      expect((await t.request.get(`${base}/ResourceTypes/User`).set(h)).body.endpoint).to.equal('/Users');
    });

    it('when /ServiceProviderConfig is read, then it tells the truth about what is supported', async () => {
      const res = await t.request.get(`${base}/ServiceProviderConfig`).set(h);
      expect(res.body).to.deep.include({ patch: { supported: true }, sort: { supported: true }, etag: { supported: true } });
      expect(res.body.filter).to.deep.equal({ supported: true, maxResults: 50 });
      expect(res.body.bulk.supported).to.equal(true);
      expect(res.body.pagination).to.include({ cursor: true, index: true });
      expect(res.body.authenticationSchemes[0].type).to.equal('oauthbearertoken');
    });

    it('when a discovery endpoint gets a filter, then 403', async () => {
      expect((await t.request.get(`${base}/Schemas`).query({ filter: 'id eq "x"' }).set(h)).status).to.equal(403);
    });
  });

  describe('resources (RFC 7644 §3)', () => {
    let id: string;
    before(async () => {
      const res = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'proto@example.com', name: { givenName: 'Proto', familyName: 'Col' }, title: 'Engineer', emails: [{ value: 'proto@example.com', type: 'work', primary: true }], password: 'correct horse battery' });
      id = res.body.id;
    });

    it('when attributes or excludedAttributes are given, then only those (plus always-returned id) come back', async () => {
      const only = await t.request.get(`${base}/Users/${id}`).query({ attributes: 'userName' }).set(h);
      expect(Object.keys(only.body).sort()).to.deep.equal(['id', 'schemas', 'userName']);
      const sub = await t.request.get(`${base}/Users/${id}`).query({ attributes: 'emails.value' }).set(h);
      expect(sub.body.emails).to.deep.equal([{ value: 'proto@example.com' }]);
      const without = await t.request.get(`${base}/Users/${id}`).query({ excludedAttributes: 'emails,title' }).set(h);
      expect(without.body).to.not.have.property('emails');
      expect(without.body).to.not.have.property('title');
      expect(without.body).to.have.property('id');
      expect(without.body).to.not.have.property('password');
    });

    it('when POST /Users/.search is used, then it behaves like GET with the same parameters', async () => {
      const res = await t.request.post(`${base}/Users/.search`).set(h).send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'title eq "engineer"', attributes: ['userName'], startIndex: 1, count: 10 });
      expect(res.status).to.equal(200);
      expect(res.body.totalResults).to.equal(1);
      expect(Object.keys(res.body.Resources[0]).sort()).to.deep.equal(['id', 'schemas', 'userName']);
    });

    it('when paging parameters are out of range, then startIndex < 1 is 1 and count is capped at maxResults', async () => {
      const res = await t.request.get(`${base}/Users`).query({ startIndex: -4, count: 5000 }).set(h);
      expect(res.status).to.equal(200);
      expect(res.body.startIndex).to.equal(1);
      expect(res.body.itemsPerPage).to.be.at.most(50);
    });

    it('when a password is set, then it is never returned and is stored as an argon2 hash', async () => {
      const get = await t.request.get(`${base}/Users/${id}`).query({ attributes: 'password,userName' }).set(h);
      expect(get.body).to.not.have.property('password');
      const before = await t.db.knex('users').where({ id }).first('password_hash');
      const patch = await t.request.patch(`${base}/Users/${id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'password', value: 'another good password' }] });
      expect(patch.status).to.equal(200);
      expect(patch.body).to.not.have.property('password');
      const after = await t.db.knex('users').where({ id }).first('password_hash');
      expect(after.password_hash).to.match(/^\$argon2id\$/).and.not.equal(before.password_hash);
    });

    it('when a client writes read-only attributes, then they are ignored; an unknown id 404s', async () => {
      const put = await t.request.put(`${base}/Users/${id}`).set(h).send({ schemas: [USER], id: 'something-else', userName: 'proto@example.com', name: { givenName: 'Proto', familyName: 'Col' }, emails: [{ value: 'proto@example.com', type: 'work', primary: true }], title: 'Lead', meta: { created: '2000-01-01T00:00:00Z' }, 'urn:switchboard:scim:schemas:extension:2.0:User': { registered: true } });
      expect(put.status).to.equal(200);
      expect(put.body.id).to.equal(id);
      expect(put.body.meta.created).to.not.equal('2000-01-01T00:00:00Z');
      expect(put.body['urn:switchboard:scim:schemas:extension:2.0:User'].registered).to.equal(false);
      expect((await t.request.get(`${base}/Users/00000000-0000-4000-8000-000000000000`).set(h)).status).to.equal(404);
      expect((await t.request.get(`${base}/Users/not-a-uuid`).set(h)).status).to.equal(404);
    });

    it('when a PATCH is invalid, then nothing changes and the error says what to fix', async () => {
      const bad = await t.request.patch(`${base}/Users/${id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Changed' }, { op: 'replace', path: 'active', value: 'maybe' }] });
      expect(bad.status).to.equal(400);
      expect(bad.body.scimType).to.equal('invalidValue');
      expect(bad.body.detail).to.match(/active/);
      const get = await t.request.get(`${base}/Users/${id}`).set(h);
      expect(get.body.title).to.equal('Lead');
      const unknown = await t.request.patch(`${base}/Users/${id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'nonsense', value: 'x' }] });
      expect(unknown.body.scimType).to.equal('invalidPath');
    });

    it('when a user token uses /Me, then it reads and changes only its own user', async () => {
      const token = await t.request.post(`${base}/Tokens`).set(h).send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'user', userId: id });
      expect(token.status).to.equal(201);
      const me = { Authorization: `Bearer ${token.body.token}`, 'Content-Type': 'application/scim+json' };
      const res = await t.request.get(`/scim/v2/Me`).set(me);
      expect(res.status).to.equal(200);
      expect(res.body.id).to.equal(id);
      expect((await t.request.get(`/scim/v2/Users`).set(me)).status).to.equal(403);
      const nick = await t.request.patch(`/scim/v2/Me`).set(me).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'nickName', value: 'Protty' }] });
      expect(nick.body.nickName).to.equal('Protty');
    });

    it('when the seed\'s Property filters are used (Admins, Registered, PBX Users, Inactive), then they compile to SQL', async () => {
      const q = (filter: string) => t.request.get(`${base}/Users`).query({ filter, count: 0 }).set(h).then((r) => r.body.totalResults as number);
      const all = await q('id pr');
      expect(await q('urn:switchboard:scim:schemas:extension:2.0:User:registered eq false')).to.equal(all);
      expect(await q('connections.pbx eq false and connections.micloud eq false and connections.iot eq false')).to.equal(all);
      expect(await q('accountAdmin eq true')).to.equal(0);
      expect(await q('active eq false')).to.equal(0);
    });

    it('when the SMS Number filter is combined with the Property filter or Search Users, then 400 invalidFilter (seed rule)', async () => {
      const sms = 'urn:switchboard:scim:schemas:extension:2.0:User:smsNumber eq "+14155550100"';
      expect((await t.request.get(`${base}/Users`).query({ filter: sms }).set(h)).status).to.equal(200);
      const withProperty = await t.request.get(`${base}/Users`).query({ filter: `${sms} and registered eq true` }).set(h);
      expect(withProperty.status).to.equal(400);
      expect(withProperty.body.scimType).to.equal('invalidFilter');
      expect(withProperty.body.detail).to.match(/Property filter/);
      const withSearch = await t.request.get(`${base}/Users`).query({ filter: `${sms} and userName sw "a"` }).set(h);
      expect(withSearch.body.detail).to.match(/Search Users/);
    });

    it('when the MiVB username is set without the MiVoice Business service, then 400; with it, it is kept', async () => {
      const SBX = 'urn:switchboard:scim:schemas:extension:2.0:User';
      const refused = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER, SBX], userName: 'mivb1@example.com', ...formFields('mivb1@example.com'), [SBX]: { username: 'mivb1' } });
      expect(refused.status).to.equal(400);
      expect(refused.body.detail).to.match(/mivbService/);
      const ok = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER, SBX], userName: 'mivb2@example.com', ...formFields('mivb2@example.com'), [SBX]: { username: 'mivb2', mivbService: true, extensions: ['2001'], mobileNumber: '06 12 34 56 78', mobileCountry: 'fr' } });
      expect(ok.status).to.equal(201);
      expect(ok.body[SBX]).to.include({ username: 'mivb2', mivbService: true, mobileNumber: '+33612345678', mobileCountry: 'FR' });
      const dupExt = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER, SBX], userName: 'mivb3@example.com', ...formFields('mivb3@example.com'), [SBX]: { extensions: ['2001'] } });
      expect(dupExt.status).to.equal(409);
      expect(dupExt.body.detail).to.match(/extensions \(2001\)/);
      const badMobile = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER, SBX], userName: 'mivb4@example.com', ...formFields('mivb4@example.com'), [SBX]: { mobileNumber: '12' } });
      expect(badMobile.status).to.equal(400);
      expect(badMobile.body.detail).to.match(/E\.164/);
    });

    it('when a local user is deleted, then it is gone; the account count follows', async () => {
      const u = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'gone@example.com', ...formFields('gone@example.com') });
      const countOf = async () => Number(((await t.db.knex('account_user_counts').where({ account_id: accountId }).sum({ n: 'user_count' })) as { n: string }[])[0]!.n);
      const before = { user_count: await countOf() };
      expect((await t.request.delete(`${base}/Users/${u.body.id}`).set(h)).status).to.equal(204);
      expect((await t.request.get(`${base}/Users/${u.body.id}`).set(h)).status).to.equal(404);
      const after = { user_count: await countOf() };
      expect(after.user_count).to.equal(before.user_count - 1);
    });
  });
});
