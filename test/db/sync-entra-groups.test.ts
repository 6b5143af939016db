import { expect } from 'chai';
import type { Connector } from '../../connectors/sdk/index.js';
import { entraConnector } from '../../connectors/entra/index.js';
import { GraphTestServer, type AppRegistration, type GraphUserData } from '../../connectors/entra/testing/graph-test-server.js';
import { silentLogger } from '../../src/lib/logger.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('sync engine: Entra groups with syncGroups (issue 11)', () => {
  let t: TestApp;
  let graph: GraphTestServer;
  let app: AppRegistration;
  let users: GraphUserData[];
  let accountId: string;
  let token: string;
  let sourceId: string;
  let sales: string;
  let nested: string;

  const engine = () =>
    new SyncEngine({ db: t.deps.db, users: new UserService(t.deps.db.knex, t.clock), clock: t.clock, logger: silentLogger, connectors: new Map([['entra', entraConnector as Connector]]) });
  const knex = () => t.deps.db.knex;
  const groupOf = async (anchor: string) => (await knex()('groups').where({ account_id: accountId, source_id: sourceId, source_anchor: anchor }).first()) as { id: string; display_name: string; version: number } | undefined;
  const userIdOf = async (u: GraphUserData) => ((await knex()('users').where({ account_id: accountId, user_name: u.userPrincipalName }).first()) as { id: string }).id;
  const membersOf = async (groupId: string) => ((await knex()('group_members').where({ account_id: accountId, group_id: groupId }).pluck('member_id')) as string[]).sort();
  const scim = (method: 'patch' | 'delete', path: string) => t.request[method](`/accounts/${accountId}/scim/v2${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', scimJson);

  before(async () => {
    [graph, t] = await Promise.all([GraphTestServer.start(), createTestApp()]);
    graph.membersPerEntry = 4; // a group over several entries of the first round, as Graph sends large ones
    app = graph.registerApp();
    users = graph.addUsers(12);
    nested = graph.addGroup('Sales EMEA', [{ id: users[10]!.id }, { id: users[11]!.id }]);
    sales = graph.addGroup('Sales', [...users.slice(0, 9).map((u) => ({ id: u.id })), { id: nested, type: 'group' }]);
    ({ accountId, token } = await createAccountWithToken(t, { name: 'Entra Groups Co', type: 'customer' }));
    const [row] = await knex()('sources')
      .insert({
        account_id: accountId, name: 'Entra ID', kind: 'entra',
        config: JSON.stringify({ tenantId: graph.tenantId, clientId: app.clientId, clientSecret: app.clientSecret, authorityUrl: graph.url, graphUrl: graph.url, caCertPem: graph.caCertPem, syncGroups: true }),
      })
      .returning('id');
    sourceId = (row as { id: string }).id;
  });
  after(async () => {
    await graph?.stop();
    await t?.close();
  });

  it('when a tenant with groups syncs in full, then each group is a SCIM group owned by the source, nested groups as Group members', async () => {
    const full = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(full.status, full.error ?? '').to.equal('succeeded');
    expect(full.counts).to.include({ created: 12, groupsCreated: 2, groupsUpdated: 0 });
    const salesGroup = (await groupOf(sales))!;
    const nestedGroup = (await groupOf(nested))!;
    expect(salesGroup.display_name).to.equal('Sales');
    expect(await membersOf(salesGroup.id)).to.deep.equal([...(await Promise.all(users.slice(0, 9).map(userIdOf))), nestedGroup.id].sort());
    expect(await membersOf(nestedGroup.id)).to.deep.equal((await Promise.all(users.slice(10).map(userIdOf))).sort());
    const response = await t.request.get(`/accounts/${accountId}/scim/v2/Groups/${salesGroup.id}`).set('Authorization', `Bearer ${token}`);
    expect(response.status).to.equal(200);
    expect(response.body.members.find((m: { value: string }) => m.value === nestedGroup.id)).to.deep.include({ type: 'Group' });
  });

  it('when membership changes in Entra, then an incremental run adds and removes only those members', async () => {
    graph.removeMember(sales, users[1]!.id);
    graph.addMember(nested, users[9]!.id);
    graph.renameGroup(nested, 'Sales Europe');
    const inc = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(inc.status, inc.error ?? '').to.equal('succeeded');
    expect(inc.counts).to.include({ created: 0, groupsCreated: 0, groupsUpdated: 2, groupsDeleted: 0 });
    const salesGroup = (await groupOf(sales))!;
    const nestedGroup = (await groupOf(nested))!;
    expect(await membersOf(salesGroup.id)).to.not.include(await userIdOf(users[1]!));
    expect(await membersOf(salesGroup.id)).to.have.length(9);
    expect(await membersOf(nestedGroup.id)).to.include(await userIdOf(users[9]!));
    expect(nestedGroup.display_name).to.equal('Sales Europe');

    const again = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(again.counts).to.include({ groupsCreated: 0, groupsUpdated: 0, groupsDeleted: 0 });
  });

  it('when an admin edits or deletes a source-owned group, then 400 mutability naming the source, and nothing changes', async () => {
    const salesGroup = (await groupOf(sales))!;
    const patched = await scim('patch', `/Groups/${salesGroup.id}`).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'Mine' }] });
    expect(patched.status).to.equal(400);
    expect(patched.body.scimType).to.equal('mutability');
    expect(patched.body.detail).to.match(/Group "Sales" is owned by source "Entra ID" \(entra, id [0-9a-f-]{36}\)/);
    const deleted = await scim('delete', `/Groups/${salesGroup.id}`);
    expect(deleted.status).to.equal(400);
    expect(deleted.body.scimType).to.equal('mutability');
    expect((await groupOf(sales))!.version).to.equal(salesGroup.version);
  });

  it('when a group is deleted in Entra, then the run deletes it; a full read deletes groups it no longer lists', async () => {
    graph.deleteGroup(nested);
    const inc = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(inc.status, inc.error ?? '').to.equal('succeeded');
    expect(inc.counts).to.include({ groupsDeleted: 1 });
    expect(await groupOf(nested)).to.equal(undefined);

    const orphan = graph.addGroup('Temporary');
    await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(await groupOf(orphan)).to.not.equal(undefined);
    graph.deleteGroup(orphan);
    graph.expireDeltaTokens();
    const full = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(full.status, full.error ?? '').to.equal('succeeded');
    expect(full.counts).to.include({ groupsDeleted: 1, groupsCreated: 0 });
    expect(await groupOf(orphan)).to.equal(undefined);
    expect(await groupOf(sales)).to.not.equal(undefined);
  });
});
