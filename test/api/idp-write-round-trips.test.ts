/**
 * An identity provider's POST and PATCH are each a write of its own: the POST reads the holders of its unique
 * values and writes in one statement; the PATCH reads the user and writes in one statement applied only to the
 * version it read (usersRepo.writePlanned), read and planned again when another write came first. No BEGIN or
 * COMMIT: each statement is atomic by itself.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';
import { LOST_RACE } from '../../src/db/users-repo.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe(`identity-provider writes: round trips and races (${testDatabaseKind})`, () => {
  let t: TestApp;
  let base: string;
  let accountId: string;
  let idp: Record<string, string>;
  before(async function () {
    this.timeout(180_000);
    t = await createTestApp();
    const admin = await createAccountWithToken(t, { name: 'Round trips', type: 'customer' });
    accountId = admin.accountId;
    base = `/accounts/${accountId}/scim/v2`;
    const res = await t.request.post(`${base}/Tokens`).set('Authorization', `Bearer ${t.operatorToken}`).send({ schemas: [TOKEN], role: 'provisioning' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    idp = { Authorization: `Bearer ${res.body.token as string}`, 'Content-Type': 'application/scim+json' };
    // The first push creates the account's scim source, and the token's first use is recorded: not counted below.
    const warm = await t.request.post(`${base}/Users`).set(idp).send(user(0));
    expect(warm.status, JSON.stringify(warm.body)).to.equal(201);
  });
  after(async () => t?.close());

  const user = (n: number) => ({
    schemas: [USER], userName: `trip${n}@idp.example`, externalId: `trip-${n}`, name: { givenName: 'Round', familyName: `Trip${n}` }, title: 'Engineer',
    emails: [{ value: `trip${n}@idp.example`, primary: true, type: 'work' }],
  });

  /**
   * The statements the server sends while `act` runs, one per round trip: seen on the pooled connections
   * themselves, since reads and writes outside a transaction go past knex (selectRows).
   */
  let seen: string[] | undefined;
  const watched = new WeakSet<object>();
  before(() => {
    const client = (t.deps.db.knex as Knex).client as { acquireConnection(): Promise<{ query: (...args: unknown[]) => unknown }> };
    const acquire = client.acquireConnection.bind(client);
    client.acquireConnection = async () => {
      const connection = await acquire();
      if (!watched.has(connection)) {
        watched.add(connection);
        const query = connection.query.bind(connection);
        connection.query = (...args: unknown[]) => {
          const [first] = args;
          seen?.push(typeof first === 'string' ? first : String((first as { text?: string; sql?: string }).text ?? (first as { sql?: string }).sql));
          return query(...args);
        };
      }
      return connection;
    };
  });
  async function statementsOf(act: () => Promise<unknown>): Promise<string[]> {
    seen = [];
    try {
      await act();
      return seen;
    } finally {
      seen = undefined;
    }
  }
  /** The statements of the users write: what the request sends beside its token and rate-limit bookkeeping. */
  const userStatements = (sql: string[]) => sql.filter((s) => !/\b(tokens|rate_limit\w*)\b/.test(s));

  it('when an identity provider creates a user, then the request is one statement, without BEGIN or COMMIT', async () => {
    let res: { status: number; body: { id: string } } | undefined;
    const sql = userStatements(await statementsOf(async () => (res = await t.request.post(`${base}/Users`).set(idp).send(user(1)))));
    expect(res!.status, JSON.stringify(res!.body)).to.equal(201);
    expect(sql.filter((s) => /^(begin|commit)/i.test(s.trim())), sql.join('\n')).to.deep.equal([]);
    expect(sql, sql.join('\n---\n')).to.have.length(1);
    // All of it was written: row, value rows, link, audit entry.
    const id = res!.body.id;
    expect(await t.deps.db.knex('user_emails').where({ account_id: accountId, user_id: id }).pluck('value')).to.deep.equal(['trip1@idp.example']);
    expect(await t.deps.db.knex('user_source_links').where({ account_id: accountId, user_id: id }).first('anchor')).to.deep.equal({ anchor: 'trip-1' });
    expect(await t.deps.db.knex('audit_log').where({ account_id: accountId, target_id: id }).pluck('action')).to.deep.equal(['user.create']);
  });

  it('when an identity provider creates a user whose userName or email another user holds, then 409 naming the attribute, and nothing is written', async () => {
    const held = await t.request.post(`${base}/Users`).set(idp).send(user(6));
    expect(held.status).to.equal(201);
    const countOf = async (table: string) => (await t.deps.db.knex(table).where({ account_id: accountId }).pluck('account_id')).length;
    const before = { users: await countOf('users'), emails: await countOf('user_emails'), links: await countOf('user_source_links'), audit: await countOf('audit_log') };
    for (const [body, attribute] of [
      [{ ...user(7), userName: 'TRIP6@idp.example' }, /already in use: userName$/],
      [{ ...user(8), emails: [{ value: 'Trip6@IDP.example', primary: true }] }, /already in use: emails \(trip6@idp\.example\)$/],
    ] as const) {
      let res: { status: number; body: { scimType?: string; detail?: string } } | undefined;
      const sql = userStatements(await statementsOf(async () => (res = await t.request.post(`${base}/Users`).set(idp).send(body))));
      expect(res!.status, JSON.stringify(res!.body)).to.equal(409);
      expect(res!.body.scimType).to.equal('uniqueness');
      expect(res!.body.detail).to.match(attribute);
      // The write that met the unique index, then the holders read for the refusal: no second write.
      expect(sql, sql.join('\n---\n')).to.have.length(2);
    }
    expect({ users: await countOf('users'), emails: await countOf('user_emails'), links: await countOf('user_source_links'), audit: await countOf('audit_log') }).to.deep.equal(before);
  });

  it('when an identity provider patches a user, then the request reads the user and writes in one statement, without BEGIN or COMMIT', async () => {
    const created = await t.request.post(`${base}/Users`).set(idp).send(user(2));
    let res: { status: number; body: { title?: string; meta: { version: string } } } | undefined;
    const sql = userStatements(
      await statementsOf(async () => (res = await t.request.patch(`${base}/Users/${created.body.id}`).set(idp).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Lead' }] }))),
    );
    expect(res!.status, JSON.stringify(res!.body)).to.equal(200);
    expect(res!.body.title).to.equal('Lead');
    expect(sql.filter((s) => /^(begin|commit)/i.test(s.trim())), sql.join('\n')).to.deep.equal([]);
    expect(sql, sql.join('\n---\n')).to.have.length(2);
    const got = await t.request.get(`${base}/Users/${created.body.id}`).set(idp);
    expect(got.body.title).to.equal('Lead');
    expect(got.body.meta.version).to.equal(res!.body.meta.version);
    expect(await t.deps.db.knex('audit_log').where({ account_id: accountId, target_id: created.body.id }).pluck('action')).to.have.members(['user.create', 'user.update']);
  });

  it('when a write was planned on a version another write has since replaced, then it fails as a lost race and writes nothing', async () => {
    const created = await t.request.post(`${base}/Users`).set(idp).send(user(3));
    const id = created.body.id as string;
    const users = t.deps.users;
    const writer = await users.scimWriter(undefined, accountId, 'test');
    const stale = await users.findWithLinks(accountId, id);
    // Another write lands between the read and the write planned on it.
    const other = await t.request.patch(`${base}/Users/${id}`).set(idp).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'Other' }] });
    expect(other.status).to.equal(200);
    const auditBefore = await t.deps.db.knex('audit_log').where({ account_id: accountId, target_id: id }).pluck('id');
    const linkBefore = await t.deps.db.knex('user_source_links').where({ account_id: accountId, user_id: id }).first('owned_attributes', 'updated_at');
    let error: unknown;
    try {
      await users.apply(undefined, accountId, writer, stale.user, { ...stale.user.doc, title: 'Stale', nickName: 'Stale' }, { links: stale.links, wrote: ['title', 'nickName'] });
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string } | undefined)?.code, String(error)).to.equal(LOST_RACE);
    const after = await t.request.get(`${base}/Users/${id}`).set(idp);
    expect(after.body).to.include({ displayName: 'Other', title: 'Engineer' });
    expect(after.body).to.not.have.property('nickName');
    expect(await t.deps.db.knex('audit_log').where({ account_id: accountId, target_id: id }).pluck('id')).to.have.members(auditBefore);
    expect(await t.deps.db.knex('user_source_links').where({ account_id: accountId, user_id: id }).first('owned_attributes', 'updated_at')).to.deep.equal(linkBefore);
  });

  it('when a lost race is retried, then the write is planned again on the user as it now is and both writes survive', async () => {
    const created = await t.request.post(`${base}/Users`).set(idp).send(user(4));
    const id = created.body.id as string;
    const users = t.deps.users;
    const writer = await users.scimWriter(undefined, accountId, 'test');
    let attempts = 0;
    const result = await users.retryLostRaces(async () => {
      attempts++;
      const { user: current, links } = await users.findWithLinks(accountId, id);
      // The first attempt loses: another write lands after its read.
      if (attempts === 1) await t.request.patch(`${base}/Users/${id}`).set(idp).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'First' }] });
      return users.apply(undefined, accountId, writer, current, { ...current.doc, nickName: 'Second' }, { links, wrote: ['nickName'] });
    });
    expect(attempts).to.equal(2);
    expect(result.user.doc).to.include({ displayName: 'First', nickName: 'Second' });
    const after = await t.request.get(`${base}/Users/${id}`).set(idp);
    expect(after.body).to.include({ displayName: 'First', nickName: 'Second' });
  });

  it('when an identity provider sends PATCHes of different attributes of one user at once, then every one of them survives', async () => {
    const created = await t.request.post(`${base}/Users`).set(idp).send(user(5));
    const id = created.body.id as string;
    const changes = [['title', 'T'], ['displayName', 'D'], ['nickName', 'N'], ['locale', 'en-GB']] as const;
    const answers = await Promise.all(changes.map(([path, value]) => t.request.patch(`${base}/Users/${id}`).set(idp).send({ schemas: [PATCH], Operations: [{ op: 'replace', path, value }] })));
    expect(answers.map((a) => a.status), JSON.stringify(answers.map((a) => a.body))).to.deep.equal([200, 200, 200, 200]);
    const after = await t.request.get(`${base}/Users/${id}`).set(idp);
    for (const [path, value] of changes) expect(after.body[path], path).to.equal(value);
    expect(after.body.meta.version).to.equal(`W/"${1 + changes.length}"`);
    expect(await t.deps.db.knex('audit_log').where({ account_id: accountId, target_id: id, action: 'user.update' }).pluck('id')).to.have.length(changes.length);
  });
});
