/**
 * The seed's password reset and re-registration rules, through the emails a real SMTP server receives and the
 * pages behind their links: "The Reset Password email is sent only to users who have registered their details";
 * "If SSO integration is applied to an account, the Reset Password function is deferred to the IDP"; "Deleting a
 * user synced from a PBX will only remove the CloudLink account of the user ... To add a CloudLink account to the
 * user again, the Account Admin must send a welcome email to the user."
 */
import { usersRepo } from '../../src/db/users-repo.js';
import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { MailWorker } from '../../src/services/mail/mail-worker.js';
import { createSmtpMailer, type Mailer } from '../../src/services/mail/mailer.js';
import { startSmtpTestServer, type SmtpTestServer } from '../support/smtp-test-server.js';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Tenant {
  accountId: string;
  token: string;
}

describe(`seed: password resets and re-registration through the emailed links (${testDatabaseKind})`, () => {
  let t: TestApp;
  let smtp: SmtpTestServer;
  let mailer: Mailer;
  let worker: MailWorker;

  before(async () => {
    t = await createTestApp({ PUBLIC_URL: 'http://switchboard.test' });
    smtp = await startSmtpTestServer();
    mailer = createSmtpMailer(smtp.url);
    worker = new MailWorker({ db: t.db.knex, mailer, clock: systemClock, logger: silentLogger, from: 'switchboard@example.test' });
  });
  after(async () => {
    await worker?.stop();
    await mailer?.close();
    await smtp?.stop();
    await t?.close();
  });

  const base = (accountId: string) => `/accounts/${accountId}/scim/v2`;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': scimJson });

  async function createUser(a: Tenant, userName: string): Promise<string> {
    const res = await t.request
      .post(`${base(a.accountId)}/Users`)
      .set(auth(a.token))
      .send({ schemas: [USER], userName, name: { givenName: 'Pat', familyName: userName.split('@')[0] }, emails: [{ value: userName, primary: true }] });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  }

  const runAction = (a: Tenant, type: string, ids: string[]) => t.request.post(`${base(a.accountId)}/Actions`).set(auth(a.token)).send({ schemas: [ACTION], type, targets: { ids } });

  /** Delivers the outbox over SMTP and answers the messages sent to `to` since `from` (an index into smtp.messages). */
  async function delivered(from: number, to: string): Promise<ParsedMail[]> {
    const queued = Number(((await t.db.knex('outbox').where({ status: 'pending' }).count({ n: '*' })) as { n: number | string }[])[0]!.n);
    await worker.drain();
    const all = await smtp.waitFor(from + queued);
    return all.slice(from).filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((a) => a?.text.includes(to)));
  }

  function linkIn(mail: ParsedMail, purpose: 'register' | 'reset'): string {
    const match = new RegExp(`http://switchboard\\.test(/${purpose}/[\\w-]+)`).exec(mail.text ?? '');
    expect(match, mail.text).to.not.equal(null);
    return match![1]!;
  }

  async function register(path: string): Promise<void> {
    const res = await t.request.post(path).type('form').send({ password: 'a long enough password' });
    expect(res.status, res.text).to.equal(200);
  }

  const registered = async (a: Tenant, id: string) => ((await t.request.get(`${base(a.accountId)}/Users/${id}`).set(auth(a.token))).body[EXT] as Json).registered as boolean;

  async function linkToPbx(accountId: string, userId: string): Promise<void> {
    const [source] = await t.db.knex('sources').insert({ account_id: accountId, name: `MiVB ${userId}`, kind: 'mivb' }).returning('id');
    await t.db.knex('user_source_links').insert({
      account_id: accountId, user_id: userId, source_id: (source as { id: string }).id, source_kind: 'mivb', anchor: `pbx-${userId}`,
      owned_attributes: [], attributes: JSON.stringify({}), raw: JSON.stringify({}),
    });
  }

  for (const origin of ['a PBX', 'an identity provider'] as const) {
    it(`when a registered user synced from ${origin} is deleted, then an earlier reset link answers 410, and only a new welcome email gives the platform account back`, async () => {
      const a = await createAccountWithToken(t, { name: `Relink ${origin}`, type: 'customer' });
      const email = `relink-${origin === 'a PBX' ? 'pbx' : 'idp'}@relink.test`;
      let id: string;
      if (origin === 'a PBX') {
        id = await createUser(a, email);
        await linkToPbx(a.accountId, id);
      } else {
        const idp = await t.request.post(`${base(a.accountId)}/Tokens`).set(auth(a.token)).send({ schemas: [TOKEN], role: 'provisioning' });
        id = await createUser({ accountId: a.accountId, token: idp.body.token as string }, email);
      }
      let mark = smtp.messages.length;
      const welcome = await runAction(a, 'sendWelcomeEmail', [id]);
      expect(welcome.status).to.equal(201);
      await register(linkIn((await delivered(mark, email)).at(-1)!, 'register'));
      expect(await registered(a, id)).to.equal(true);

      mark = smtp.messages.length;
      const reset = await runAction(a, 'resetPassword', [id]);
      expect(reset.body.results).to.deep.equal([{ userId: id, outcome: 'done' }]);
      const resetPath = linkIn((await delivered(mark, email)).find((m) => m.subject?.startsWith('Reset'))!, 'reset');

      const deleted = await runAction(a, 'deleteUsers', [id]);
      expect(deleted.body.results[0]).to.include({ outcome: 'done', value: 'unregistered' });
      // Still listed on the Users page, without a platform account.
      const listed = await t.request.get(`${base(a.accountId)}/Users`).query({ filter: `userName eq "${email}"` }).set(auth(a.token));
      expect(listed.body.totalResults).to.equal(1);
      expect(listed.body.Resources[0][EXT].registered).to.equal(false);

      const page = await t.request.get(resetPath);
      expect(page.status).to.equal(410);
      expect(page.text).to.contain('welcome email');
      const used = await t.request.post(resetPath).type('form').send({ password: 'sneaking back in' });
      expect(used.status).to.equal(410);
      expect(await registered(a, id)).to.equal(false);
      const again = await runAction(a, 'resetPassword', [id]);
      expect(again.body.results).to.deep.equal([{ userId: id, outcome: 'skipped', reason: 'not registered' }]);

      mark = smtp.messages.length;
      expect((await runAction(a, 'sendWelcomeEmail', [id])).body.results).to.deep.equal([{ userId: id, outcome: 'done' }]);
      await register(linkIn((await delivered(mark, email)).at(-1)!, 'register'));
      expect(await registered(a, id)).to.equal(true);
    });
  }

  it('when an account turns SSO on after a reset email was sent, then its link answers 410 and the password stays; new resets are deferred to the identity provider', async () => {
    const a = await createAccountWithToken(t, { name: 'Later SSO', type: 'customer' });
    const email = 'later-sso@sso.test';
    const id = await createUser(a, email);
    await t.db.knex('users').where({ account_id: a.accountId, id }).update({ registered: true }); // A registered user, short of the registration flow: its stored representation follows.
    await usersRepo.refreshResources(t.db.knex, a.accountId, [id]);
    const before = ((await t.db.knex('users').where({ account_id: a.accountId, id }).first('password_hash')) as { password_hash: string | null }).password_hash;
    const mark = smtp.messages.length;
    expect((await runAction(a, 'resetPassword', [id])).body.results).to.deep.equal([{ userId: id, outcome: 'done' }]);
    const resetPath = linkIn((await delivered(mark, email)).find((m) => m.subject?.startsWith('Reset'))!, 'reset');

    const sso = await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set(auth(a.token)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'settings.sso', value: true }] });
    expect(sso.status, JSON.stringify(sso.body)).to.equal(200);
    expect((await t.request.get(resetPath)).status).to.equal(410);
    const post = await t.request.post(resetPath).type('form').send({ password: 'a long enough password' });
    expect(post.status).to.equal(410);
    expect(post.text).to.contain('identity provider');
    const after = ((await t.db.knex('users').where({ account_id: a.accountId, id }).first('password_hash')) as { password_hash: string | null }).password_hash;
    expect(after).to.equal(before);
    expect((await runAction(a, 'resetPassword', [id])).body.results[0]).to.include({ outcome: 'deferred' });
  });
});
