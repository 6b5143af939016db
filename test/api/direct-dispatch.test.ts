import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

/**
 * GET /Users and GET /Users/{id} in canonical form are answered in front of express (src/http/direct-dispatch.ts);
 * other spellings of the same paths reach express. Both must be one behaviour.
 */
describe(`direct dispatch of the flat SCIM reads (${testDatabaseKind})`, function () {
  let t: TestApp;
  let token: string;
  let accountId: string;
  let userId: string;
  const auth = () => ({ Authorization: `Bearer ${token}` });
  const stable = (body: Record<string, unknown>) => JSON.stringify(body);

  before(async () => {
    t = await createTestApp();
    ({ token, accountId } = await createAccountWithToken(t, { name: 'Direct Co', type: 'customer' }));
    const created = await t.request
      .post('/scim/v2/Users')
      .set(auth())
      .set('Content-Type', scimJson)
      .send({ schemas: [USER], userName: 'ada@direct.example', name: { givenName: 'Ada', familyName: 'Lovelace' }, emails: [{ value: 'ada@direct.example', type: 'work', primary: true }] });
    expect(created.status).to.equal(201);
    userId = created.body.id as string;
  });
  after(async () => t.close());

  it('when a user is read by its canonical path and by spellings only express accepts, then status, headers and body are the same', async () => {
    const paths = [`/scim/v2/Users/${userId}`, `/scim/v2/users/${userId}`, `/scim/v2/Users/${userId}/`];
    const answers = await Promise.all(paths.map((p) => t.request.get(p).set(auth())));
    for (const res of answers) {
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('application/scim+json; charset=utf-8');
      expect(res.headers.etag).to.equal(answers[0].headers.etag);
      expect(stable(res.body as Record<string, unknown>)).to.equal(stable(answers[0].body as Record<string, unknown>));
    }
    expect(answers[0].body.meta.location).to.match(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/scim/v2/Users/${userId}$`));
  });

  it('when the account is addressed in the path, then the direct answer names that base, and an unreachable account is 404', async () => {
    const own = await t.request.get(`/accounts/${accountId}/scim/v2/Users?filter=${encodeURIComponent('userName eq "ADA@direct.example"')}`).set(auth());
    expect(own.status).to.equal(200);
    expect(own.body.totalResults).to.equal(1);
    expect(own.body.Resources[0].meta.location).to.include(`/accounts/${accountId}/scim/v2/Users/${userId}`);
    const other = await createAccountWithToken(t, { name: 'Other Co', type: 'customer' });
    const foreign = await t.request.get(`/accounts/${other.accountId}/scim/v2/Users/${userId}`).set(auth());
    expect(foreign.status).to.equal(404);
    expect(foreign.body.schemas).to.deep.equal([ERROR]);
  });

  it('when the request carries no token, a bad filter or an unknown id, then the SCIM error bodies are those of express', async () => {
    const noToken = await t.request.get(`/scim/v2/Users/${userId}`);
    expect(noToken.status).to.equal(401);
    expect(noToken.headers['www-authenticate']).to.equal('Bearer realm="switchboard"');
    expect(noToken.body).to.include({ status: '401' });
    const badFilter = await t.request.get(`/scim/v2/Users?filter=${encodeURIComponent('userName zz "x"')}`).set(auth());
    expect(badFilter.status).to.equal(400);
    expect(badFilter.body).to.include({ scimType: 'invalidFilter', status: '400' });
    const viaExpress = await t.request.get(`/scim/v2/users?filter=${encodeURIComponent('userName zz "x"')}`).set(auth());
    expect(viaExpress.body).to.deep.equal(badFilter.body);
    const missing = await t.request.get('/scim/v2/Users/00000000-0000-4000-8000-000000000000').set(auth());
    expect(missing.status).to.equal(404);
    const malformed = await t.request.get('/scim/v2/Users/%E0%A4%A').set(auth());
    expect(malformed.status).to.equal(400);
  });

  it('when If-None-Match names the current version, then 304 without a body', async () => {
    const first = await t.request.get(`/scim/v2/Users/${userId}`).set(auth());
    const again = await t.request.get(`/scim/v2/Users/${userId}`).set(auth()).set('If-None-Match', first.headers.etag as string);
    expect(again.status).to.equal(304);
    expect(again.text ?? '').to.equal('');
    expect(again.headers.etag).to.equal(first.headers.etag);
  });

  it('when a proxy forwards the scheme, then locations use it; a request id is echoed and the duration metric names the route', async () => {
    const res = await t.request.get(`/scim/v2/Users/${userId}`).set(auth()).set('X-Forwarded-Proto', 'https').set('X-Request-Id', 'direct-42');
    expect(res.status).to.equal(200);
    expect(res.headers['x-request-id']).to.equal('direct-42');
    expect(res.body.meta.location).to.match(/^https:\/\//);
    const metrics = await t.request.get('/metrics').set('Authorization', `Bearer ${t.operatorToken}`);
    expect(metrics.text).to.match(/switchboard_http_request_duration_seconds_count\{[^}]*route="\/scim\/v2\/Users\/:id"[^}]*status="200"[^}]*\} \d+/);
    expect(metrics.text).to.match(/switchboard_http_request_duration_seconds_count\{[^}]*route="\/accounts\/:accountId\/scim\/v2\/Users"[^}]*\} \d+/);
  });
});

/**
 * An identity provider's writes (POST /Users, PUT, PATCH and DELETE /Users/{id}) in canonical form go the same way,
 * through the app's one body parser and guards; other spellings reach express. Both must be one behaviour.
 */
describe(`direct dispatch of the identity provider's writes (${testDatabaseKind})`, function () {
  let t: TestApp;
  let token: string;
  const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
  const auth = () => ({ Authorization: `Bearer ${token}` });
  const newUser = (userName: string) => ({ schemas: [USER], userName, name: { givenName: 'Ida', familyName: 'Provider' }, emails: [{ value: userName, type: 'work', primary: true }], active: 'True' });
  /** The body without what differs between two users written alike (id, timestamps, location, names). */
  const shape = (body: Record<string, unknown>) => JSON.stringify(body, (key, value: unknown) => (['id', 'meta', 'userName', 'value', 'sourceId'].includes(key) ? undefined : value));

  before(async () => {
    t = await createTestApp({ BODY_LIMIT: '4kb', SCIM_PATCH_MAX_OPERATIONS: '3' });
    ({ token } = await createAccountWithToken(t, { name: 'Writes Co', type: 'customer', role: 'provisioning' }));
  });
  after(async () => t.close());

  it('when a user is created, patched, replaced and deleted by the canonical path and by a spelling only express accepts, then the answers agree', async () => {
    const direct = await t.request.post('/scim/v2/Users').set(auth()).set('Content-Type', scimJson).send(newUser('direct@writes.example'));
    const viaExpress = await t.request.post('/scim/v2/users').set(auth()).set('Content-Type', scimJson).send(newUser('express@writes.example'));
    for (const res of [direct, viaExpress]) {
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.headers['content-type']).to.equal('application/scim+json; charset=utf-8');
      expect(res.headers.etag).to.equal('W/"1"');
      expect(res.headers.location).to.equal(res.body.meta.location);
      expect(res.body.active).to.equal(true);
    }
    expect(shape(viaExpress.body as Record<string, unknown>)).to.equal(shape(direct.body as Record<string, unknown>));
    const ids = [direct.body.id as string, viaExpress.body.id as string];
    const patchOf = (title: string) => ({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: title }] });
    const patched = [
      await t.request.patch(`/scim/v2/Users/${ids[0]}`).set(auth()).send(patchOf('Lead')),
      await t.request.patch(`/scim/v2/Users/${ids[1]}/`).set(auth()).send(patchOf('Lead')),
    ];
    const replaced = [
      await t.request.put(`/scim/v2/Users/${ids[0]}`).set(auth()).set('If-Match', 'W/"2"').send({ ...newUser('direct@writes.example'), title: 'Chief' }),
      await t.request.put(`/scim/v2/Users/${ids[1]}/`).set(auth()).set('If-Match', 'W/"2"').send({ ...newUser('express@writes.example'), title: 'Chief' }),
    ];
    const stale = [
      await t.request.put(`/scim/v2/Users/${ids[0]}`).set(auth()).set('If-Match', 'W/"1"').send(newUser('direct@writes.example')),
      await t.request.put(`/scim/v2/Users/${ids[1]}/`).set(auth()).set('If-Match', 'W/"1"').send(newUser('express@writes.example')),
    ];
    const deleted = [await t.request.delete(`/scim/v2/Users/${ids[0]}`).set(auth()), await t.request.delete(`/scim/v2/Users/${ids[1]}/`).set(auth())];
    for (const [i, id] of ids.entries()) {
      expect(patched[i]!.status).to.equal(200);
      expect(patched[i]!.body).to.include({ id, title: 'Lead' });
      expect(patched[i]!.headers.etag).to.equal('W/"2"');
      expect(replaced[i]!.status, JSON.stringify(replaced[i]!.body)).to.equal(200);
      expect(replaced[i]!.body.title).to.equal('Chief');
      expect(stale[i]!.status).to.equal(412);
      expect(deleted[i]!.status).to.equal(204);
    }
    expect(shape(replaced[1]!.body as Record<string, unknown>)).to.equal(shape(replaced[0]!.body as Record<string, unknown>));
    expect(stale[1]!.body.detail.replace(ids[1]!, '<id>')).to.equal(stale[0]!.body.detail.replace(ids[0]!, '<id>'));
  });

  it('when a body is too large, not JSON, too deep, over the PATCH cap or labelled otherwise, then both ways answer alike', async () => {
    const id = (await t.request.post('/scim/v2/Users').set(auth()).send(newUser('guards@writes.example'))).body.id as string;
    const both = async (method: 'post' | 'patch', path: string, body: string, headers: Record<string, string> = { ...auth(), 'Content-Type': scimJson }) => {
      const answers = [];
      for (const p of [path, path.replace('/Users', '/users')]) {
        let req = t.request[method](p);
        for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
        answers.push(await req.send(body));
      }
      expect(answers[1]!.status).to.equal(answers[0]!.status);
      expect(answers[1]!.body).to.deep.equal(answers[0]!.body);
      return answers[0]!;
    };
    const large = await both('post', '/scim/v2/Users', JSON.stringify({ ...newUser('large@writes.example'), title: 'x'.repeat(5000) }));
    expect(large.status).to.equal(413);
    expect(large.body.detail).to.equal('The request body is larger than the limit of 4096 bytes');
    const broken = await both('post', '/scim/v2/Users', '{"schemas": [');
    expect(broken.status).to.equal(400);
    expect(broken.body.scimType).to.equal('invalidSyntax');
    // The body is read before the token: a broken body without a token is a 400, as express answers it.
    expect((await both('post', '/scim/v2/Users', '{"schemas": [', { 'Content-Type': scimJson })).status).to.equal(400);
    expect((await both('post', '/scim/v2/Users', JSON.stringify(newUser('anonymous@writes.example')), { 'Content-Type': scimJson })).status).to.equal(401);
    const deep = await both('patch', `/scim/v2/Users/${id}`, `{"schemas":["${PATCH}"],"Operations":[{"op":"add","path":"title","value":${'['.repeat(40)}${']'.repeat(40)}}]}`);
    expect(deep.status).to.equal(400);
    expect(deep.body.detail).to.match(/deeper than 32 levels/);
    const capped = await both('patch', `/scim/v2/Users/${id}`, JSON.stringify({ schemas: [PATCH], Operations: Array.from({ length: 4 }, (_, i) => ({ op: 'replace', path: 'title', value: `T${i}` })) }));
    expect(capped.status).to.equal(400);
    expect(capped.body.detail).to.match(/4 operations; the limit is 3/);
    // JSON whatever the label: a script's text/plain body is read as JSON too.
    const plain = await t.request.post('/scim/v2/Users').set(auth()).set('Content-Type', 'text/plain').send(JSON.stringify(newUser('plain@writes.example')));
    expect(plain.status, JSON.stringify(plain.body)).to.equal(201);
    const unchanged = await t.request.get(`/scim/v2/Users/${id}`).set(auth());
    expect(unchanged.body.meta.version).to.equal('W/"1"');
  });
});
