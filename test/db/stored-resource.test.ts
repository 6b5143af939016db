import { expect } from 'chai';
import { personRecord, ScriptedDirectory, scriptedConnector } from '../../connectors/testing/scripted-connector.js';
import { usersRepo } from '../../src/db/users-repo.js';
import { storedUserResource } from '../../src/domain/user-resource.js';
import { silentLogger } from '../../src/lib/logger.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { backfillSql } from '../../migrations/20261207010000_users_resource.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const ACTION = 'urn:switchboard:scim:schemas:core:2.0:Action';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The trick behind GET /Users/{id} and `userName eq` (users.resource, the representation kept on the row) held to
 * the plain behaviour: after every kind of write, each user's stored representation equals the one rendered from
 * its row, groups and links (domain/user-resource.ts storedUserResource), and so do the migration's backfill's.
 */
describe('stored user representations (users.resource) equal the plain rendering after every write path', () => {
  let t: TestApp;
  let accountId: string;
  let admin: (req: ReturnType<TestApp['request']['get']>) => ReturnType<TestApp['request']['get']>;
  let idp: (req: ReturnType<TestApp['request']['get']>) => ReturnType<TestApp['request']['get']>;
  let base: string;
  before(async () => {
    t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Stored Corp', type: 'customer' });
    accountId = a.accountId;
    base = `/accounts/${accountId}/scim/v2`;
    const token = await t.request.post(`${base}/Tokens`).set('Authorization', `Bearer ${t.operatorToken}`).send({ schemas: [TOKEN], role: 'provisioning' });
    admin = (req) => req.set('Authorization', `Bearer ${a.token}`).set('Content-Type', 'application/scim+json');
    idp = (req) => req.set('Authorization', `Bearer ${token.body.token as string}`).set('Content-Type', 'application/scim+json');
  });
  after(async () => t.close());
  const knex = () => t.deps.db.knex;

  /** Every user of the account: stored equals plain; returns how many were compared. */
  async function expectStoredAsPlain(step: string): Promise<number> {
    const views = await usersRepo.list(knex(), accountId, { withGroups: true, limit: 10_000 });
    const stored = new Map((await usersRepo.listResources(knex(), accountId, { limit: 10_000 })).map((r) => [r.id, r.resource]));
    for (const view of views) expect(stored.get(view.id), `${step}: user ${String(view.doc.userName)}`).to.deep.equal(storedUserResource(view));
    return views.length;
  }
  const ok = (res: { status: number; body: unknown }, ...status: number[]) => expect(status, `${res.status} ${JSON.stringify(res.body)}`).to.include(res.status);

  it('when users are written through SCIM, groups, actions, a sync, a CSV import, unlinks, registrations and source deletes, then each stored representation is the plain one', async () => {
    // SCIM: an admin's POST, PUT and PATCH; an identity provider's POST and PATCH (its link claims attributes).
    const ann = await admin(t.request.post(`${base}/Users`)).send({ schemas: [USER], userName: 'ann@example.com', name: { givenName: 'Ann', familyName: 'Lee' }, emails: [{ value: 'ann@example.com', primary: true }] });
    ok(ann, 201);
    ok(await admin(t.request.put(`${base}/Users/${ann.body.id}`)).send({ schemas: [USER], userName: 'ann@example.com', title: 'Boss', name: { givenName: 'Ann', familyName: 'Lee' }, emails: [{ value: 'ann@example.com', primary: true }] }), 200);
    const bob = await idp(t.request.post(`${base}/Users`)).send({ schemas: [USER, ENTERPRISE], userName: 'bob@example.com', externalId: 'b1', active: true, emails: [{ value: 'bob@example.com', type: 'work', primary: true }], [ENTERPRISE]: { manager: { value: ann.body.id } } });
    ok(bob, 201);
    ok(await idp(t.request.patch(`${base}/Users/${bob.body.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }] }), 200);
    ok(await admin(t.request.patch(`${base}/Users/${ann.body.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'nickName', value: 'A' }] }), 200);
    expect(await expectStoredAsPlain('SCIM writes')).to.equal(2);
    // The GET answers what was stored, with the base URL; the identity provider's link shows in lockedAttributes.
    const got = await admin(t.request.get(`${base}/Users/${bob.body.id}`));
    expect(got.body.meta.location).to.match(new RegExp(`${base}/Users/${bob.body.id}$`));
    expect(got.body[SB].lockedAttributes.map((l: Json) => l.attribute)).to.include('title');

    // The identity provider reuses bob's externalId for a new user: the link moves, and bob's representation
    // loses the provider's locks with it.
    const reuse = await idp(t.request.post(`${base}/Users`)).send({ schemas: [USER], userName: 'rob@example.com', externalId: 'b1' });
    ok(reuse, 201);
    expect(await expectStoredAsPlain('externalId reused')).to.equal(3);
    const bobAfter = await admin(t.request.get(`${base}/Users/${bob.body.id}`));
    expect(bobAfter.body[SB].lockedAttributes ?? []).to.deep.equal([]);
    ok(await idp(t.request.delete(`${base}/Users/${reuse.body.id}`)), 204);

    // Groups: members added and removed, the group renamed, then deleted.
    const team = await admin(t.request.post(`${base}/Groups`)).send({ schemas: [GROUP], displayName: 'Team', members: [{ value: ann.body.id }] });
    ok(team, 201);
    const other = await admin(t.request.post(`${base}/Groups`)).send({ schemas: [GROUP], displayName: 'Alpha', members: [{ value: ann.body.id }, { value: bob.body.id }] });
    ok(other, 201);
    ok(await admin(t.request.patch(`${base}/Groups/${team.body.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: bob.body.id }] }] }), 200, 204);
    await expectStoredAsPlain('members added');
    const withGroups = await admin(t.request.get(`${base}/Users`)).query({ filter: 'userName eq "bob@example.com"' });
    expect(withGroups.body.Resources[0].groups.map((g: Json) => g.display)).to.deep.equal(['Alpha', 'Team']);
    expect(withGroups.body.Resources[0].groups[0].$ref).to.match(new RegExp(`${base}/Groups/${other.body.id}$`));
    ok(await admin(t.request.patch(`${base}/Groups/${team.body.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'Aardvarks' }] }), 200, 204);
    await expectStoredAsPlain('group renamed');
    ok(await admin(t.request.patch(`${base}/Groups/${team.body.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${ann.body.id}"]` }] }), 200, 204);
    await expectStoredAsPlain('member removed');
    ok(await admin(t.request.delete(`${base}/Groups/${other.body.id}`)), 204);
    await expectStoredAsPlain('group deleted');

    // A sync: a scripted directory creates and updates users through the engine (links with the raw record).
    const directory = new ScriptedDirectory();
    // p0 has no title: its link claims less, so one batch holds two lockedAttributes (sent once each per statement).
    for (let i = 0; i < 5; i++) directory.put(personRecord(`p${i}`, `person${i}@example.com`, i === 0 ? {} : { title: 'Engineer' }));
    const [source] = (await knex()('sources').insert({ account_id: accountId, name: 'directory', kind: 'ldap', config: '{}' }).returning('id')) as { id: string }[];
    const engine = new SyncEngine({ db: t.deps.db, users: new UserService(knex(), t.clock), clock: t.clock, logger: silentLogger, connectors: new Map([['ldap', scriptedConnector(directory)]]), batchSize: 2 });
    expect((await engine.run(accountId, source!.id, { mode: 'full' })).status).to.equal('succeeded');
    directory.put(personRecord('p1', 'person1@example.com', { title: 'Lead' }));
    expect((await engine.run(accountId, source!.id, { mode: 'full' })).status).to.equal('succeeded');
    // The identity provider also claims a synced user: two links, one representation.
    const p2 = (await knex()('users').where({ account_id: accountId, user_name: 'person2@example.com' }).first('id')) as { id: string };
    ok(await idp(t.request.patch(`${base}/Users/${p2.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'nickName', value: 'Two' }] }), 200);
    expect(await expectStoredAsPlain('sync')).to.equal(7);

    // A CSV import (create and update by email).
    const csv = ['First Name,Last Name,Email,Mobile Number,Mobile Country,Extensions,Account Admin,SMS Number,Licenses,Department,Title', 'Cy,Young,cy@example.com,,,2001,no,,,Sales,Rep', 'Ann,Lee,ann@example.com,,,,no,,,Board,Chair'].join('\n');
    ok(await t.request.post(`${base}/Imports`).set('Authorization', admin(t.request.get('/')).get('Authorization')!).set('Content-Type', 'text/csv').send(csv), 201);
    expect(await expectStoredAsPlain('CSV import')).to.equal(8);

    // An action (deleteUsers of a synced user: it loses its platform account only), an identity provider's
    // DELETE of its own user (unlinked or unregistered), and a registration completed.
    const p3 = (await knex()('users').where({ account_id: accountId, user_name: 'person3@example.com' }).first('id')) as { id: string };
    ok(await admin(t.request.post(`${base}/Actions`)).send({ schemas: [ACTION], type: 'deleteUsers', targets: { ids: [p3.id] } }), 201);
    ok(await idp(t.request.delete(`${base}/Users/${p2.id}`)), 204);
    await usersRepo.setRegistration(knex(), accountId, ann.body.id as string, true, null, { actor: `user:${ann.body.id as string}`, writer: 'link', action: 'user.register', changed: ['password'], at: t.clock.now() });
    await expectStoredAsPlain('action, unlink, registration');

    // The source deleted: its links go, and with them what it owned.
    ok(await admin(t.request.delete(`${base}/Sources/${source!.id}`)), 204);
    expect(await expectStoredAsPlain('source deleted')).to.be.greaterThan(5);

    // The migration's backfill renders existing users the same way.
    await knex()('users').where({ account_id: accountId }).update({ resource: '{}' });
    await knex().raw(backfillSql('u.account_id = ?'), [accountId]);
    await expectStoredAsPlain('migration backfill');
  });

  it('when a user in groups is written by PATCH and PUT, then each answer is the representation a GET then reads (the write answers without reading it back)', async () => {
    const dee = await admin(t.request.post(`${base}/Users`)).send({ schemas: [USER], userName: 'dee@example.com', name: { givenName: 'Dee', familyName: 'Ray' }, emails: [{ value: 'dee@example.com', primary: true }] });
    ok(dee, 201);
    ok(await admin(t.request.post(`${base}/Groups`)).send({ schemas: [GROUP], displayName: 'Dee group', members: [{ value: dee.body.id }] }), 201);
    const writes = [
      () => idp(t.request.patch(`${base}/Users/${dee.body.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }] }),
      () => idp(t.request.patch(`${base}/Users/${dee.body.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Lead' }] }),
      () => admin(t.request.put(`${base}/Users/${dee.body.id}`)).send({ schemas: [USER], userName: 'dee@example.com', nickName: 'D', title: 'Lead', name: { givenName: 'Dee', familyName: 'Ray' }, emails: [{ value: 'dee@example.com', primary: true }] }),
      () => admin(t.request.patch(`${base}/Users/${dee.body.id}`)).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'nickName', value: 'Dee' }] }),
    ];
    for (const write of writes) {
      const answer = await write();
      ok(answer, 200);
      const got = await admin(t.request.get(`${base}/Users/${dee.body.id}`));
      // supertest gives each request a port of its own: the bodies differ only there.
      const sansHost = (body: unknown) => JSON.parse(JSON.stringify(body).replace(/http:\/\/127\.0\.0\.1:\d+/g, '')) as unknown;
      expect(sansHost(answer.body)).to.deep.equal(sansHost(got.body));
      expect(answer.headers.etag).to.equal(got.headers.etag);
      expect(answer.body.groups.map((g: Json) => g.display)).to.deep.equal(['Dee group']);
    }
  });
});
