/**
 * Issue 13, bad input at the HTTP edge: NUL characters, deeply nested JSON, response headers, /metrics, and the
 * request log without link secrets. Each refusal is a SCIM 4xx with a useful detail and changes nothing.
 */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../src/lib/logger.js';
import { createAccountWithToken, createTestApp, formFields, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const ACCOUNT = 'urn:switchboard:scim:schemas:core:2.0:Account';

describe(`hardening: bad input at the edge (${testDatabaseKind})`, () => {
  let t: TestApp;
  let a: { accountId: string; token: string };
  let userId: string;
  const lines: string[] = [];
  before(async () => {
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    t = await createTestApp({}, { logger: createLogger({ level: 'info', destination }) });
    a = await createAccountWithToken(t, { name: 'Edge Co', type: 'customer' });
    const created = await t.request.post('/scim/v2/Users').set(admin()).send({ schemas: [USER], userName: 'edge@edge.test', ...formFields('edge@edge.test') });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    userId = created.body.id as string;
  });
  after(async () => t?.close());

  function admin(): Record<string, string> {
    return { Authorization: `Bearer ${a?.token ?? t.operatorToken}`, 'Content-Type': scimJson };
  }
  async function userVersion(): Promise<string> {
    return (await t.request.get(`/scim/v2/Users/${userId}`).set(admin())).body.meta.version as string;
  }

  it('when a filter on any resource holds a NUL, then 400 naming the NUL', async () => {
    for (const resource of ['Users', 'Groups', 'Accounts', 'Tokens', 'Actions', 'Users/.search']) {
      const path = resource === 'Users/.search' ? `/scim/v2/Users?filter=${encodeURIComponent('userName eq "a')}%00${encodeURIComponent('"')}` : `/scim/v2/${resource}?filter=id%20eq%20%22a%00b%22`;
      const res = await t.request.get(path).set(admin());
      expect(res.status, `${resource}: ${JSON.stringify(res.body)}`).to.equal(400);
      expect(res.body.detail).to.match(/NUL/);
    }
  });

  it('when a stored string holds a NUL (userName, title, displayName, externalId, group, account, token, phone), then 400 and nothing changes', async () => {
    const before = await userVersion();
    const bodies: [string, string, Record<string, unknown>][] = [
      ['POST', '/scim/v2/Users', { schemas: [USER], userName: 'nul\u0000@edge.test', ...formFields('nul@edge.test') }],
      ['PATCH', `/scim/v2/Users/${userId}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Boss\u0000' }] }],
      ['PATCH', `/scim/v2/Users/${userId}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { displayName: '\u0000', externalId: 'x\u0000' } }] }],
      ['PATCH', `/scim/v2/Users/${userId}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'phoneNumbers', value: [{ value: '+3247\u0000', type: 'work' }] }] }],
      ['POST', '/scim/v2/Groups', { schemas: [GROUP], displayName: 'G\u0000' }],
      ['POST', '/scim/v2/Tokens', { schemas: [TOKEN], role: 'provisioning', description: 'd\u0000' }],
      ['POST', '/scim/v2/Actions', { schemas: [ACTION], type: 'resetPassword', targets: { filter: 'userName eq "a\u0000"' } }],
    ];
    for (const [method, path, body] of bodies) {
      const res = await t.request[method === 'POST' ? 'post' : 'patch'](path).set(admin()).send(body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).to.equal(400);
      expect(res.body.detail).to.match(/NUL/);
    }
    const account = await t.request.post('/scim/v2/Accounts').set({ Authorization: `Bearer ${t.operatorToken}` }).send({ schemas: [ACCOUNT], name: 'Acme\u0000', type: 'customer' });
    expect(account.status).to.equal(400);
    expect(await userVersion()).to.equal(before);
    expect(await t.deps.db.knex('groups').where({ account_id: a.accountId })).to.have.length(0);
  });

  it('when mobileNumber ends in a NUL or letters, then 400: it is refused, not cleaned into another number', async () => {
    for (const mobileNumber of ['+32 470 00 00 0x', '+32470000000\u0000', '+32 470 12 34 56 ext']) {
      const res = await t.request.patch(`/scim/v2/Users/${userId}`).set(admin()).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${EXT}:mobileNumber`, value: mobileNumber }] });
      expect(res.status, `${JSON.stringify(mobileNumber)}: ${JSON.stringify(res.body)}`).to.equal(400);
      expect(res.body.scimType).to.equal('invalidValue');
    }
    const user = await t.request.get(`/scim/v2/Users/${userId}`).set(admin());
    expect(user.body[EXT]?.mobileNumber).to.equal(undefined);
  });

  it('when JSON nests 10,000 levels (a PATCH value, Bulk data, .search attributes), then 400 invalidSyntax before any recursion and no internal message', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const bodies: [string, string][] = [
      [`/scim/v2/Users/${userId}`, `{"schemas":["${PATCH}"],"Operations":[{"op":"replace","path":"title","value":${deep}}]}`],
      ['/scim/v2/Bulk', `{"schemas":["${BULK}"],"Operations":[{"method":"POST","path":"/Users","bulkId":"x","data":${deepObject}}]}`],
      ['/scim/v2/Users/.search', `{"schemas":["${SEARCH}"],"attributes":${deep}}`],
    ];
    for (const [path, text] of bodies) {
      const req = path.includes('.search') || path.endsWith('Bulk') ? t.request.post(path) : t.request.patch(path);
      const res = await req.set(admin()).send(text);
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).to.equal(400);
      expect(res.body.scimType).to.equal('invalidSyntax');
      expect(res.body.detail).to.match(/deeper than \d+ levels/);
      expect(res.body.detail).to.not.match(/stack/i);
    }
  });

  it('when any response is sent, then it says nosniff and no-referrer; the register page forbids framing and caching; a new token is never cached', async () => {
    for (const res of [
      await t.request.get('/scim/v2/Users').set(admin()),
      await t.request.get(`/scim/v2/Users/${userId}`).set(admin()),
      await t.request.get('/scim/v2/Nope').set(admin()),
      await t.request.get('/healthz'),
    ]) {
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['referrer-policy']).to.equal('no-referrer');
    }
    const page = await t.request.get('/register/unknown-link');
    expect(page.status).to.equal(410);
    expect(page.headers['content-security-policy']).to.contain("frame-ancestors 'none'");
    expect(page.headers['content-security-policy']).to.contain("default-src 'none'");
    expect(page.headers['cache-control']).to.equal('no-store');
    const token = await t.request.post('/scim/v2/Tokens').set(admin()).send({ schemas: [TOKEN], role: 'provisioning' });
    expect(token.status).to.equal(201);
    expect(token.headers['cache-control']).to.equal('no-store');
  });

  it('when /metrics is asked anonymously or by a non-operator token, then it is refused; an operator token gets it', async () => {
    expect((await t.request.get('/metrics')).status).to.equal(401);
    expect((await t.request.get('/metrics').set(admin())).status).to.equal(403);
    const ok = await t.request.get('/metrics').set('Authorization', `Bearer ${t.operatorToken}`);
    expect(ok.status).to.equal(200);
    expect(ok.text).to.contain('switchboard_http_request_duration_seconds');
  });

  it('when a registration or reset link is requested, then no log line holds its secret', async () => {
    lines.length = 0;
    const secret = 'AbCdEf0123456789secretlink';
    await t.request.get(`/register/${secret}`);
    await t.request.post(`/reset/${secret}`).type('form').send({ password: 'longenough' });
    expect(lines.length).to.be.greaterThan(1);
    expect(lines.join('\n')).to.not.contain(secret);
    expect(lines.join('\n')).to.contain('/register/[redacted]');
  });

  it('when a Bulk operation path holds a space, tab, CR/LF or a character above U+00FF, then 400 invalidPath before any operation runs', async () => {
    for (const bad of ['/Users/a b', '/Users/a\tb', '/Users/a\r\nb', '/Users/\u0100', '/Users/\u00e9t\u00e9']) {
      const res = await t.request.post('/scim/v2/Bulk').set(admin()).send({
        schemas: [BULK],
        Operations: [
          { method: 'POST', path: '/Users', bulkId: 'first', data: { schemas: [USER], userName: 'bulkfirst@edge.test', ...formFields('bulkfirst@edge.test') } },
          { method: 'PATCH', path: bad, data: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'x' }] } },
        ],
      });
      expect(res.status, `${JSON.stringify(bad)}: ${JSON.stringify(res.body)}`).to.equal(400);
      expect(res.body.scimType).to.equal('invalidPath');
      expect(res.body.detail).to.contain('Operations[1].path');
    }
    expect(await t.deps.db.knex('users').where({ account_id: a.accountId, user_name: 'bulkfirst@edge.test' })).to.have.length(0);
  });

  it('when a PATCH carries more operations than the cap, or leaves an attribute with more values than the cap, then 400 invalidValue naming the cap and nothing changes', async () => {
    const before = await userVersion();
    const many = Array.from({ length: 1001 }, (_, i) => ({ op: 'replace', path: 'title', value: `t${i}` }));
    const tooMany = await t.request.patch(`/scim/v2/Users/${userId}`).set(admin()).send({ schemas: [PATCH], Operations: many });
    expect(tooMany.status).to.equal(400);
    expect(tooMany.body.scimType).to.equal('invalidValue');
    expect(tooMany.body.detail).to.match(/1000 operations/);
    const emails = Array.from({ length: 101 }, (_, i) => ({ op: 'add', path: 'emails', value: [{ value: `e${i}@edge.test`, type: 'other' }] }));
    const tooManyValues = await t.request.patch(`/scim/v2/Users/${userId}`).set(admin()).send({ schemas: [PATCH], Operations: emails });
    expect(tooManyValues.status, JSON.stringify(tooManyValues.body)).to.equal(400);
    expect(tooManyValues.body.scimType).to.equal('invalidValue');
    expect(tooManyValues.body.detail).to.match(/emails.*100 values/);
    expect(await userVersion()).to.equal(before);
  });

  it('when a string is longer than its attribute allows (3,000-character userName, 500 KB displayName), then 400 naming the attribute and its limit, on every write path', async () => {
    const long = 'u'.repeat(3000) + '@edge.test';
    const post = await t.request.post('/scim/v2/Users').set(admin()).send({ schemas: [USER], userName: long, ...formFields('long@edge.test') });
    expect(post.status).to.equal(400);
    expect(post.body.detail).to.match(/userName is \d+ characters long; the limit is 256 characters/);
    const patch = await t.request.patch(`/scim/v2/Users/${userId}`).set(admin()).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'd'.repeat(500 * 1024) }] });
    expect(patch.status).to.equal(400);
    expect(patch.body.detail).to.match(/displayName .* 256 characters/);
    const bulk = await t.request.post('/scim/v2/Bulk').set(admin()).send({ schemas: [BULK], Operations: [{ method: 'POST', path: '/Users', bulkId: 'l', data: { schemas: [USER], userName: long, ...formFields('long2@edge.test') } }] });
    expect(bulk.status).to.equal(200);
    expect(bulk.body.Operations[0].status).to.equal('400');
    expect(bulk.body.Operations[0].response.detail).to.contain('userName');
    const group = await t.request.post('/scim/v2/Groups').set(admin()).send({ schemas: [GROUP], displayName: 'g'.repeat(3000) });
    expect(group.status).to.equal(400);
    expect(group.body.detail).to.match(/displayName .* 256 characters/);
    const schemas = await t.request.get('/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User').set(admin());
    const userName = (schemas.body.attributes as { name: string; description: string }[]).find((x) => x.name === 'userName');
    expect(userName!.description).to.contain('At most 256 characters');
  });

  it('when an email has a local part over 64 characters, or one address is given twice in different case, then 400 and nothing changes', async () => {
    const before = await userVersion();
    const longLocal = `${'l'.repeat(300)}@edge.test`;
    const res = await t.request.patch(`/scim/v2/Users/${userId}`).set(admin()).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'emails', value: [{ value: longLocal, type: 'other' }] }] });
    expect(res.status).to.equal(400);
    expect(res.body.detail).to.match(/local part .* 64 characters/);
    const twice = await t.request.patch(`/scim/v2/Users/${userId}`).set(admin()).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'emails', value: [{ value: 'edge@edge.test', primary: true }, { value: 'EDGE@Edge.Test', type: 'other' }] }] });
    expect(twice.status).to.equal(400);
    expect(twice.body.detail).to.match(/more than once/);
    const created = await t.request.post('/scim/v2/Users').set(admin()).send({ schemas: [USER], userName: 'twice@edge.test', name: { givenName: 'T', familyName: 'W' }, emails: [{ value: 'twice@edge.test', primary: true }, { value: 'Twice@Edge.test' }] });
    expect(created.status).to.equal(400);
    expect(await t.deps.db.knex('users').where({ account_id: a.accountId, user_name: 'twice@edge.test' })).to.have.length(0);
    expect(await userVersion()).to.equal(before);
  });
});
