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
