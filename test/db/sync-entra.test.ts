import { expect } from 'chai';
import type { Connector, SourceItem } from '../../connectors/sdk/index.js';
import { entraConnector } from '../../connectors/entra/index.js';
import { GraphTestServer, type AppRegistration, type GraphUserData } from '../../connectors/entra/testing/graph-test-server.js';
import { silentLogger } from '../../src/lib/logger.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine, type SyncRunRecord } from '../../src/sync/sync-engine.js';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';

/**
 * Issue 11 through the engine, at its size: a tenant of 10,000 users served by the Graph test server, synced into
 * the test database (PGlite, or PostgreSQL with DATABASE_URL). The steps run in order on one source, each asserting
 * what its name says.
 */
const USERS = 10_000;
const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe(`sync engine: Entra tenant of ${USERS.toLocaleString('en-US')} users (issue 11)`, function () {
  this.timeout(180_000);
  let t: TestApp;
  let graph: GraphTestServer;
  let app: AppRegistration;
  let users: GraphUserData[];
  let accountId: string;
  let token: string;
  let sourceId: string;
  /** Anchors of the records the connector yielded in the last run. */
  let read: string[] = [];

  const recording = (inner: Connector = entraConnector as Connector, dieAfter = Number.POSITIVE_INFINITY): Connector => ({
    ...inner,
    async *read(config, request, ctx) {
      for await (const item of inner.read(config, request, ctx) as AsyncIterable<SourceItem>) {
        if (item.type === 'record') {
          if (read.length >= dieAfter) throw new Error('killed');
          read.push(item.anchor);
        }
        yield item;
      }
    },
  });
  const engine = (connector: Connector = recording(), batchSize?: number) =>
    new SyncEngine({ db: t.deps.db, users: new UserService(t.deps.db.knex, t.clock), clock: t.clock, logger: silentLogger, connectors: new Map([['entra', connector]]), batchSize });
  const run = (options: Parameters<SyncEngine['run']>[2], connector?: Connector, batchSize?: number): Promise<SyncRunRecord> => {
    read = [];
    return engine(connector, batchSize).run(accountId, sourceId, options);
  };
  const knex = () => t.deps.db.knex;
  const count = async (table: string, where: Record<string, unknown>) => Number(((await knex()(table).where(where).count({ n: '*' }).first()) as { n: string | number }).n);
  const userOf = async (graphUser: GraphUserData) =>
    (await knex()('users').where({ account_id: accountId, user_name: graphUser.userPrincipalName }).first()) as { id: string; data: Record<string, unknown>; active: boolean; version: number };
  const linkOf = async (anchor: string) => (await knex()('user_source_links').where({ account_id: accountId, source_id: sourceId, anchor }).first()) as { user_id: string; missing_since: Date | null };
  const results = (runId: string) => knex()('sync_run_results').where({ account_id: accountId, run_id: runId }).orderBy('seq');

  before(async () => {
    [graph, t] = await Promise.all([GraphTestServer.start(), createTestApp()]);
    app = graph.registerApp();
    users = graph.addUsers(USERS);
    // Every hundredth user reports to the next one, whom Graph lists after: managers must resolve by the end of the run.
    for (let i = 0; i < USERS - 1; i += 100) graph.setManager(users[i]!.id, users[i + 1]!.id);
    ({ accountId, token } = await createAccountWithToken(t, { name: 'Entra Tenant Co', type: 'customer' }));
    const [row] = await knex()('sources')
      .insert({
        account_id: accountId, name: 'Entra ID', kind: 'entra',
        config: JSON.stringify({ tenantId: graph.tenantId, clientId: app.clientId, clientSecret: app.clientSecret, authorityUrl: graph.url, graphUrl: graph.url, caCertPem: graph.caCertPem }),
      })
      .returning('id');
    sourceId = (row as { id: string }).id;
  });
  after(async () => {
    await graph?.stop();
    await t?.close();
  });

  it('when the tenant syncs in full, then 10,000 users are created, linked by Graph id, with E.164 mobiles and every manager resolved', async () => {
    const full = await run({ mode: 'full' });
    expect(full.status, full.error ?? '').to.equal('succeeded');
    expect(full.counts).to.include({ created: USERS, updated: 0, unchanged: 0, quarantined: 0, deactivated: 0 });
    expect(read).to.have.length(USERS);
    expect(await count('users', { account_id: accountId })).to.equal(USERS);
    expect(await count('user_source_links', { account_id: accountId, source_id: sourceId })).to.equal(USERS);
    const user = await userOf(users[4321]!);
    expect(user.data).to.deep.include({ displayName: users[4321]!.displayName, title: 'Engineer', active: true });
    expect((user.data[SB] as Record<string, unknown>).mobileNumber).to.equal('+32470004321');
    expect((await linkOf(users[4321]!.id)).user_id).to.equal(user.id);
    for (const i of [0, 4300, 9900]) {
      const manager = await userOf(users[i + 1]!);
      expect(((await userOf(users[i]!)).data[ENTERPRISE] as Record<string, unknown>).manager, `manager of user ${i}`).to.deep.equal({ value: manager.id });
    }
    const state = (await knex()('sources').where({ id: sourceId }).first()).state as { usersDeltaLink: string };
    expect(state.usersDeltaLink).to.match(/\/v1\.0\/users\/delta\?\$deltatoken=/);
  });

  it('when 100 users change, then an incremental run reads only those 100 and updates them', async () => {
    const changed = Array.from({ length: 100 }, (_, i) => users[i * 97 + 3]!);
    changed.forEach((u, i) => graph.updateUser(u.id, { jobTitle: `Changed ${i}` }));
    const batchesBefore = graph.graphRequests(/\$batch/).length;
    const inc = await run({ mode: 'incremental' });
    expect(inc.status, inc.error ?? '').to.equal('succeeded');
    expect([...read].sort()).to.deep.equal(changed.map((u) => u.id).sort());
    expect(graph.graphRequests(/\$batch/).length - batchesBefore).to.equal(5);
    expect(inc.counts).to.include({ created: 0, updated: 100, unchanged: 0, deactivated: 0, quarantined: 0 });
    const rows = await results(inc.id);
    expect(rows).to.have.length(100);
    for (const row of rows) expect(Object.keys(row.changes)).to.deep.equal(['title']);
    expect((await userOf(changed[1]!)).data.title).to.equal('Changed 1');
  });

  it('when the same runs again with nothing changed, then nothing changes: incremental reads nothing, full finds 10,000 unchanged', async () => {
    const versions = await knex()('users').where({ account_id: accountId }).sum({ v: 'version' }).first();
    const audits = await count('audit_log', { account_id: accountId });
    const inc = await run({ mode: 'incremental' });
    expect(inc.status).to.equal('succeeded');
    expect(read).to.have.length(0);
    const full = await run({ mode: 'full' });
    expect(full.status, full.error ?? '').to.equal('succeeded');
    expect(read).to.have.length(USERS);
    expect(full.counts).to.include({ created: 0, updated: 0, unchanged: USERS, deactivated: 0, quarantined: 0 });
    expect(await results(full.id)).to.have.length(0);
    expect(await knex()('users').where({ account_id: accountId }).sum({ v: 'version' }).first()).to.deep.equal(versions);
    expect(await count('audit_log', { account_id: accountId })).to.equal(audits);
  });

  it('when Graph throttles the run, then it waits and goes on, and the run counts the retries', async () => {
    graph.updateUser(users[11]!.id, { department: 'Throttled' });
    graph.fail({ path: /users\/delta/, status: 429, retryAfterSeconds: 0, times: 2 });
    const inc = await run({ mode: 'incremental' });
    expect(inc.status, inc.error ?? '').to.equal('succeeded');
    expect(inc.counts).to.include({ updated: 1, retries: 2 });
  });

  it('when a user is soft-deleted in Entra, then it is deactivated without starting the grace period; restored, the same user is active again', async () => {
    const target = users[777]!;
    const before = await userOf(target);
    graph.softDeleteUser(target.id);
    const deleted = await run({ mode: 'incremental' });
    expect(deleted.status, deleted.error ?? '').to.equal('succeeded');
    expect(deleted.counts).to.include({ deactivated: 1, deleted: 0 });
    expect((await userOf(target)).active).to.equal(false);
    expect((await linkOf(target.id)).missing_since).to.equal(null);

    graph.restoreUser(target.id);
    const restored = await run({ mode: 'incremental' });
    expect(restored.status, restored.error ?? '').to.equal('succeeded');
    expect(restored.counts).to.include({ updated: 1, created: 0 });
    const after = await userOf(target);
    expect(after.id).to.equal(before.id);
    expect(after.active).to.equal(true);
  });

  it('when an admin edits an Entra-owned attribute, then 400 mutability naming the source', async () => {
    const user = await userOf(users[4321]!);
    const refused = await t.request
      .patch(`/accounts/${accountId}/scim/v2/Users/${user.id}`)
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', scimJson)
      .send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Boss' }] });
    expect(refused.status).to.equal(400);
    expect(refused.body.scimType).to.equal('mutability');
    expect(refused.body.detail).to.match(/title \(owned by source "Entra ID", entra, id [0-9a-f-]{36}\)/);
  });

  it('when 600 users are permanently deleted, then the run stops before deactivating past the threshold until re-run with allowDeletes', async () => {
    const gone = users.slice(8000, 8600);
    for (const u of gone) graph.hardDeleteUser(u.id);
    const stopped = await run({ mode: 'incremental' });
    expect(stopped.status).to.equal('stopped_deletion_threshold');
    expect(stopped.error).to.match(/600 of 10,?000 linked users would be deactivated/);
    expect(await count('users', { account_id: accountId, active: false })).to.equal(0);

    const allowed = await run({ mode: 'incremental', allowDeletes: true });
    expect(allowed.status, allowed.error ?? '').to.equal('succeeded');
    expect(allowed.counts).to.include({ deactivated: 600, created: 0 });
    expect(await count('users', { account_id: accountId, active: false })).to.equal(600);
    expect((await linkOf(gone[0]!.id)).missing_since).to.be.instanceOf(Date);
  });

  it('when Graph answers 410 syncStateNotFound, then the run reads everything again, complete, and duplicates nothing', async () => {
    graph.expireDeltaTokens();
    graph.updateUser(users[5]!.id, { department: 'After resync' });
    const resync = await run({ mode: 'incremental' });
    expect(resync.status, resync.error ?? '').to.equal('succeeded');
    expect(read).to.have.length(USERS - 600);
    expect(resync.counts).to.include({ created: 0, updated: 1, unchanged: USERS - 601, quarantined: 0, deactivated: 0 });
    expect(await count('users', { account_id: accountId })).to.equal(USERS);
    expect(await count('user_source_links', { account_id: accountId, source_id: sourceId })).to.equal(USERS);
    expect(graph.graphRequests(/deltatoken/).at(-1)!.status).to.equal(410);
    expect(graph.graphRequests(/users\/delta\?\$select=/).at(-1)!.status).to.equal(200);
  });

  it('when a run is killed mid-read, then the next one resumes from the last saved deltaLink with nothing lost or duplicated', async () => {
    const stateBefore = (await knex()('sources').where({ id: sourceId }).first()).state;
    const changed = users.slice(100, 400);
    for (const u of changed) graph.updateUser(u.id, { department: 'Reorganised' });
    const fresh = graph.addUsers(50, 'new.contoso.example');
    const killed = await run({ mode: 'incremental' }, recording(entraConnector as Connector, 250), 100);
    expect(killed.status).to.equal('failed');
    expect(killed.error).to.contain('killed');
    expect(killed.counts.updated).to.equal(200);
    expect((await knex()('sources').where({ id: sourceId }).first()).state).to.deep.equal(stateBefore);

    const resumed = await run({ mode: 'incremental' });
    expect(resumed.status, resumed.error ?? '').to.equal('succeeded');
    expect(resumed.counts).to.include({ updated: 100, unchanged: 200, created: 50, quarantined: 0 });
    expect(await count('users', { account_id: accountId })).to.equal(USERS + 50);
    for (const u of [...changed.slice(0, 3), ...changed.slice(-3)]) expect(((await userOf(u)).data[ENTERPRISE] as Record<string, unknown>).department).to.equal('Reorganised');
    expect((await userOf(fresh[49]!)).active).to.equal(true);
    const distinct = (await knex()('users').where({ account_id: accountId }).countDistinct({ n: 'user_name' }).first()) as { n: string | number };
    expect(Number(distinct.n)).to.equal(USERS + 50);
  });
});
