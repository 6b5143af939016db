/**
 * Issue 13 item 8: per-token and per-client-address rate limits (rate-limiter-flexible), 429 with Retry-After and a
 * SCIM error body; RATE_LIMITS=off turns them off; the defaults never throttle an identity provider's cycle.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

describe(`hardening: rate limits (${testDatabaseKind})`, () => {
  describe('with small limits', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ RATE_LIMIT_TOKEN_RATE: '5', RATE_LIMIT_TOKEN_BURST: '10', RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '20', RATE_LIMIT_LINK_PAGES_PER_MINUTE: '10' });
    });
    after(async () => t?.close());

    it('when one token sends more than its burst, then 429 with Retry-After and a SCIM error, while another token is still served', async () => {
      const a = await createAccountWithToken(t, { name: 'Busy', type: 'customer', role: 'provisioning' });
      const b = await createAccountWithToken(t, { name: 'Quiet', type: 'customer', role: 'provisioning' });
      const statuses: number[] = [];
      let limited: { status: number; headers: Record<string, string>; body: Record<string, unknown> } | undefined;
      for (let i = 0; i < 12; i++) {
        const res = await t.request.get('/scim/v2/Users').set('Authorization', `Bearer ${a.token}`);
        statuses.push(res.status);
        if (res.status === 429) limited = res as unknown as typeof limited;
      }
      expect(statuses.slice(0, 10)).to.deep.equal(new Array(10).fill(200));
      expect(statuses.slice(10)).to.deep.equal([429, 429]);
      expect(Number(limited!.headers['retry-after'])).to.be.within(1, 2);
      expect(limited!.body.schemas).to.deep.equal([ERROR]);
      expect(limited!.body.status).to.equal('429');
      expect(String(limited!.body.detail)).to.match(/10 requests/);
      // Writes are refused too, and change nothing.
      const post = await t.request.post('/scim/v2/Users').set({ Authorization: `Bearer ${a.token}`, 'Content-Type': scimJson }).send({ schemas: [USER], userName: 'late@busy.test' });
      expect(post.status).to.equal(429);
      expect(await t.deps.db.knex('users').where({ account_id: a.accountId })).to.have.length(0);
      expect((await t.request.get('/scim/v2/Users').set('Authorization', `Bearer ${b.token}`)).status).to.equal(200);
      if (t.deps.db.kind === 'postgres') {
        // Counted in PostgreSQL, where every instance reads the same numbers.
        const rows = (await t.deps.db.knex('rate_limits').where('key', 'like', 'token-provisioning:%')) as { points: number }[];
        expect(rows.map((r) => r.points).sort((x, y) => y - x)[0]).to.be.at.least(10);
      }
    });

    it('when a bulk request carries more operations than the burst, then it counts once and every operation runs', async () => {
      const a = await createAccountWithToken(t, { name: 'Bulk', type: 'customer', role: 'provisioning' });
      const Operations = Array.from({ length: 15 }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `u${i}`, data: { schemas: [USER], userName: `bulk${i}@bulk.test` } }));
      const res = await t.request.post('/scim/v2/Bulk').set({ Authorization: `Bearer ${a.token}`, 'Content-Type': scimJson }).send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect((res.body.Operations as { status: string }[]).map((o) => o.status)).to.deep.equal(new Array(15).fill('201'));
    });

    it('when one address sends more than 20 bad tokens in a minute, then 429 instead of 401, and a good token from it still works', async () => {
      const good = await createAccountWithToken(t, { name: 'Good', type: 'customer' });
      const statuses: number[] = [];
      for (let i = 0; i < 22; i++) statuses.push((await t.request.get('/scim/v2/Users').set('Authorization', `Bearer sb_wrong_${i}`)).status);
      expect(statuses.slice(0, 20)).to.deep.equal(new Array(20).fill(401));
      expect(statuses.slice(20)).to.deep.equal([429, 429]);
      expect((await t.request.get('/scim/v2/Users').set('Authorization', `Bearer ${good.token}`)).status).to.equal(200);
    });

    it('when one address requests more than 10 registration or reset pages in a minute, then 429 with Retry-After', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await t.request.post(`/${i % 2 ? 'reset' : 'register'}/random-${i}`).type('form').send({ password: 'longenough' })).status);
      expect(statuses.slice(0, 10)).to.deep.equal(new Array(10).fill(410));
      const limited = await t.request.get('/register/another');
      expect(limited.status).to.equal(429);
      expect(Number(limited.headers['retry-after'])).to.be.greaterThan(0);
    });
  });

  it('when RATE_LIMITS=off, then neither tokens nor failed authentications are limited', async () => {
    const t = await createTestApp({ RATE_LIMITS: 'off', RATE_LIMIT_TOKEN_RATE: '1', RATE_LIMIT_TOKEN_BURST: '1', RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '1' });
    try {
      for (let i = 0; i < 5; i++) expect((await t.request.get('/scim/v2/Users').set('Authorization', `Bearer ${t.operatorToken}`)).status).to.equal(200);
      for (let i = 0; i < 5; i++) expect((await t.request.get('/scim/v2/Users').set('Authorization', 'Bearer sb_wrong')).status).to.equal(401);
    } finally {
      await t.close();
    }
  });

  it('when an identity provider sends 200 requests at once with the default limits (an Entra or Okta cycle), then none is throttled', async () => {
    const t = await createTestApp();
    try {
      const a = await createAccountWithToken(t, { name: 'Entra cycle', type: 'customer', role: 'provisioning' });
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => t.request.get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "u${i}@x.test"`)}`).set('Authorization', `Bearer ${a.token}`)));
      expect(replies.filter((r) => r.status !== 200)).to.have.length(0);
    } finally {
      await t.close();
    }
  });
});
