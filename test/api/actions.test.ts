import { expect } from 'chai';
import { usersRepo } from '../../src/db/users-repo.js';
import type { Deps } from '../../src/deps.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { MailWorker } from '../../src/services/mail/mail-worker.js';
import { createSmtpMailer } from '../../src/services/mail/mailer.js';
import { startSmtpTestServer, type SmtpTestServer } from '../support/smtp-test-server.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';

describe('Actions: sendWelcomeEmail and resetPassword', () => {
  let t: TestApp;
  let deps: Deps;
  let smtp: SmtpTestServer;
  let worker: MailWorker;

  before(async () => {
    t = await createTestApp({ PUBLIC_URL: 'http://switchboard.test' });
    deps = t.deps;
    smtp = await startSmtpTestServer();
    worker = new MailWorker({ db: deps.db.knex, mailer: createSmtpMailer(smtp.url), clock: systemClock, logger: silentLogger, from: 'switchboard@example.test' });
  });
  after(async () => {
    await worker?.stop();
    await smtp?.stop();
    await t?.close();
  });

  /** A user with the New User form's fields; one without an email can only come from an identity provider (`token` of role provisioning). */
  async function createUser(accountId: string, token: string, userName: string, email?: string): Promise<string> {
    const res = await t.request
      .post(`/accounts/${accountId}/scim/v2/Users`)
      .set('Authorization', `Bearer ${token}`)
      .send({ schemas: [USER], userName, name: { givenName: userName, familyName: 'Test' }, ...(email ? { emails: [{ value: email, primary: true }] } : {}) });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  }

  const runAction = (accountId: string, token: string, body: Record<string, unknown>) =>
    t.request.post(`/accounts/${accountId}/scim/v2/Actions`).set('Authorization', `Bearer ${token}`).send({ schemas: [ACTION], ...body });

  it('when an admin creates a user, then a welcome email with a registration link is queued in the same transaction; pushes by an identity provider and partner users get none', async () => {
    const { accountId, token } = await createAccountWithToken(t, { name: 'Newco', type: 'customer' });
    const outbox = (userId: string) => deps.db.knex('outbox').where({ account_id: accountId, user_id: userId });
    const ada = await createUser(accountId, token, 'ada', 'ada@example.test');
    const [welcome] = await outbox(ada);
    expect(welcome).to.include({ kind: 'welcome', to_address: 'ada@example.test', subject: 'Welcome to Newco' });
    expect(welcome.text_body).to.match(/http:\/\/switchboard\.test\/register\/[\w-]+/);
    expect(await deps.db.knex('registration_links').where({ account_id: accountId, user_id: ada, purpose: 'register' })).to.have.length(1);

    // A create that fails (duplicate userName) leaves neither a user nor an email.
    const dup = await t.request.post(`/accounts/${accountId}/scim/v2/Users`).set('Authorization', `Bearer ${token}`).send({ schemas: [USER], userName: 'ADA', name: { givenName: 'Ada', familyName: 'Test' }, emails: [{ value: 'other@example.test' }] });
    expect(dup.status).to.equal(409);
    expect(await deps.db.knex('outbox').where({ account_id: accountId, to_address: 'other@example.test' })).to.have.length(0);

    const idp = await t.request.post(`/accounts/${accountId}/scim/v2/Tokens`).set('Authorization', `Bearer ${t.operatorToken}`).send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' });
    const pushed = await createUser(accountId, idp.body.token as string, 'pushed', 'pushed@example.test');
    expect(await outbox(pushed)).to.have.length(0);

    const partner = await createAccountWithToken(t, { name: 'Partnerco', type: 'partner' });
    const pat = await createUser(partner.accountId, partner.token, 'pat', 'pat@example.test');
    expect(await deps.db.knex('outbox').where({ account_id: partner.accountId, user_id: pat })).to.have.length(0);
  });

  it('when a user named G1 with the userName user1@contoso.com is welcomed, then the email greets "Hello G1,", not the userName', async () => {
    const { accountId, token } = await createAccountWithToken(t, { name: 'Contoso', type: 'customer' });
    const res = await t.request
      .post(`/accounts/${accountId}/scim/v2/Users`)
      .set('Authorization', `Bearer ${token}`)
      .send({ schemas: [USER], userName: 'user1@contoso.com', displayName: 'G1 Family', name: { givenName: 'G1', familyName: 'Family' }, emails: [{ value: 'user1@contoso.com', primary: true }] });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const [welcome] = await deps.db.knex('outbox').where({ account_id: accountId, user_id: res.body.id as string });
    expect(welcome.text_body).to.match(/^Hello G1,\n/);
    expect(welcome.html_body).to.contain('<p>Hello G1,</p>');
  });

  it('sends a welcome email whose link registers the user once', async () => {
    const { accountId, token } = await createAccountWithToken(t, { name: 'Acme', type: 'customer' });
    const alice = await createUser(accountId, token, 'alice', 'alice@example.test');
    // An admin cannot add a user without an email (the New User form); an identity provider can.
    const idp = await t.request.post(`/accounts/${accountId}/scim/v2/Tokens`).set('Authorization', `Bearer ${token}`).send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' });
    const noMail = await createUser(accountId, idp.body.token as string, 'nomail');
    const other = await createAccountWithToken(t, { name: 'Other', type: 'customer' });
    const stranger = await createUser(other.accountId, other.token, 'stranger', 'stranger@example.test');

    const res = await runAction(accountId, token, { type: 'sendWelcomeEmail', targets: { ids: [alice, noMail, stranger] } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.status).to.equal('completed');
    expect(res.body.summary).to.include({ targeted: 3, succeeded: 1, skipped: 0, failed: 2 });
    const byUser = Object.fromEntries((res.body.results as { userId: string }[]).map((r) => [r.userId, r]));
    expect(byUser[alice]).to.include({ outcome: 'done' });
    expect(byUser[noMail]).to.include({ outcome: 'failed', reason: 'no email address' });
    expect(byUser[stranger]).to.include({ outcome: 'failed', reason: 'not found' });

    const got = await t.request.get(`/accounts/${accountId}/scim/v2/Actions/${res.body.id}`).set('Authorization', `Bearer ${token}`);
    expect(got.status).to.equal(200);
    expect(got.body.summary).to.deep.equal(res.body.summary);

    const queued = Number(((await deps.db.knex('outbox').count({ n: '*' })) as { n: number | string }[])[0].n);
    await worker.drain();
    // Alice's first welcome email was sent when she was created; the action's is the last one to her.
    const mails = (await smtp.waitFor(queued)).filter((m) => m.subject === 'Welcome to Acme');
    expect(mails).to.have.length(2);
    const mail = mails[mails.length - 1];
    const match = /http:\/\/switchboard\.test(\/register\/[\w-]+)/.exec(mail.text ?? '');
    expect(match, mail.text).to.not.equal(null);
    const path = match![1];

    const form = await t.request.get(path);
    expect(form.status).to.equal(200);
    expect(form.text).to.contain('<form');
    const before = await t.request.get(`/accounts/${accountId}/scim/v2/Users/${alice}`).set('Authorization', `Bearer ${token}`);
    expect(before.body[EXT]?.registered ?? false).to.equal(false);

    const post = await t.request.post(path).type('form').send({ password: 'correct horse battery' });
    expect(post.status, post.text).to.equal(200);
    const after = await t.request.get(`/accounts/${accountId}/scim/v2/Users/${alice}`).set('Authorization', `Bearer ${token}`);
    expect(after.body[EXT].registered).to.equal(true);

    const again = await t.request.post(path).send({ password: 'another password' });
    expect(again.status).to.equal(410);
    expect(again.text).to.contain('already been used');
    expect((await t.request.get(path)).status).to.equal(410);
  });

  it('resetPassword skips unregistered users, emails registered ones, and defers on SSO accounts', async () => {
    const { accountId, token } = await createAccountWithToken(t, { name: 'Resetco', type: 'customer' });
    const reg = await createUser(accountId, token, 'reg', 'reg@example.test');
    const unreg = await createUser(accountId, token, 'unreg', 'unreg@example.test');
    await deps.db.knex('users').where({ account_id: accountId, id: reg }).update({ registered: true }); // A registered user, short of the registration flow: its stored representation follows.
    await usersRepo.refreshResources(deps.db.knex, accountId, [reg]);
    const sent = smtp.messages.length;

    const res = await runAction(accountId, token, { type: 'resetPassword', targets: { filter: 'userName sw "reg" or userName eq "unreg"' } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const byUser = Object.fromEntries((res.body.results as { userId: string }[]).map((r) => [r.userId, r]));
    expect(byUser[reg]).to.include({ outcome: 'done' });
    expect(byUser[unreg]).to.include({ outcome: 'skipped', reason: 'not registered' });
    await worker.drain();
    // The users' own welcome emails (sent when they were created) may arrive in the same drain.
    const mails = await smtp.waitFor(sent + 1);
    const resets = mails.slice(sent).filter((m) => m.subject?.startsWith('Reset'));
    expect(resets.map((m) => m.subject)).to.deep.equal(['Reset your Resetco password']);
    expect(resets[0].text).to.match(/http:\/\/switchboard\.test\/reset\/[\w-]+/);

    const sso = await createAccountWithToken(t, { name: 'SSO co', type: 'customer' });
    const ssoUser = await createUser(sso.accountId, sso.token, 'ssouser', 'sso@example.test');
    await deps.db.knex('accounts').where({ id: sso.accountId }).update({ settings: JSON.stringify({ sso: true }) });
    const deferred = await runAction(sso.accountId, sso.token, { type: 'resetPassword', targets: { all: true } });
    expect(deferred.status, JSON.stringify(deferred.body)).to.equal(201);
    expect(deferred.body.results).to.deep.equal([{ userId: ssoUser, outcome: 'deferred', reason: 'password reset is handled by the identity provider' }]);
    const [{ n }] = (await deps.db.knex('outbox').where({ account_id: sso.accountId, kind: 'password_reset' }).count({ n: '*' })) as { n: number | string }[];
    expect(Number(n)).to.equal(0);
  });
});
