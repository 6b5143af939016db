/**
 * /AuditEvents (README › Audit events): every writer of users leaves an event naming who, through which writer and
 * the attributes changed, and the user's Modified On / By are that event's time and actor; the list filters in SQL,
 * pages by cursor, stays within the account, is read-only, and old events are pruned after the retention period.
 */
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { auditRepo } from '../../src/db/audit-repo.js';
import { tryTransactionLock } from '../../src/db/advisory-locks.js';
import { peopleLdif, startSlapd, type Slapd } from '../support/slapd.js';
import { createAccountWithToken, createTestApp, formFields, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SOURCE = 'urn:switchboard:scim:schemas:core:2.0:Source';
const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const AUDIT = 'urn:switchboard:scim:schemas:core:2.0:AuditEvent';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const HEADER = 'First Name,Last Name,Email,Mobile Number,Mobile Country,Extensions,Account Admin,SMS Number,Licenses,Department,Title';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Tenant = { accountId: string; token: string };

describe(`AuditEvents (${testDatabaseKind})`, () => {
  let t: TestApp;
  let slapd: Slapd;
  // slapd and the first migrated database of the process take their time on a loaded machine.
  before(async function () {
    this.timeout(180_000);
    slapd = await startSlapd({ initialLdif: peopleLdif(2) });
    t = await createTestApp();
  });
  after(async () => {
    await t?.close();
    await slapd?.stop();
  });

  const base = (accountId: string) => `/accounts/${accountId}/scim/v2`;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': scimJson });
  const events = async (a: Tenant, query: Record<string, string | number> = {}): Promise<Json> => {
    const res = await t.request.get(`${base(a.accountId)}/AuditEvents`).query(query).set(auth(a.token));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body as Json;
  };
  const createUser = async (a: Tenant, email: string, token = a.token): Promise<string> => {
    const res = await t.request.post(`${base(a.accountId)}/Users`).set(auth(token)).send({ schemas: [USER], userName: email, ...formFields(email) });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id as string;
  };
  const tokenIdOf = async (a: Tenant): Promise<string> => {
    const me = await t.db.knex('tokens').where({ account_id: a.accountId }).first('id');
    return me.id as string;
  };

  /** The user's latest event, and the user's Modified On / By, which must be that event's time and actor. */
  async function latestMatchesModified(a: Tenant, userId: string): Promise<Json> {
    const list = await events(a, { filter: `userId eq "${userId}"`, sortOrder: 'descending', count: 1 });
    const latest = list.Resources[0] as Json;
    const user = (await t.request.get(`${base(a.accountId)}/Users/${userId}`).set(auth(a.token))).body as Json;
    expect(user.meta.lastModified).to.equal(latest.at);
    expect(user[EXT].modifiedBy).to.equal(latest.actor);
    return latest;
  }

  it('when discovery is read, then AuditEvent is a resource type at /AuditEvents with its schema in /Schemas', async () => {
    const a = await createAccountWithToken(t, { name: 'Discovery', type: 'customer' });
    const types = await t.request.get(`${base(a.accountId)}/ResourceTypes/AuditEvent`).set(auth(a.token));
    expect(types.status).to.equal(200);
    expect(types.body).to.include({ id: 'AuditEvent', endpoint: '/AuditEvents', schema: AUDIT });
    const schema = await t.request.get(`${base(a.accountId)}/Schemas/${AUDIT}`).set(auth(a.token));
    expect(schema.status).to.equal(200);
    expect(schema.body.attributes.map((x: Json) => x.name)).to.include.members(['at', 'actor', 'writer', 'action', 'userId', 'changedAttributes']);
    expect(schema.body.attributes.find((x: Json) => x.name === 'writer').canonicalValues).to.deep.equal(['admin', 'token', 'source', 'import', 'link', 'system']);
    for (const attribute of schema.body.attributes as Json[]) expect(attribute.mutability, attribute.name).to.equal('readOnly');
  });

  describe('every writer of users leaves an event with the attributes it changed, and Modified On / By follow it', () => {
    it('when an admin token creates then patches a user over SCIM, then user.create and user.update name the token, writer token, and the attributes', async () => {
      const a = await createAccountWithToken(t, { name: 'Token writer', type: 'customer' });
      const id = await createUser(a, 'token@audit.test');
      t.clock.advance(1000);
      const patched = await t.request.patch(`${base(a.accountId)}/Users/${id}`).set(auth(a.token)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }] });
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
      const actor = `account-admin:${await tokenIdOf(a)}`;
      const list = await events(a, { filter: `userId eq "${id}"` });
      expect(list.Resources.map((e: Json) => [e.action, e.writer, e.actor])).to.deep.equal([['user.create', 'token', actor], ['user.update', 'token', actor]]);
      expect(list.Resources[0].changedAttributes).to.include.members(['userName', 'name', 'emails']);
      expect(list.Resources[1].changedAttributes).to.deep.equal(['title']);
      expect(list.Resources[1]).to.include({ targetType: 'User', targetId: id, userId: id });
      expect(list.Resources[1].schemas).to.deep.equal([AUDIT]);
      expect(list.Resources[1].meta.resourceType).to.equal('AuditEvent');
      expect(list.Resources[1].meta.location).to.match(new RegExp(`${base(a.accountId)}/AuditEvents/${list.Resources[1].id}$`));
      const latest = await latestMatchesModified(a, id);
      expect(latest.action).to.equal('user.update');
    });

    it('when an admin signed in at the console changes a user, then the event says writer admin', async () => {
      const a = await createAccountWithToken(t, { name: 'Console writer', type: 'customer' });
      const id = await createUser(a, 'console@audit.test');
      const signIn = await t.request.post('/console/session').set('Content-Type', 'application/json').send({ token: a.token });
      expect(signIn.status, JSON.stringify(signIn.body)).to.equal(201);
      const cookie = ([] as string[]).concat(signIn.headers['set-cookie'] as string[] | string).find((c) => c.startsWith('sb_session='))!.split(';')[0]!;
      t.clock.advance(1000);
      const patched = await t.request.patch(`${base(a.accountId)}/Users/${id}`).set('Cookie', cookie).set('X-CSRF-Token', signIn.body.csrfToken as string).set('Content-Type', scimJson)
        .send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'At the console' }] });
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
      const latest = await latestMatchesModified(a, id);
      expect(latest).to.include({ action: 'user.update', writer: 'admin' });
      expect(latest.changedAttributes).to.deep.equal(['displayName']);
      const sessions = await events(a, { filter: 'action eq "session.start"' });
      expect(sessions.Resources.map((e: Json) => e.writer)).to.deep.equal(['admin']);
    });

    it('when an identity provider pushes a user (provisioning token), then the event says actor scim, writer source', async () => {
      const a = await createAccountWithToken(t, { name: 'IdP writer', type: 'customer' });
      const idp = await t.request.post(`${base(a.accountId)}/Tokens`).set(auth(a.token)).send({ schemas: [TOKEN], role: 'provisioning' });
      const res = await t.request.post(`${base(a.accountId)}/Users`).set(auth(idp.body.token as string)).send({ schemas: [USER], userName: 'idp@audit.test', title: 'Pushed' });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const latest = await latestMatchesModified(a, res.body.id as string);
      expect(latest).to.include({ action: 'user.create', actor: 'scim', writer: 'source' });
      expect(latest.changedAttributes).to.include.members(['userName', 'title']);
      // The trail is the admin's to read, not the identity provider's.
      const refused = await t.request.get(`${base(a.accountId)}/AuditEvents`).set(auth(idp.body.token as string));
      expect(refused.status).to.equal(403);
      expect(refused.body.detail).to.match(/audit trail/);
    });

    it('when a sync run on a directory creates users, then each event names the source, writer source, with the attributes the directory set', async () => {
      const a = await createAccountWithToken(t, { name: 'Sync writer', type: 'customer' });
      const source = await t.request.post(`${base(a.accountId)}/Sources`).set(auth(a.token))
        .send({ schemas: [SOURCE], name: 'Directory', kind: 'ldap', config: { url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn } });
      expect(source.status, JSON.stringify(source.body)).to.equal(201);
      const run = await (await t.deps.syncEngine.start(a.accountId, source.body.id as string, { mode: 'full' })).done;
      expect(run.counts.created).to.equal(2);
      const created = await events(a, { filter: `actor eq "source:${source.body.id}" and action eq "user.create"` });
      expect(created.totalResults).to.equal(2);
      for (const e of created.Resources as Json[]) {
        expect(e.writer).to.equal('source');
        expect(e.changedAttributes).to.include.members(['userName', 'emails']);
        await latestMatchesModified(a, e.userId as string);
      }
    });

    it('when a CSV import creates and updates users, then the events name the importing admin, writer import', async () => {
      const a = await createAccountWithToken(t, { name: 'Import writer', type: 'customer' });
      const post = (csv: string) => t.request.post(`${base(a.accountId)}/Imports`).set('Authorization', `Bearer ${a.token}`).set('Content-Type', 'text/csv').send(csv);
      expect((await post(`${HEADER}\nAda,Lovelace,ada@audit.test,,,,,,,Engineering,`)).status).to.equal(201);
      t.clock.advance(1000);
      expect((await post(`${HEADER}\nAda,Lovelace,ada@audit.test,,,,,,,Research,Countess`)).status).to.equal(201);
      const list = await events(a, { filter: 'writer eq "import" and targetType eq "User"' });
      const actor = `account-admin:${await tokenIdOf(a)}`;
      expect(list.Resources.map((e: Json) => [e.action, e.actor])).to.deep.equal([['user.create', actor], ['user.update', actor]]);
      expect(list.Resources[1].changedAttributes).to.have.members(['title', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department']);
      await latestMatchesModified(a, list.Resources[1].userId as string);
      expect((await events(a, { filter: 'action eq "import.succeeded"' })).Resources.map((e: Json) => e.writer)).to.deep.equal(['import', 'import']);
    });

    it('when an action assigns a licence, then the user\'s event names the admin who ran it, with the licences changed', async () => {
      const a = await createAccountWithToken(t, { name: 'Action writer', type: 'customer' });
      const settings = await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set(auth(t.operatorToken))
        .send({ schemas: [PATCH], Operations: [{ op: 'replace', value: { settings: { miTeamMeetings: true }, subscriptions: [{ product: 'MiTeam Meetings', seats: 5 }] } }] });
      expect(settings.status, JSON.stringify(settings.body)).to.equal(200);
      const id = await createUser(a, 'licensed@audit.test');
      t.clock.advance(1000);
      const run = await t.request.post(`${base(a.accountId)}/Actions`).set(auth(a.token)).send({ schemas: [ACTION], type: 'assignLicense', targets: { ids: [id] }, params: { product: 'MiTeam Meetings' } });
      expect(run.status, JSON.stringify(run.body)).to.equal(201);
      const latest = await latestMatchesModified(a, id);
      expect(latest).to.include({ action: 'user.update', writer: 'token', actor: run.body.createdBy });
      expect(latest.changedAttributes).to.deep.equal([`${EXT}:licenses`]);
      const action = await events(a, { filter: `action eq "action.assignLicense.completed"` });
      expect(action.Resources[0]).to.include({ targetType: 'Action', targetId: run.body.id, writer: 'token' });
    });

    it('when a user registers through the welcome email\'s link, then user.register says writer link, actor the user, and Modified By follows', async () => {
      const a = await createAccountWithToken(t, { name: 'Link writer', type: 'customer' });
      const id = await createUser(a, 'link@audit.test');
      const mail = (await t.db.knex('outbox').where({ account_id: a.accountId, user_id: id, kind: 'welcome' }).first('text_body')) as { text_body: string };
      const link = /\/register\/([\w-]+)/.exec(mail.text_body)![1]!;
      t.clock.advance(1000);
      expect((await t.request.post(`/register/${link}`).type('form').send({ password: 'correct horse battery' })).status).to.equal(200);
      const latest = await latestMatchesModified(a, id);
      expect(latest).to.include({ action: 'user.register', writer: 'link', actor: `user:${id}` });
      expect(latest.changedAttributes).to.deep.equal(['password', `${EXT}:registered`]);
    });

    it('when an admin deletes a user, then user.delete names the admin, and the events of the user remain readable', async () => {
      const a = await createAccountWithToken(t, { name: 'Delete writer', type: 'customer' });
      const id = await createUser(a, 'deleted@audit.test');
      expect((await t.request.delete(`${base(a.accountId)}/Users/${id}`).set(auth(a.token))).status).to.equal(204);
      const list = await events(a, { filter: `userId eq "${id}"` });
      expect(list.Resources.map((e: Json) => [e.action, e.writer])).to.deep.equal([['user.create', 'token'], ['user.delete', 'token']]);
    });
  });

  describe('the list', () => {
    let a: Tenant;
    let ids: string[];
    let start: Date;
    before(async () => {
      a = await createAccountWithToken(t, { name: 'Listing', type: 'customer' });
      start = t.clock.now();
      ids = [];
      for (let i = 0; i < 5; i++) {
        t.clock.advance(60_000);
        ids.push(await createUser(a, `list${i}@audit.test`));
      }
    });

    it('when filtered by userId, actor, action and time (at gt), alone or together, then only the matching events come, in time order', async () => {
      const actor = `account-admin:${await tokenIdOf(a)}`;
      expect((await events(a, { filter: `userId eq "${ids[2]}"` })).Resources.map((e: Json) => e.userId)).to.deep.equal([ids[2]]);
      expect((await events(a, { filter: `actor eq "${actor}" and action eq "user.create"` })).totalResults).to.equal(5);
      const later = new Date(start.getTime() + 3 * 60_000 + 1).toISOString();
      const since = await events(a, { filter: `at gt "${later}" and action eq "user.create"` });
      expect(since.Resources.map((e: Json) => e.userId)).to.deep.equal(ids.slice(3));
      const descending = await events(a, { filter: 'action sw "user."', sortOrder: 'descending' });
      expect(descending.Resources.map((e: Json) => e.userId)).to.deep.equal([...ids].reverse());
      expect((await events(a, { filter: 'changedAttributes eq "title"' })).totalResults).to.equal(0);
      expect((await events(a, { filter: 'changedAttributes eq "userName" and action eq "user.create"' })).totalResults).to.equal(5);
    });

    it('when paged by cursor (RFC 9865), then next cursors walk every event once and a previous cursor walks back', async () => {
      const filter = 'action eq "user.create"';
      const seen: string[] = [];
      let page = await events(a, { filter, count: 2, cursor: '' });
      expect(page.totalResults).to.equal(5);
      const pages: Json[] = [page];
      while (page.nextCursor) {
        page = await events(a, { filter, count: 2, cursor: page.nextCursor as string });
        pages.push(page);
      }
      for (const p of pages) seen.push(...p.Resources.map((e: Json) => e.userId as string));
      expect(seen).to.deep.equal(ids);
      expect(pages.map((p) => p.Resources.length)).to.deep.equal([2, 2, 1]);
      const back = await events(a, { filter, count: 2, cursor: pages[2]!.previousCursor as string });
      expect(back.Resources.map((e: Json) => e.userId)).to.deep.equal(ids.slice(2, 4));
      const other = await t.request.get(`${base(a.accountId)}/AuditEvents`).query({ filter: 'action eq "user.delete"', count: 2, cursor: pages[1]!.nextCursor as string }).set(auth(a.token));
      expect(other.status).to.equal(400);
      expect(other.body.scimType).to.equal('invalidCursor');
    });

    it('when a filter names what cannot be filtered, or sortBy an unknown attribute, then 400 says what to change', async () => {
      const bad = async (query: Record<string, string>, pattern: RegExp) => {
        const res = await t.request.get(`${base(a.accountId)}/AuditEvents`).query(query).set(auth(a.token));
        expect(res.status, JSON.stringify(res.body)).to.equal(400);
        expect(res.body.schemas).to.deep.equal([ERROR]);
        expect(res.body.detail).to.match(pattern);
      };
      await bad({ filter: 'colour eq "red"' }, /Unknown attribute 'colour' for resource type AuditEvent/);
      await bad({ filter: 'details eq "x"' }, /details/);
      await bad({ filter: 'at gt "yesterday"' }, /dateTime/);
      await bad({ filter: 'userId eq ' }, /./);
      await bad({ sortBy: 'colour' }, /Unknown attribute 'colour' in sortBy/);
    });

    it('when one event is read by id, then it is the list\'s; an id of nothing is 404', async () => {
      const first = (await events(a, { count: 1 })).Resources[0] as Json;
      const one = await t.request.get(`${base(a.accountId)}/AuditEvents/${first.id}`).set(auth(a.token));
      expect(one.status).to.equal(200);
      // The same event; the location's host is each request's own (supertest listens anew each time).
      const withoutHost = (e: Json) => ({ ...e, meta: { ...e.meta, location: new URL(e.meta.location as string).pathname } });
      expect(withoutHost(one.body as Json)).to.deep.equal(withoutHost(first));
      for (const id of ['999999999', 'not-a-number']) expect((await t.request.get(`${base(a.accountId)}/AuditEvents/${id}`).set(auth(a.token))).status).to.equal(404);
    });

    it('when another account\'s admin reads, then it sees only its own account\'s events; the operator and the parent partner read the account by its URL', async () => {
      const partner = await createAccountWithToken(t, { name: 'Audit partner', type: 'partner' });
      const child = await createAccountWithToken(t, { name: 'Audit child', type: 'customer', parentId: partner.accountId, asToken: partner.token });
      await createUser(child, 'child@audit.test');
      const own = await events(a);
      const theirs = await events(child);
      expect(theirs.Resources.every((e: Json) => !own.Resources.some((o: Json) => o.id === e.id))).to.equal(true);
      expect(theirs.Resources.some((e: Json) => e.action === 'user.create')).to.equal(true);
      const foreign = own.Resources[0] as Json;
      expect((await t.request.get(`${base(child.accountId)}/AuditEvents/${foreign.id}`).set(auth(child.token))).status).to.equal(404);
      expect((await t.request.get(`${base(a.accountId)}/AuditEvents`).set(auth(child.token))).status).to.equal(404);
      const byPartner = await t.request.get(`${base(child.accountId)}/AuditEvents`).set(auth(partner.token));
      expect(byPartner.body.totalResults).to.equal(theirs.totalResults);
      const byOperator = await t.request.get(`${base(a.accountId)}/AuditEvents`).set(auth(t.operatorToken));
      expect(byOperator.body.totalResults).to.equal(own.totalResults);
    });

    it('when POST, PUT, PATCH or DELETE is sent, then 405 with a SCIM error and an Allow header, and nothing is written', async () => {
      const first = (await events(a, { count: 1 })).Resources[0] as Json;
      const total = (await events(a)).totalResults;
      for (const [method, path] of [['post', '/AuditEvents'], ['put', `/AuditEvents/${first.id}`], ['patch', `/AuditEvents/${first.id}`], ['delete', `/AuditEvents/${first.id}`]] as const) {
        const res = await t.request[method](`${base(a.accountId)}${path}`).set(auth(a.token)).send({ schemas: [AUDIT], action: 'user.forged' });
        expect(res.status, `${method} ${path}`).to.equal(405);
        expect(res.headers.allow).to.equal('GET');
        expect(res.body).to.include({ status: '405' });
        expect(res.body.schemas).to.deep.equal([ERROR]);
      }
      expect((await events(a)).totalResults).to.equal(total);
    });
  });

  describe('retention', () => {
    it('when AUDIT_RETENTION_DAYS is unset or set, then it is 365 days or the value given', () => {
      expect(loadConfig({}).auditRetentionDays).to.equal(365);
      expect(loadConfig({ AUDIT_RETENTION_DAYS: '30' }).auditRetentionDays).to.equal(30);
      expect(() => loadConfig({ AUDIT_RETENTION_DAYS: '0' })).to.throw(/AUDIT_RETENTION_DAYS/);
    });

    it('when the pruning job runs, then events older than the retention period are deleted in every account and newer ones kept', async () => {
      const a = await createAccountWithToken(t, { name: 'Retention A', type: 'customer' });
      const b = await createAccountWithToken(t, { name: 'Retention B', type: 'customer' });
      const now = t.clock.now().getTime();
      const day = 86_400_000;
      for (const account of [a, b]) {
        for (const age of [400, 366, 364, 10]) {
          await auditRepo.record(t.db.knex, { accountId: account.accountId, actor: 'system', writer: 'system', action: `test.age${age}`, details: {} }, new Date(now - age * day));
        }
      }
      const pruned = await t.deps.audit.prune();
      expect(pruned).to.be.at.least(4);
      for (const account of [a, b]) {
        const left = await events(account, { filter: 'action sw "test."' });
        expect(left.Resources.map((e: Json) => e.action)).to.deep.equal(['test.age364', 'test.age10']);
      }
    });

    if (testDatabaseKind === 'postgres') {
      it('when another instance is pruning (it holds the advisory lock), then this one skips and deletes nothing', async () => {
        const a = await createAccountWithToken(t, { name: 'Retention lock', type: 'customer' });
        await auditRepo.record(t.db.knex, { accountId: a.accountId, actor: 'system', writer: 'system', action: 'test.old', details: {} }, new Date(t.clock.now().getTime() - 400 * 86_400_000));
        const other = await t.db.knex.transaction();
        try {
          expect(await tryTransactionLock(other, 'switchboard:audit-retention')).to.equal(true);
          expect(await t.deps.audit.prune()).to.equal(undefined);
          expect((await events(a, { filter: 'action eq "test.old"' })).totalResults).to.equal(1);
        } finally {
          await other.commit();
        }
        expect(await t.deps.audit.prune()).to.equal(1);
      });
    }
  });
});
