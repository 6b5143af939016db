import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';
import { hashSecret } from '../../src/services/token-service.js';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const ACCOUNT = 'urn:switchboard:scim:schemas:core:2.0:Account';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';

describe(`foundation API (${testDatabaseKind})`, function () {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ BODY_LIMIT: '64kb' });
  });
  after(async () => t.close());
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

  describe('authentication', () => {
    it('when no token is sent, then 401 with a SCIM error body and WWW-Authenticate: Bearer', async () => {
      const res = await t.request.get('/scim/v2/Accounts');
      expect(res.status).to.equal(401);
      expect(res.headers['www-authenticate']).to.match(/^Bearer/);
      expect(res.headers['content-type']).to.match(/application\/scim\+json/);
      expect(res.body).to.deep.include({ schemas: [ERROR], status: '401' });
      expect(res.body.detail).to.be.a('string').and.not.empty;
    });

    it('when an unknown token is sent, then 401', async () => {
      const res = await t.request.get('/scim/v2/Accounts').set(auth('sb_not_a_real_token'));
      expect(res.status).to.equal(401);
      expect(res.body.schemas).to.deep.equal([ERROR]);
    });

    it('when a token is revoked, then it stops working at once', async () => {
      const { accountId, token } = await createAccountWithToken(t, { name: 'Revoke Co', type: 'customer' });
      expect((await t.request.get('/scim/v2/Tokens').set(auth(token))).status).to.equal(200);
      const list = await t.request.get(`/accounts/${accountId}/scim/v2/Tokens`).set(auth(t.operatorToken));
      const id = list.body.Resources[0].id;
      const del = await t.request.delete(`/accounts/${accountId}/scim/v2/Tokens/${id}`).set(auth(t.operatorToken));
      expect(del.status).to.equal(204);
      expect((await t.request.get('/scim/v2/Tokens').set(auth(token))).status).to.equal(401);
      const after = await t.request.get(`/accounts/${accountId}/scim/v2/Tokens/${id}`).set(auth(t.operatorToken));
      expect(after.body.revokedAt).to.be.a('string');
    });

    it('when a token has expired, then 401', async () => {
      const { accountId } = await createAccountWithToken(t, { name: 'Expiry Co', type: 'customer' });
      const expiresAt = new Date(t.clock.now().getTime() + 60 * 60 * 1000).toISOString();
      const res = await t.request.post(`/accounts/${accountId}/scim/v2/Tokens`).set(auth(t.operatorToken)).send({ schemas: [TOKEN], role: 'account-admin', expiresAt });
      expect(res.status).to.equal(201);
      expect((await t.request.get('/scim/v2/Tokens').set(auth(res.body.token))).status).to.equal(200);
      t.clock.advance(2 * 60 * 60 * 1000);
      expect((await t.request.get('/scim/v2/Tokens').set(auth(res.body.token))).status).to.equal(401);
    });
  });

  describe('tokens', () => {
    it('when a token is created, then its secret is in that response only and the database holds only its SHA-256', async () => {
      const { accountId } = await createAccountWithToken(t, { name: 'Hash Co', type: 'customer' });
      const res = await t.request.post(`/accounts/${accountId}/scim/v2/Tokens`).set(auth(t.operatorToken)).send({ schemas: [TOKEN], role: 'provisioning', description: 'Entra ID' });
      expect(res.status).to.equal(201);
      expect(res.headers.location).to.match(new RegExp(`/accounts/${accountId}/scim/v2/Tokens/${res.body.id}$`));
      const secret: string = res.body.token;
      expect(secret).to.match(/^sb_[A-Za-z0-9_-]{43}$/); // 256 bits, base64url
      const rows = await t.db.knex('tokens').where({ account_id: accountId });
      const dump = JSON.stringify(rows);
      expect(dump).to.not.include(secret);
      expect(rows.map((r: { secret_hash: string }) => r.secret_hash)).to.include(hashSecret(secret));
      const get = await t.request.get(`/accounts/${accountId}/scim/v2/Tokens/${res.body.id}`).set(auth(t.operatorToken));
      expect(get.body).to.not.have.property('token');
      const list = await t.request.get(`/accounts/${accountId}/scim/v2/Tokens`).set(auth(t.operatorToken));
      expect(JSON.stringify(list.body)).to.not.include(secret);
    });

    it('when an account admin asks for an operator token, then it is refused', async () => {
      const { token } = await createAccountWithToken(t, { name: 'Escalate Co', type: 'customer' });
      const res = await t.request.post('/scim/v2/Tokens').set(auth(token)).send({ schemas: [TOKEN], role: 'operator' });
      expect(res.status).to.equal(403);
      expect(res.body.schemas).to.deep.equal([ERROR]);
    });

    it('when a provisioning token manages tokens or accounts, then 403', async () => {
      const { accountId } = await createAccountWithToken(t, { name: 'Idp Co', type: 'customer' });
      const idp = await t.request.post(`/accounts/${accountId}/scim/v2/Tokens`).set(auth(t.operatorToken)).send({ schemas: [TOKEN], role: 'provisioning' });
      expect((await t.request.get('/scim/v2/Tokens').set(auth(idp.body.token))).status).to.equal(403);
      expect((await t.request.get('/scim/v2/Accounts').set(auth(idp.body.token))).status).to.equal(403);
    });
  });

  describe('accounts and isolation', () => {
    it('when the operator creates a partner, then 201 with id, Location and ETag', async () => {
      const res = await t.request.post('/scim/v2/Accounts').set(auth(t.operatorToken)).set('Content-Type', scimJson).send({ schemas: [ACCOUNT], name: 'Partner One', type: 'partner' });
      expect(res.status).to.equal(201);
      expect(res.body.id).to.be.a('string');
      expect(res.body.parentId).to.equal(t.operatorAccountId);
      expect(res.headers.location).to.equal(res.body.meta.location);
      expect(res.headers.etag).to.equal(res.body.meta.version);
      expect(res.headers['content-type']).to.match(/application\/scim\+json/);
    });

    it('when a partner admin works, then it sees and creates only its own customers', async () => {
      const partner = await createAccountWithToken(t, { name: 'Partner A', type: 'partner' });
      const other = await createAccountWithToken(t, { name: 'Partner B', type: 'partner' });
      const mine = await t.request.post('/scim/v2/Accounts').set(auth(partner.token)).send({ schemas: [ACCOUNT], name: 'Customer of A', type: 'customer' });
      expect(mine.status).to.equal(201);
      expect(mine.body.parentId).to.equal(partner.accountId);
      const theirs = await t.request.post('/scim/v2/Accounts').set(auth(other.token)).send({ schemas: [ACCOUNT], name: 'Customer of B', type: 'customer' });

      const list = await t.request.get('/scim/v2/Accounts').set(auth(partner.token));
      const ids = list.body.Resources.map((r: { id: string }) => r.id);
      expect(ids).to.have.members([partner.accountId, mine.body.id]);
      expect(list.body.totalResults).to.equal(2);

      expect((await t.request.get(`/scim/v2/Accounts/${theirs.body.id}`).set(auth(partner.token))).status).to.equal(404);
      expect((await t.request.get(`/accounts/${theirs.body.id}/scim/v2/Tokens`).set(auth(partner.token))).status).to.equal(404);
      expect((await t.request.get(`/accounts/${mine.body.id}/scim/v2/Tokens`).set(auth(partner.token))).status).to.equal(200);

      const partnerOfPartner = await t.request.post('/scim/v2/Accounts').set(auth(partner.token)).send({ schemas: [ACCOUNT], name: 'Sneaky', type: 'partner' });
      expect(partnerOfPartner.status).to.be.oneOf([400, 403]);
      const underOther = await t.request.post('/scim/v2/Accounts').set(auth(partner.token)).send({ schemas: [ACCOUNT], name: 'Sneaky', type: 'customer', parentId: other.accountId });
      expect(underOther.status).to.equal(400);
    });

    it('when a customer token reaches for another customer, then it gets the 404 of a missing resource and changes nothing', async () => {
      const a = await createAccountWithToken(t, { name: 'Customer A', type: 'customer' });
      const b = await createAccountWithToken(t, { name: 'Customer B', type: 'customer' });
      const missing = await t.request.get('/accounts/00000000-0000-4000-8000-000000000000/scim/v2/Tokens').set(auth(a.token));
      const foreign = await t.request.get(`/accounts/${b.accountId}/scim/v2/Tokens`).set(auth(a.token));
      expect(foreign.status).to.equal(404);
      expect(missing.status).to.equal(404);
      expect(foreign.body.schemas).to.deep.equal([ERROR]);
      expect((await t.request.get(`/scim/v2/Accounts/${b.accountId}`).set(auth(a.token))).status).to.equal(404);
      const patch = await t.request
        .patch(`/scim/v2/Accounts/${b.accountId}`)
        .set(auth(a.token))
        .send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'name', value: 'Pwned' }] });
      expect(patch.status).to.equal(404);
      expect((await t.request.delete(`/scim/v2/Accounts/${b.accountId}`).set(auth(a.token))).status).to.equal(404);
      const tokens = await t.request.get(`/accounts/${b.accountId}/scim/v2/Tokens`).set(auth(t.operatorToken));
      const bToken = tokens.body.Resources[0].id;
      expect((await t.request.delete(`/scim/v2/Tokens/${bToken}`).set(auth(a.token))).status).to.equal(404);
      const row = await t.db.knex('accounts').where({ id: b.accountId }).first();
      expect(row.name).to.equal('Customer B');
      const tokenRow = await t.db.knex('tokens').where({ id: bToken }).first();
      expect(tokenRow.revoked_at).to.equal(null);
    });

    it('when an account is patched with a wrong If-Match, then 412 and nothing changes', async () => {
      const a = await createAccountWithToken(t, { name: 'Etag Co', type: 'customer' });
      const res = await t.request
        .patch(`/scim/v2/Accounts/${a.accountId}`)
        .set(auth(t.operatorToken))
        .set('If-Match', 'W/"99"')
        .send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'name', value: 'New' }] });
      expect(res.status).to.equal(412);
      const ok = await t.request
        .patch(`/scim/v2/Accounts/${a.accountId}`)
        .set(auth(t.operatorToken))
        .set('If-Match', 'W/"1"')
        .send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'name', value: 'New' }] });
      expect(ok.status).to.equal(200);
      expect(ok.body.name).to.equal('New');
      expect(ok.body.meta.version).to.equal('W/"2"');
    });

    it('when accounts are filtered, then the filter runs in SQL', async () => {
      await createAccountWithToken(t, { name: 'Filterable Partner', type: 'partner' });
      const res = await t.request.get('/scim/v2/Accounts').query({ filter: 'type eq "partner" and name sw "filterable"' }).set(auth(t.operatorToken));
      expect(res.status).to.equal(200);
      expect(res.body.Resources.map((r: { name: string }) => r.name)).to.deep.equal(['Filterable Partner']);
      const bad = await t.request.get('/scim/v2/Accounts').query({ filter: 'name eq' }).set(auth(t.operatorToken));
      expect(bad.status).to.equal(400);
      expect(bad.body.scimType).to.equal('invalidFilter');
    });
  });

  describe('request handling', () => {
    it('when the body is malformed JSON, then 400 invalidSyntax', async () => {
      const res = await t.request.post('/scim/v2/Accounts').set(auth(t.operatorToken)).set('Content-Type', scimJson).send('{"name": ');
      expect(res.status).to.equal(400);
      expect(res.body).to.include({ status: '400', scimType: 'invalidSyntax' });
    });

    it('when the body is over the limit, then 413 with a SCIM error', async () => {
      const res = await t.request.post('/scim/v2/Accounts').set(auth(t.operatorToken)).set('Content-Type', 'application/json').send({ schemas: [ACCOUNT], name: 'x'.repeat(70 * 1024), type: 'customer' });
      expect(res.status).to.equal(413);
      expect(res.body).to.include({ status: '413' });
      expect(res.body.schemas).to.deep.equal([ERROR]);
    });

    it('when a request comes in, then it carries a request id', async () => {
      const res = await t.request.get('/healthz').set('X-Request-Id', 'abc-123');
      expect(res.headers['x-request-id']).to.equal('abc-123');
      const other = await t.request.get('/healthz');
      expect(other.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    });

    it('when probes are called, then health, readiness and Prometheus metrics (to an operator token) answer', async () => {
      expect((await t.request.get('/healthz')).body).to.deep.equal({ status: 'ok' });
      const ready = await t.request.get('/readyz');
      expect(ready.status).to.equal(200);
      expect(ready.body.database).to.equal(testDatabaseKind);
      const metrics = await t.request.get('/metrics').set('Authorization', `Bearer ${t.operatorToken}`);
      expect(metrics.status).to.equal(200);
      expect(metrics.text).to.include('switchboard_http_request_duration_seconds');
    });
  });

  describe('bootstrap', () => {
    it('when no bootstrap token is configured, then one is generated, printed once and written 0600', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-boot-'));
      await t.db.knex('tokens').where({ role: 'operator' }).update({ revoked_at: new Date() });
      const printed: string[] = [];
      const result = await t.deps.tokens.bootstrap({ dataDir: dir, print: (l) => printed.push(l) });
      expect(result.created).to.equal(true);
      const file = path.join(dir, 'bootstrap-token');
      const secret = fs.readFileSync(file, 'utf8').trim();
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
      expect(printed.join('\n')).to.include(secret);
      const again = await t.deps.tokens.bootstrap({ dataDir: dir, print: (l) => printed.push(l) });
      expect(again.created).to.equal(false);
      expect(printed).to.have.length(1);
      const res = await t.request.get('/scim/v2/Accounts').set(auth(secret));
      expect(res.status).to.equal(200);
      await t.db.knex('tokens').where({ role: 'operator' }).update({ revoked_at: null });
    });
  });
});
