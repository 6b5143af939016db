import { expect } from 'chai';
import { usersRepo } from '../../src/db/users-repo.js';
import type { Deps } from '../../src/deps.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { MailWorker } from '../../src/services/mail/mail-worker.js';
import { createSmtpMailer, type Mailer } from '../../src/services/mail/mailer.js';
import { startSmtpTestServer, type SmtpTestServer } from '../support/smtp-test-server.js';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';

const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const OIG_REASON = 'voicemail user while OIG is in the deployment cluster';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('Actions: MiVB deployment emails, licences, SMS numbers, deletion, audit, background runs', () => {
  let t: TestApp;
  let deps: Deps;
  let smtp: SmtpTestServer;
  let mailer: Mailer;
  let worker: MailWorker;

  before(async () => {
    t = await createTestApp({ PUBLIC_URL: 'http://switchboard.test' });
    deps = t.deps;
    smtp = await startSmtpTestServer();
    mailer = createSmtpMailer(smtp.url);
    worker = new MailWorker({ db: deps.db.knex, mailer, clock: systemClock, logger: silentLogger, from: 'switchboard@example.test' });
  });
  after(async () => {
    await worker?.stop();
    await mailer?.close();
    await smtp?.stop();
    await t?.close();
  });

  const knex = () => deps.db.knex;
  const base = (accountId: string) => `/accounts/${accountId}/scim/v2`;

  async function account(name: string, settings: Json = {}, subscriptions?: Json[], type: 'customer' | 'partner' = 'customer') {
    const created = await createAccountWithToken(t, { name, type });
    if (Object.keys(settings).length > 0 || subscriptions) {
      const res = await t.request
        .patch(`/scim/v2/Accounts/${created.accountId}`)
        .set('Authorization', `Bearer ${t.operatorToken}`)
        .set('Content-Type', scimJson)
        .send({ schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { settings, ...(subscriptions ? { subscriptions } : {}) } }] });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    }
    return created;
  }

  /** Twilio settings go in by SQL: PATCH /Accounts refuses settings.twilio.smsPool (scimmy coercion of the patched array). */
  async function setTwilio(accountId: string, twilio: Json): Promise<void> {
    const row = (await knex()('accounts').where({ id: accountId }).first('settings')) as { settings: Json };
    await knex()('accounts').where({ id: accountId }).update({ settings: JSON.stringify({ ...row.settings, twilio }) });
  }

  async function createUser(a: { accountId: string; token: string }, userName: string, ext: Json = {}, email: string | null = `${userName}@example.test`): Promise<string> {
    const res = await t.request
      .post(`${base(a.accountId)}/Users`)
      .set('Authorization', `Bearer ${a.token}`)
      .send({
        schemas: [USER, EXT], userName, name: { givenName: userName, familyName: 'Test' },
        ...(email ? { emails: [{ value: email, primary: true }] } : {}), ...(Object.keys(ext).length ? { [EXT]: ext } : {}),
      });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  }

  const runAction = (a: { accountId: string; token: string }, body: Json) =>
    t.request.post(`${base(a.accountId)}/Actions`).set('Authorization', `Bearer ${a.token}`).send({ schemas: [ACTION], ...body });

  const getUser = (a: { accountId: string; token: string }, id: string) => t.request.get(`${base(a.accountId)}/Users/${id}`).set('Authorization', `Bearer ${a.token}`);

  const byUser = (body: Json): Record<string, Json> => Object.fromEntries((body.results as Json[]).map((r) => [r.userId, r]));

  async function outbox(accountId: string, actionId: string): Promise<Json[]> {
    return knex()('outbox').where({ account_id: accountId, action_id: actionId }).orderBy(['created_at', 'kind']);
  }

  async function licensesIn(accountId: string): Promise<Record<string, string[]>> {
    const rows = (await knex()('users').where({ account_id: accountId }).select('user_name', 'data')) as { user_name: string; data: Json }[];
    return Object.fromEntries(rows.map((r) => [r.user_name, (r.data[EXT]?.licenses as string[] | undefined) ?? []]));
  }

  async function linkToSource(accountId: string, userId: string, kind: 'micloud' | 'mivb', raw: Json = {}): Promise<void> {
    const [source] = await knex()('sources').insert({ account_id: accountId, name: `${kind} ${userId}`, kind }).returning('id');
    await knex()('user_source_links').insert({
      account_id: accountId, user_id: userId, source_id: (source as { id: string }).id, source_kind: kind, anchor: `anchor-${userId}`,
      owned_attributes: [], attributes: JSON.stringify({}), raw: JSON.stringify(raw),
    });
  }

  describe('sendMivbDeploymentEmails', () => {
    it('when users have the MiVB service, then each gets a details and a credentials email in the outbox, and an OIG voicemail user is skipped', async () => {
      const a = await account('Phoneco', { mivb: true, miCollab: true, oigInCluster: true });
      const dana = await createUser(a, 'dana', { mivbService: true, extensions: ['1001', '1002'], username: 'dana.mivb' });
      const vic = await createUser(a, 'vic', { mivbService: true, voicemail: true, extensions: ['1003'] });
      const none = await createUser(a, 'none', { extensions: ['1004'] });
      await linkToSource(a.accountId, dana, 'mivb', { device: { type: '6930', macAddress: '00:08:5D:00:00:01' } });

      const res = await runAction(a, { type: 'sendMivbDeploymentEmails', targets: { ids: [dana, vic, none] }, params: { userPortalUrl: 'https://mivb.phoneco.test/portal', miCollabServer: 'micollab.phoneco.test' } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.status).to.equal('completed');
      expect(res.body.summary).to.include({ targeted: 3, processed: 3, succeeded: 1, skipped: 2, failed: 0 });
      const results = byUser(res.body);
      expect(results[dana]).to.deep.equal({ userId: dana, outcome: 'done' });
      expect(results[vic]).to.deep.equal({ userId: vic, outcome: 'skipped', reason: OIG_REASON });
      expect(results[none]).to.include({ outcome: 'skipped' });

      const rows = await outbox(a.accountId, res.body.id);
      expect(rows.map((r) => [r.kind, r.to_address, r.user_id])).to.have.deep.members([
        ['mivb_deployment_details', 'dana@example.test', dana],
        ['mivb_deployment_credentials', 'dana@example.test', dana],
      ]);
      const before = smtp.messages.length;
      await worker.drain();
      const mails = (await smtp.waitFor(before + 2)).slice(before);
      const details = mails.find((m) => /details/.test(m.subject ?? ''))!;
      const credentials = mails.find((m) => /credentials/.test(m.subject ?? ''))!;
      expect(details.subject).to.equal('Your Phoneco phone service details');
      expect(details.text).to.contain('User Portal').and.contain('https://mivb.phoneco.test/portal').and.contain('dana.mivb');
      expect(details.text).to.contain('Extensions: 1001, 1002').and.contain('Device: 6930').and.contain('00:08:5D:00:00:01');
      expect(details.text).to.contain('MiCollab client').and.contain('micollab.phoneco.test');
      expect(details.text).to.not.match(/PIN:/);
      expect(credentials.subject).to.equal('Your Phoneco phone service credentials');
      expect(credentials.text).to.match(/User Portal password: \S{16}/).and.match(/MiCollab password: \S{16}/).and.match(/Phone PIN: \d{6}/);
      // The passwords live in the mailbox only: the delivered credentials email keeps no body in the outbox.
      const [sent] = (await outbox(a.accountId, res.body.id)).filter((r) => r.kind === 'mivb_deployment_credentials');
      expect(sent!.status).to.equal('sent');
      expect(sent!.text_body).to.not.contain('PIN: ');
    });

    it('when targets are all, then only users with the MiVB service are targeted, and without MiCollab there is no MiCollab section', async () => {
      const a = await account('Plainphone', { mivb: true });
      const eve = await createUser(a, 'eve', { mivbService: true, voicemail: true, extensions: ['2001'] });
      await createUser(a, 'nomivb');
      const res = await runAction(a, { type: 'sendMivbDeploymentEmails', targets: { all: true } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      // OIG is not in the cluster: a voicemail user gets the emails.
      expect(res.body.results).to.deep.equal([{ userId: eve, outcome: 'done' }]);
      const rows = await outbox(a.accountId, res.body.id);
      expect(rows).to.have.length(2);
      const detailsRow = rows.find((r) => r.kind === 'mivb_deployment_details')!;
      expect(detailsRow.text_body).to.contain('Extension: 2001').and.not.contain('MiCollab');
      const credentialsRow = rows.find((r) => r.kind === 'mivb_deployment_credentials')!;
      expect(credentialsRow.text_body).to.match(/Phone PIN: \d{6}/).and.not.contain('MiCollab password');
    });

    it('when the account has no MiVB integration, then 400 and nothing is queued', async () => {
      const a = await account('Nophone');
      const u = await createUser(a, 'u', { mivbService: true });
      const res = await runAction(a, { type: 'sendMivbDeploymentEmails', targets: { ids: [u] } });
      expect(res.status).to.equal(400);
      expect(res.body.scimType).to.equal('invalidValue');
      expect(res.body.detail).to.contain('MiVoice Business');
      expect(await knex()('outbox').where({ account_id: a.accountId }).whereLike('kind', 'mivb%')).to.have.length(0);
    });
  });

  describe('assignLicense / unassignLicense', () => {
    const MTM = 'MiTeam Meetings';
    const okSettings = { miTeamMeetings: true, miCollab: false };

    it('when the seats suffice, then selected users are licensed, already licensed ones skipped, and every change is audited', async () => {
      const a = await account('Meetco', okSettings, [{ product: MTM, seats: 2 }]);
      const ann = await createUser(a, 'ann');
      const bob = await createUser(a, 'bob');
      const res = await runAction(a, { type: 'assignLicense', targets: { ids: [ann, bob] }, params: { product: MTM } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.summary).to.include({ targeted: 2, succeeded: 2 });
      expect((await getUser(a, ann)).body[EXT].licenses).to.deep.equal([MTM]);
      const audit = await knex()('audit_log').where({ account_id: a.accountId, target_id: bob, action: 'user.update' });
      expect(audit).to.have.length(1);
      expect(audit[0].actor).to.equal(res.body.createdBy);

      const again = await runAction(a, { type: 'assignLicense', targets: { ids: [ann] }, params: { product: MTM } });
      expect(again.status).to.equal(201);
      expect(again.body.results).to.deep.equal([{ userId: ann, outcome: 'skipped', reason: `already licensed for ${MTM}` }]);

      const off = await runAction(a, { type: 'unassignLicense', targets: { all: true }, params: { product: MTM } });
      expect(off.status, JSON.stringify(off.body)).to.equal(201);
      expect(off.body.summary).to.include({ targeted: 2, succeeded: 2 });
      expect(await licensesIn(a.accountId)).to.deep.equal({ ann: [], bob: [] });
    });

    it('when more users are selected than seats are left, then 400 with the count available and nothing is assigned', async () => {
      const a = await account('Fewseats', okSettings, [{ product: MTM, seats: 3 }]);
      const ids = [await createUser(a, 'u1'), await createUser(a, 'u2'), await createUser(a, 'u3'), await createUser(a, 'u4')];
      const first = await runAction(a, { type: 'assignLicense', targets: { ids: [ids[0]] }, params: { product: MTM } });
      expect(first.status).to.equal(201);

      const res = await runAction(a, { type: 'assignLicense', targets: { all: true }, params: { product: MTM } });
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.scimType).to.equal('invalidValue');
      expect(res.body.detail).to.contain('2 of 3 available').and.contain('3 selected users need one');
      expect(await licensesIn(a.accountId)).to.deep.equal({ u1: [MTM], u2: [], u3: [], u4: [] });
      const refused = await knex()('audit_log').where({ account_id: a.accountId, action: 'action.assignLicense.refused' });
      expect(refused).to.have.length(1);
      const listed = await t.request.get(`${base(a.accountId)}/Actions`).set('Authorization', `Bearer ${a.token}`);
      expect(listed.body.totalResults).to.equal(1);
    });

    for (const [label, settings, subscriptions, type, reason] of [
      ['MiCollab is on', { miTeamMeetings: true, miCollab: true }, [{ product: MTM, seats: 5 }], 'customer', 'MiCollab'],
      ['MiTeam Meetings is off', { miTeamMeetings: false }, [{ product: MTM, seats: 5 }], 'customer', 'MiTeam Meetings integration'],
      ['there is no subscription', okSettings, [], 'customer', 'no MiTeam Meetings subscription'],
      ['the account is a partner', okSettings, undefined, 'partner', 'partner'],
    ] as const) {
      it(`when ${label}, then assign and unassign are refused as a whole with the reason`, async () => {
        const a = await account(`Rules ${label}`, settings, subscriptions as Json[] | undefined, type);
        const u = await createUser(a, 'someone');
        for (const action of ['assignLicense', 'unassignLicense']) {
          const res = await runAction(a, { type: action, targets: { all: true }, params: { product: MTM } });
          expect(res.status, JSON.stringify(res.body)).to.equal(400);
          expect(res.body.scimType).to.equal('invalidValue');
          expect(res.body.detail).to.contain(reason);
        }
        expect((await getUser(a, u)).body[EXT]?.licenses).to.equal(undefined);
      });
    }
  });

  describe('assignSmsNumbers / unassignSmsNumbers', () => {
    const pool = ['+14155550101', '+14155550102', '+14155550103'];

    it('when Twilio or its User Numbers option is off, then 400', async () => {
      for (const twilio of [{ enabled: false, userNumbers: true, smsPool: pool }, { enabled: true, userNumbers: false, smsPool: pool }]) {
        const a = await account(`Twilio ${JSON.stringify(twilio)}`);
        await setTwilio(a.accountId, twilio);
        const u = await createUser(a, 'u');
        const res = await runAction(a, { type: 'assignSmsNumbers', targets: { ids: [u] } });
        expect(res.status).to.equal(400);
        expect(res.body.detail).to.contain('Twilio').and.contain('User Numbers');
      }
    });

    it('when enough numbers are free, then selected users get distinct free numbers; when not, then 400 with how many are free and nothing changes', async () => {
      const a = await account('Smsco');
      await setTwilio(a.accountId, { enabled: true, userNumbers: true, smsPool: pool });
      const holder = await createUser(a, 'holder', { smsNumber: pool[0] });
      const [x, y, z] = [await createUser(a, 'x'), await createUser(a, 'y'), await createUser(a, 'z')];

      const tooMany = await runAction(a, { type: 'assignSmsNumbers', targets: { ids: [x, y, z] } });
      expect(tooMany.status, JSON.stringify(tooMany.body)).to.equal(400);
      expect(tooMany.body.detail).to.contain('2 free').and.contain('3 selected users need one');
      const numbers = async () => Object.fromEntries(((await knex()('users').where({ account_id: a.accountId }).select('user_name', 'sms_number')) as Json[]).map((r) => [r.user_name, r.sms_number]));
      expect(await numbers()).to.deep.equal({ holder: pool[0], x: null, y: null, z: null });

      const res = await runAction(a, { type: 'assignSmsNumbers', targets: { ids: [x, y, holder] } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const results = byUser(res.body);
      expect(results[holder]).to.include({ outcome: 'skipped', value: pool[0] });
      expect([results[x]!.value, results[y]!.value].sort()).to.deep.equal([pool[1], pool[2]]);
      expect(await numbers()).to.deep.equal({ holder: pool[0], x: results[x]!.value, y: results[y]!.value, z: null });
      expect((await getUser(a, x)).body[EXT].smsNumber).to.equal(results[x]!.value);

      const off = await runAction(a, { type: 'unassignSmsNumbers', targets: { ids: [x, z] } });
      expect(off.status).to.equal(201);
      expect(byUser(off.body)[z]).to.include({ outcome: 'skipped', reason: 'has no SMS number' });
      expect(await numbers()).to.deep.equal({ holder: pool[0], x: null, y: results[y]!.value, z: null });
    });

    it('when targets are all, then 400: SMS numbers go to selected users', async () => {
      const a = await account('Smsall');
      await setTwilio(a.accountId, { enabled: true, userNumbers: true, smsPool: pool });
      const res = await runAction(a, { type: 'assignSmsNumbers', targets: { all: true } });
      expect(res.status).to.equal(400);
    });
  });

  describe('deleteUsers', () => {
    it('when users are local, PBX- or IdP-synced, or from MiCloud, then local ones are deleted, synced ones lose only their platform account, MiCloud ones fail', async () => {
      const a = await account('Delco');
      const local = await createUser(a, 'local');
      const provisioning = await t.request
        .post(`${base(a.accountId)}/Tokens`)
        .set('Authorization', `Bearer ${a.token}`)
        .send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' });
      expect(provisioning.status).to.equal(201);
      const idp = await createUser({ accountId: a.accountId, token: provisioning.body.token as string }, 'idp');
      await knex()('users').where({ account_id: a.accountId, id: idp }).update({ registered: true }); // A registered user, short of the registration flow: its stored representation follows.
    await usersRepo.refreshResources(knex(), a.accountId, [idp]);
      const pbx = await createUser(a, 'pbx');
      await linkToSource(a.accountId, pbx, 'mivb');
      const cloud = await createUser(a, 'cloud');
      await linkToSource(a.accountId, cloud, 'micloud');

      const res = await runAction(a, { type: 'deleteUsers', targets: { ids: [local, idp, pbx, cloud] } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const results = byUser(res.body);
      expect(results[local]).to.deep.equal({ userId: local, outcome: 'done', value: 'deleted' });
      for (const id of [idp, pbx]) {
        expect(results[id]).to.include({ outcome: 'done', value: 'unregistered' });
        expect(results[id]!.reason).to.contain('only the platform account was removed');
      }
      expect(results[cloud]).to.deep.equal({ userId: cloud, outcome: 'failed', reason: 'A user synced from MiCloud Connect cannot be deleted here' });
      expect((await getUser(a, local)).status).to.equal(404);
      const idpAfter = await getUser(a, idp);
      expect(idpAfter.status).to.equal(200);
      expect(idpAfter.body[EXT].registered).to.equal(false);
      expect((await getUser(a, cloud)).status).to.equal(200);
      const audit = (await knex()('audit_log').where({ account_id: a.accountId }).whereIn('target_id', [local, idp, pbx]).select('action', 'target_id', 'actor')) as Json[];
      expect(audit.filter((e) => e.action === 'user.delete' || e.action === 'user.unregister').map((e) => [e.target_id, e.action, e.actor])).to.have.deep.members([
        [local, 'user.delete', res.body.createdBy],
        [idp, 'user.unregister', res.body.createdBy],
        [pbx, 'user.unregister', res.body.createdBy],
      ]);
    });

    it('when the account is a partner, then its users (Mitel Partners) are not deleted', async () => {
      const p = await account('Partnerco', {}, undefined, 'partner');
      const u = await createUser(p, 'partneruser');
      const res = await runAction(p, { type: 'deleteUsers', targets: { ids: [u] } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.results).to.deep.equal([{ userId: u, outcome: 'failed', reason: 'A Mitel Partner cannot be deleted' }]);
      expect((await getUser(p, u)).status).to.equal(200);
      // The same rule through SCIM DELETE: 409 with the reason, and the user stays.
      const del = await t.request.delete(`/accounts/${p.accountId}/scim/v2/Users/${u}`).set('Authorization', `Bearer ${p.token}`);
      expect(del.status).to.equal(409);
      expect(del.body).to.include({ status: '409', detail: 'A Mitel Partner cannot be deleted' });
      expect((await getUser(p, u)).status).to.equal(200);
    });

    it('when targets are not selected ids, then 400 and nobody is deleted', async () => {
      const a = await account('Delall');
      await createUser(a, 'keep');
      for (const targets of [{ all: true }, { filter: 'userName eq "keep"' }]) {
        const res = await runAction(a, { type: 'deleteUsers', targets });
        expect(res.status).to.equal(400);
      }
      expect(await knex()('users').where({ account_id: a.accountId })).to.have.length(1);
    });
  });

  describe('audit, listing and discovery', () => {
    it('when actions run, then each records who and when, is in the audit log, and GET /Actions filters by type', async () => {
      const a = await account('Listco');
      const u = await createUser(a, 'lister');
      const tokenRow = (await knex()('tokens').where({ account_id: a.accountId, role: 'account-admin' }).first('id')) as { id: string };
      const welcome = await runAction(a, { type: 'sendWelcomeEmail', targets: { ids: [u] } });
      t.clock.advance(1000);
      const reset = await runAction(a, { type: 'resetPassword', targets: { all: true } });
      expect(welcome.status).to.equal(201);
      expect(reset.status).to.equal(201);
      expect(welcome.body.createdBy).to.equal(`account-admin:${tokenRow.id}`);
      expect(welcome.body.created).to.equal(welcome.body.meta.created);
      expect(welcome.body.completed).to.be.a('string');

      const audit = (await knex()('audit_log').where({ account_id: a.accountId, target_id: welcome.body.id }).orderBy('id')) as Json[];
      expect(audit.map((e) => e.action)).to.deep.equal(['action.sendWelcomeEmail', 'action.sendWelcomeEmail.completed']);
      expect(audit[0]!.actor).to.equal(welcome.body.createdBy);
      expect(audit[0]!.details).to.deep.include({ targets: { ids: [u] }, targeted: 1 });
      expect(new Date(audit[0]!.at).toISOString()).to.equal(welcome.body.created);

      const list = (filter?: string) =>
        t.request.get(`${base(a.accountId)}/Actions`).query(filter ? { filter } : {}).set('Authorization', `Bearer ${a.token}`);
      const all = await list();
      expect(all.status).to.equal(200);
      expect(all.body.totalResults).to.equal(2);
      expect(all.body.Resources.map((r: Json) => r.type)).to.deep.equal(['resetPassword', 'sendWelcomeEmail']);
      expect(all.body.Resources[0].results).to.equal(undefined);
      const welcomes = await list('type eq "sendWelcomeEmail"');
      expect(welcomes.status, JSON.stringify(welcomes.body)).to.equal(200);
      expect(welcomes.body.totalResults).to.equal(1);
      expect(welcomes.body.Resources[0].id).to.equal(welcome.body.id);
      expect((await list('summary.skipped gt 0')).body.Resources.map((r: Json) => r.id)).to.deep.equal([reset.body.id]);
      expect((await list(`createdBy eq "account-admin:${tokenRow.id}" and status eq "completed"`)).body.totalResults).to.equal(2);
      const bad = await list('nosuch eq "x"');
      expect(bad.status).to.equal(400);
      expect(bad.body.scimType).to.equal('invalidFilter');

      const other = await account('Otherlist');
      const foreign = await t.request.get(`${base(other.accountId)}/Actions/${welcome.body.id}`).set('Authorization', `Bearer ${other.token}`);
      expect(foreign.status).to.equal(404);
    });

    it('when discovery is asked, then the Action resource type and schema are listed', async () => {
      const types = await t.request.get('/scim/v2/ResourceTypes').set('Authorization', `Bearer ${t.operatorToken}`);
      expect(types.status).to.equal(200);
      const action = (types.body.Resources as Json[]).find((r) => r.id === 'Action');
      expect(action).to.include({ name: 'Action', endpoint: '/Actions', schema: ACTION });
      const schema = await t.request.get(`/scim/v2/Schemas/${ACTION}`).set('Authorization', `Bearer ${t.operatorToken}`);
      expect(schema.status).to.equal(200);
      expect((schema.body.attributes as Json[]).map((x) => x.name)).to.include.members(['type', 'targets', 'status', 'summary', 'results', 'createdBy', 'created']);
    });
  });

  describe('background runs', () => {
    it('when the server starts and an action was left running by a stopped process, then it is marked failed with the reason', async () => {
      const a = await account('Crashco');
      const longAgo = new Date(t.clock.now().getTime() - 3600_000);
      const [stale] = await knex()('actions')
        .insert({ account_id: a.accountId, type: 'sendWelcomeEmail', status: 'running', targets: JSON.stringify({ all: true }), created_by: 'x', created_at: longAgo, updated_at: longAgo })
        .returning('id');
      const [fresh] = await knex()('actions')
        .insert({ account_id: a.accountId, type: 'sendWelcomeEmail', status: 'running', targets: JSON.stringify({ all: true }), created_by: 'x', created_at: t.clock.now(), updated_at: t.clock.now() })
        .returning('id');
      await deps.workers.find((w) => w.name === 'actions')!.start();
      const get = (id: string) => t.request.get(`${base(a.accountId)}/Actions/${id}`).set('Authorization', `Bearer ${a.token}`);
      const failed = await get((stale as { id: string }).id);
      expect(failed.body.status).to.equal('failed');
      expect(failed.body.error).to.contain('Interrupted');
      expect((await get((fresh as { id: string }).id)).body.status).to.equal('running');
      await knex()('actions').where({ account_id: a.accountId }).delete();
    });

    it('when more than 500 users are targeted, then POST answers running and GET shows progress until the action completes', async function () {
      this.timeout(180_000);
      const a = await account('Bigco');
      const writer = { type: 'admin' as const, actor: 'test-setup' };
      await deps.users.transaction(async (trx) => {
        for (let i = 0; i < 501; i++) {
          await deps.users.apply(trx, a.accountId, writer, undefined, { schemas: [USER], userName: `big${i}`, name: { givenName: `Big${i}`, familyName: 'Test' }, emails: [{ value: `big${i}@example.test`, primary: true }] });
        }
      });
      const res = await runAction(a, { type: 'sendWelcomeEmail', targets: { all: true } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.status).to.equal('running');
      expect(res.body.summary).to.include({ targeted: 501 });
      expect(res.body.summary.processed).to.be.below(501);
      expect(res.headers.location).to.match(new RegExp(`/Actions/${res.body.id}$`));

      let got: Json = res.body;
      const progress: number[] = [];
      for (let i = 0; i < 600 && got.status === 'running'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const poll = await t.request.get(`${base(a.accountId)}/Actions/${res.body.id}`).set('Authorization', `Bearer ${a.token}`);
        expect(poll.status).to.equal(200);
        got = poll.body;
        progress.push(got.summary.processed as number);
        expect(got.summary.processed).to.equal(got.results.length);
      }
      expect(got.status).to.equal('completed');
      expect(got.summary).to.include({ targeted: 501, processed: 501, succeeded: 501, failed: 0 });
      expect(got.results).to.have.length(501);
      // Progress only grows (it is written every 100 users; how much of it a poll catches depends on the machine).
      expect(progress).to.deep.equal([...progress].sort((x, y) => x - y));
      expect(await outbox(a.accountId, res.body.id)).to.have.length(501);
      const audit = await knex()('audit_log').where({ account_id: a.accountId, target_id: res.body.id }).orderBy('id');
      expect(audit.map((e: Json) => e.action)).to.deep.equal(['action.sendWelcomeEmail', 'action.sendWelcomeEmail.completed']);
    });
  });
});
