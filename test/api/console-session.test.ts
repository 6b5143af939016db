import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';
import { RegistrationService } from '../../src/services/registration-service.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const PASSWORD = 'correct horse battery';

/** Creates a user as the admin (the welcome email goes to the outbox) and registers it through the email's link. */
async function registeredUser(t: TestApp, accountId: string, token: string, email: string, admin: boolean): Promise<string> {
  const created = await t.request
    .post(`/accounts/${accountId}/scim/v2/Users`)
    .set('Authorization', `Bearer ${token}`)
    .send({ schemas: [USER], userName: email, ...formFields(email), [EXT]: { accountAdmin: admin } });
  expect(created.status, JSON.stringify(created.body)).to.equal(201);
  const id = created.body.id as string;
  const mail = (await t.db.knex('outbox').where({ account_id: accountId, user_id: id, kind: 'welcome' }).first('text_body')) as { text_body: string } | undefined;
  let link = mail ? /\/register\/([\w-]+)/.exec(mail.text_body)?.[1] : undefined;
  if (!link) {
    // Partners are never sent a welcome email: their link is made as the action would make it.
    const links = new RegistrationService(t.db.knex, t.clock);
    link = (await t.db.knex.transaction((trx) => links.createLink(trx, accountId, id, 'register'))).token;
  }
  const registered = await t.request.post(`/register/${link}`).type('form').send({ password: PASSWORD });
  expect(registered.status).to.equal(200);
  return id;
}

const cookieOf = (res: { headers: Record<string, unknown> }): string => {
  const set = ([] as string[]).concat((res.headers['set-cookie'] as string[] | string | undefined) ?? []);
  const line = set.find((c) => c.startsWith('sb_session='));
  if (!line) throw new Error('no session cookie');
  return line;
};

describe(`Console sessions (${testDatabaseKind})`, () => {
  let t: TestApp;
  let customer: { accountId: string; token: string };
  let partner: { accountId: string; token: string };
  let adminId: string;
  before(async () => {
    t = await createTestApp();
    partner = await createAccountWithToken(t, { name: 'Session Partner', type: 'partner' });
    customer = await createAccountWithToken(t, { name: 'Session Customer', type: 'customer', parentId: partner.accountId });
    adminId = await registeredUser(t, customer.accountId, customer.token, 'admin@session.test', true);
    await registeredUser(t, customer.accountId, customer.token, 'plain@session.test', false);
    await registeredUser(t, partner.accountId, partner.token, 'partner@session.test', false);
  });
  after(async () => t?.close());

  const signIn = (body: object) => t.request.post('/console/session').set('Content-Type', 'application/json').send(body);

  it('when an Account Admin signs in with the email and password set through the welcome email, then an HttpOnly SameSite=Strict cookie and a CSRF token open the SCIM API of the account', async () => {
    const res = await signIn({ email: 'ADMIN@session.test', password: PASSWORD });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({ accountId: customer.accountId, accountType: 'customer', role: 'account-admin', userId: adminId });
    const cookie = cookieOf(res);
    expect(cookie).to.match(/HttpOnly/).and.match(/SameSite=Strict/).and.match(/Path=\//).and.not.match(/Secure/);
    const pair = cookie.split(';')[0]!;
    const list = await t.request.get(`/accounts/${customer.accountId}/scim/v2/Users`).set('Cookie', pair).set('X-CSRF-Token', res.body.csrfToken as string);
    expect(list.status).to.equal(200);
    expect(list.body.totalResults).to.equal(2);
    // The direct path (canonical GET /Users) and express (PATCH) take the same session.
    const edit = await t.request
      .patch(`/accounts/${customer.accountId}/scim/v2/Users/${adminId}`)
      .set('Cookie', pair)
      .set('X-CSRF-Token', res.body.csrfToken as string)
      .send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Boss' }] });
    expect(edit.status).to.equal(200);
    expect(edit.body[EXT].modifiedBy).to.equal(`account-admin:${res.body.id as string}`);
  });

  it('when a request carries the session cookie without the CSRF header, or from another origin, then 403 and nothing changes', async () => {
    const res = await signIn({ email: 'admin@session.test', password: PASSWORD });
    const pair = cookieOf(res).split(';')[0]!;
    const bare = await t.request.get(`/accounts/${customer.accountId}/scim/v2/Users`).set('Cookie', pair);
    expect(bare.status).to.equal(403);
    expect(bare.body.detail).to.match(/X-CSRF-Token/);
    const write = await t.request.patch(`/accounts/${customer.accountId}/scim/v2/Users/${adminId}`).set('Cookie', pair).set('X-CSRF-Token', 'wrong').send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Hacked' }] });
    expect(write.status).to.equal(403);
    const foreign = await t.request.get(`/accounts/${customer.accountId}/scim/v2/Users`).set('Cookie', pair).set('X-CSRF-Token', res.body.csrfToken as string).set('Origin', 'https://evil.example');
    expect(foreign.status).to.equal(403);
    const user = await t.request.get(`/accounts/${customer.accountId}/scim/v2/Users/${adminId}`).set('Authorization', `Bearer ${customer.token}`);
    expect(user.body.title).to.equal('Boss');
  });

  it('when a user of a partner account signs in, then its session is a partner admin reaching its customers', async () => {
    const res = await signIn({ email: 'partner@session.test', password: PASSWORD });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ accountId: partner.accountId, accountType: 'partner', role: 'partner-admin' });
    const accounts = await t.request.get(`/accounts/${partner.accountId}/scim/v2/Accounts`).set('Cookie', cookieOf(res).split(';')[0]!).set('X-CSRF-Token', res.body.csrfToken as string);
    expect((accounts.body.Resources as { id: string }[]).map((a) => a.id)).to.include(customer.accountId);
  });

  it('when the email is unknown, the password wrong, or the user no Account Admin, then one and the same 401 that does not say which', async () => {
    const answers = await Promise.all([
      signIn({ email: 'nobody@session.test', password: PASSWORD }),
      signIn({ email: 'admin@session.test', password: 'wrong password' }),
      signIn({ email: 'plain@session.test', password: PASSWORD }),
    ]);
    for (const res of answers) {
      expect(res.status).to.equal(401);
      expect(res.headers['set-cookie']).to.equal(undefined);
    }
    expect(new Set(answers.map((r) => r.body.detail)).size).to.equal(1);
    expect(answers[0]!.body.detail).to.not.match(/exist|unknown|not found/i);
  });

  it('when an email fails to sign in again and again, then further attempts wait (429 with Retry-After, even with the right password), then succeed after the wait', async () => {
    await registeredUser(t, customer.accountId, customer.token, 'slow@session.test', true);
    for (let i = 0; i < 4; i++) expect((await signIn({ email: 'slow@session.test', password: `bad ${i} password` })).status).to.equal(401);
    const blocked = await signIn({ email: 'slow@session.test', password: PASSWORD });
    expect(blocked.status).to.equal(429);
    expect(Number(blocked.headers['retry-after'])).to.be.greaterThan(0);
    // An unknown email backs off the same way: the back-off does not tell either.
    for (let i = 0; i < 4; i++) await signIn({ email: 'ghost@session.test', password: `bad ${i} password` });
    expect((await signIn({ email: 'ghost@session.test', password: PASSWORD })).status).to.equal(429);
    t.clock.advance(2_000);
    expect((await signIn({ email: 'slow@session.test', password: PASSWORD })).status).to.equal(201);
  });

  it('when a session stays unused past the idle timeout, or lives past the absolute timeout, then it ends', async () => {
    const idle = await signIn({ email: 'admin@session.test', password: PASSWORD });
    const idlePair = cookieOf(idle).split(';')[0]!;
    const get = (pair: string, csrf: string) => t.request.get(`/accounts/${customer.accountId}/scim/v2/Users`).set('Cookie', pair).set('X-CSRF-Token', csrf);
    t.clock.advance(29 * 60_000);
    expect((await get(idlePair, idle.body.csrfToken as string)).status).to.equal(200);
    t.clock.advance(29 * 60_000);
    expect((await get(idlePair, idle.body.csrfToken as string)).status, 'used within 30 minutes: still open').to.equal(200);
    t.clock.advance(31 * 60_000);
    const ended = await get(idlePair, idle.body.csrfToken as string);
    expect(ended.status).to.equal(401);
    expect(ended.body.detail).to.match(/sign in again/);

    const busy = await signIn({ email: 'admin@session.test', password: PASSWORD });
    const busyPair = cookieOf(busy).split(';')[0]!;
    // Used every 20 minutes, it never idles out, but ends 12 hours after sign-in.
    for (let step = 1; step <= 36; step++) {
      t.clock.advance(20 * 60_000);
      const res = await get(busyPair, busy.body.csrfToken as string);
      expect(res.status, `after ${step * 20} minutes`).to.equal(step < 36 ? 200 : 401);
    }
  });

  it('when the admin signs out, then the cookie is cleared and the session no longer opens the API; losing the Account Admin role ends a session too', async () => {
    const res = await signIn({ email: 'admin@session.test', password: PASSWORD });
    const pair = cookieOf(res).split(';')[0]!;
    const csrf = res.body.csrfToken as string;
    expect((await t.request.delete('/console/session').set('Cookie', pair)).status, 'sign-out needs the CSRF token too').to.equal(403);
    const out = await t.request.delete('/console/session').set('Cookie', pair).set('X-CSRF-Token', csrf);
    expect(out.status).to.equal(204);
    expect(cookieOf(out)).to.match(/Max-Age=0/);
    expect((await t.request.get(`/accounts/${customer.accountId}/scim/v2/Users`).set('Cookie', pair).set('X-CSRF-Token', csrf)).status).to.equal(401);
    expect((await t.request.get('/console/session').set('Cookie', pair)).body).to.deep.equal({ signedIn: false });

    const again = await signIn({ email: 'admin@session.test', password: PASSWORD });
    const againPair = cookieOf(again).split(';')[0]!;
    await t.request
      .patch(`/accounts/${customer.accountId}/scim/v2/Users/${adminId}`)
      .set('Authorization', `Bearer ${customer.token}`)
      .send({ schemas: [PATCH], Operations: [{ op: 'replace', path: `${EXT}:accountAdmin`, value: false }] });
    expect((await t.request.get(`/accounts/${customer.accountId}/scim/v2/Users`).set('Cookie', againPair).set('X-CSRF-Token', again.body.csrfToken as string)).status).to.equal(401);
  });

  it('when sessions have ended a day ago, then the next sign-in purges them and the spent back-off counters', async () => {
    await signIn({ email: 'admin@session.test', password: PASSWORD });
    await signIn({ email: 'nobody-else@session.test', password: 'wrong password' });
    expect(Number((await t.db.knex('console_sessions').count({ n: '*' }))[0]!.n)).to.be.greaterThan(0);
    expect(Number((await t.db.knex('sign_in_failures').count({ n: '*' }))[0]!.n)).to.be.greaterThan(0);
    t.clock.advance(37 * 3600_000);
    const res = await signIn({ token: t.operatorToken });
    expect(res.status).to.equal(201);
    const left = (await t.db.knex('console_sessions').select('id')) as { id: string }[];
    expect(left.map((r) => r.id)).to.deep.equal([res.body.id]);
    expect(Number((await t.db.knex('sign_in_failures').count({ n: '*' }))[0]!.n)).to.equal(0);
  });

  it('when an operator signs in with a token, then the session acts as the operator; a provisioning token or a form post cannot sign in', async () => {
    const res = await signIn({ token: t.operatorToken });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ role: 'operator', accountType: 'operator' });
    const provisioning = await t.request.post(`/accounts/${customer.accountId}/scim/v2/Tokens`).set('Authorization', `Bearer ${customer.token}`).send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' });
    expect((await signIn({ token: provisioning.body.token as string })).status).to.equal(401);
    const form = await t.request.post('/console/session').type('form').send({ email: 'admin@session.test', password: PASSWORD });
    expect(form.status).to.equal(400);
  });
});
