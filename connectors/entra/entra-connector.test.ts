import { expect } from 'chai';
import { ConnectorError, ENTERPRISE_USER_URN, SWITCHBOARD_USER_URN, type JsonValue, type SourceGroup, type SourceItem } from '../sdk/index.js';
import { collect, finalState, recordsOf, stored } from '../testing/connector-contract.js';
import { entraConnector, type EntraState } from './index.js';
import { GraphTestServer, type AppRegistration } from './testing/graph-test-server.js';
import { clientCertificate } from './testing/tls.js';

describe('entra connector on the Graph test server', () => {
  let graph: GraphTestServer;
  let app: AppRegistration;
  const raw = (overrides: Record<string, unknown> = {}) => ({
    tenantId: graph.tenantId,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    authorityUrl: graph.url,
    graphUrl: graph.url,
    caCertPem: graph.caCertPem,
    defaultCountry: 'BE',
    ...overrides,
  });
  const config = (overrides: Record<string, unknown> = {}) => entraConnector.parseConfig(raw(overrides));
  const read = (overrides: Record<string, unknown> = {}, state?: JsonValue, onRetry?: (d: { waitMs: number }) => void) =>
    collect(entraConnector.read(config(overrides), state === undefined ? { mode: 'full' } : { mode: 'incremental', state: stored(state) }, { onRetry }));
  const deletes = (items: SourceItem[]) => items.filter((i) => i.type === 'delete');

  beforeEach(async () => {
    graph = await GraphTestServer.start();
    app = graph.registerApp();
  });

  afterEach(async () => {
    await graph.stop();
  });

  it('when the page size is smaller than the tenant, then a full read follows every nextLink, selects on the first call only and ends with the deltaLink', async () => {
    graph.addUsers(25);
    const items = await read({ pageSize: 7 });
    expect(recordsOf(items)).to.have.length(25);
    expect(new Set(recordsOf(items).map((r) => r.anchor)).size).to.equal(25);
    const calls = graph.graphRequests(/users\/delta/);
    expect(calls).to.have.length(4);
    expect(calls[0]!.path).to.match(/\$select=id,accountEnabled,onPremisesImmutableId,usageLocation,manager,userPrincipalName/);
    for (const call of calls.slice(1)) expect(call.path).to.match(/^\/v1\.0\/users\/delta\?\$skiptoken=[^&]+$/);
    const last = finalState(items);
    expect(last.complete).to.equal(true);
    expect((last.state as unknown as EntraState).usersDeltaLink).to.match(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\/delta\?\$deltatoken=/);
  });

  it('when users change after a full read, then an incremental read yields only those, read again whole in JSON batches, with soft and hard deletes told apart', async () => {
    const users = graph.addUsers(30);
    const state = finalState(await read()).state;
    graph.updateUser(users[3]!.id, { jobTitle: 'Lead', mobilePhone: null });
    graph.setManager(users[4]!.id, users[0]!.id);
    graph.softDeleteUser(users[5]!.id);
    graph.hardDeleteUser(users[6]!.id);
    const added = graph.addUser({ userPrincipalName: 'new@contoso.example', displayName: 'New Person', accountEnabled: false });

    const items = await read({}, state);
    const records = recordsOf(items);
    expect(records.map((r) => r.anchor).sort()).to.deep.equal([users[3]!.id, users[4]!.id, added.id].sort());
    // The delta entries carry only what changed; the records state the whole user.
    const changed = records.find((r) => r.anchor === users[3]!.id)!;
    expect(changed.attributes).to.deep.include({ userName: users[3]!.userPrincipalName, title: 'Lead', active: true });
    expect(changed.attributes[SWITCHBOARD_USER_URN]).to.equal(undefined);
    expect(changed.attributes[ENTERPRISE_USER_URN]).to.deep.equal({ employeeNumber: users[3]!.employeeId, department: users[3]!.department });
    expect(records.find((r) => r.anchor === users[4]!.id)!.attributes[ENTERPRISE_USER_URN]).to.deep.include({ manager: { value: users[0]!.id } });
    expect(graph.graphRequests(/\$batch/)).to.have.length(1);
    expect(graph.graphRequests(/^\/v1\.0\/users\/[^/?]+\?/).filter((r) => /expand=manager/.test(r.path))).to.have.length(3);
    expect(records.find((r) => r.anchor === added.id)!.attributes).to.deep.include({ userName: 'new@contoso.example', active: false });
    expect(deletes(items)).to.deep.equal([
      { type: 'delete', anchor: users[5]!.id, soft: true },
      { type: 'delete', anchor: users[6]!.id },
    ]);
    expect(finalState(items).complete).to.equal(false);

    graph.restoreUser(users[5]!.id);
    const again = await read({}, finalState(items).state);
    expect(recordsOf(again).map((r) => r.anchor)).to.deep.equal([users[5]!.id]);
    expect(recordsOf(again)[0]!.attributes).to.deep.include({ userName: users[5]!.userPrincipalName, active: true });
  });

  it('when Graph throttles with 429, 503 and 504, then each request is retried after Retry-After and every wait is reported', async () => {
    graph.addUsers(10);
    graph.fail({ path: /users\/delta/, status: 429, retryAfterSeconds: 1, times: 1 });
    graph.fail({ path: /users\/delta/, status: 503, retryAfterSeconds: 0, times: 1 });
    graph.fail({ path: /users\/delta/, status: 504, retryAfterSeconds: 0, times: 1 });
    const waits: number[] = [];
    const items = await read({ pageSize: 4 }, undefined, ({ waitMs }) => waits.push(waitMs));
    expect(recordsOf(items)).to.have.length(10);
    expect(waits).to.deep.equal([1000, 0, 0]);
    expect(graph.graphRequests(/users\/delta/).map((r) => r.status)).to.deep.equal([429, 503, 504, 200, 200, 200]);
  });

  it('when a request inside a JSON batch is throttled, then it alone is sent again after its Retry-After', async () => {
    const users = graph.addUsers(30);
    const state = finalState(await read()).state;
    for (const user of users.slice(0, 25)) graph.updateUser(user.id, { department: 'Moved' });
    graph.fail({ path: new RegExp(`users/${users[21]!.id}`), status: 429, retryAfterSeconds: 0, times: 1 });
    const waits: number[] = [];
    const items = await read({}, state, ({ waitMs }) => waits.push(waitMs));
    expect(recordsOf(items)).to.have.length(25);
    expect(recordsOf(items).every((r) => r.attributes[ENTERPRISE_USER_URN]?.department === 'Moved')).to.equal(true);
    expect(waits).to.deep.equal([0]);
    expect(graph.graphRequests(/\$batch/)).to.have.length(3);
    expect(graph.graphRequests(new RegExp(`users/${users[21]!.id}`)).map((r) => r.status)).to.deep.equal([429, 200]);
  });

  it('when Graph keeps throttling past maxRetries, then the read fails with the status', async () => {
    graph.addUsers(2);
    graph.fail({ path: /users\/delta/, status: 503, retryAfterSeconds: 0, times: 10 });
    const error = await read({ maxRetries: 2 }).then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectorError);
    expect((error as Error).message).to.match(/HTTP 503/);
  });

  it('when the access token expires mid-run, then it is renewed once and the read goes on', async () => {
    graph.addUsers(20);
    graph.tokenUses = 2;
    const items = await read({ pageSize: 5 });
    expect(recordsOf(items)).to.have.length(20);
    expect(graph.tokenRequests).to.equal(2);
    expect(graph.graphRequests(/users\/delta/).filter((r) => r.status === 401)).to.have.length(1);
  });

  it('when Graph no longer knows the delta token (410 syncStateNotFound), then the read starts over in full and is complete', async () => {
    const users = graph.addUsers(12);
    const state = finalState(await read()).state;
    graph.expireDeltaTokens();
    graph.hardDeleteUser(users[0]!.id);
    const items = await read({}, state);
    expect(graph.graphRequests(/deltatoken/).map((r) => r.status)).to.deep.equal([410]);
    expect(recordsOf(items)).to.have.length(11);
    expect(graph.graphRequests(/\$batch/)).to.deep.equal([]);
    expect(deletes(items)).to.deep.equal([]);
    expect(finalState(items).complete).to.equal(true);
  });

  it('when the state was written for another attribute map, then the read is a full one', async () => {
    graph.addUsers(3);
    const state = finalState(await read()).state;
    const items = await read({ attributeMap: { userName: 'mail' } }, state);
    expect(recordsOf(items)).to.have.length(3);
    expect(finalState(items).complete).to.equal(true);
  });

  it('when the app lacks User.Read.All or GroupMember.Read.All, then check is an auth error naming the permission', async () => {
    const noUsers = graph.registerApp({ roles: ['GroupMember.Read.All'] });
    let error = await entraConnector.check(config({ clientId: noUsers.clientId, clientSecret: noUsers.clientSecret })).then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectorError);
    expect((error as ConnectorError).kind).to.equal('auth');
    expect((error as Error).message).to.match(/Authorization_RequestDenied.*needs the application permission User\.Read\.All/);
    const noGroups = graph.registerApp({ roles: ['User.Read.All'] });
    error = await entraConnector.check(config({ clientId: noGroups.clientId, clientSecret: noGroups.clientSecret, syncGroups: true })).then(() => null, (e: unknown) => e);
    expect((error as ConnectorError).kind).to.equal('auth');
    expect((error as Error).message).to.match(/GroupMember\.Read\.All/);
  });

  it('when the secret is wrong, the client unknown or the tenant unknown, then check says which', async () => {
    const messageOf = (overrides: Record<string, unknown>) => entraConnector.check(config(overrides)).then(() => '', (e: unknown) => (e as Error).message);
    expect(await messageOf({ clientSecret: 'nope' })).to.match(/the client secret is wrong/);
    expect(await messageOf({ clientId: '00000000-0000-0000-0000-000000000001' })).to.match(/no application 00000000-0000-0000-0000-000000000001 in tenant/);
    expect(await messageOf({ tenantId: '00000000-0000-0000-0000-000000000002' })).to.match(/tenant 00000000-0000-0000-0000-000000000002 not found/);
  });

  it('when check runs after the secret was rotated, then the new configuration signs in anew (no cached token)', async () => {
    await entraConnector.check(config());
    const before = graph.tokenRequests;
    await entraConnector.check(config());
    expect(graph.tokenRequests).to.equal(before + 1);
    const rotated = app.clientSecret;
    app.clientSecret = 'rotated~secret';
    const error = await entraConnector.check(config({ clientSecret: rotated })).then(() => null, (e: unknown) => e);
    expect((error as ConnectorError).kind).to.equal('auth');
    await entraConnector.check(config({ clientSecret: 'rotated~secret' }));
  });

  it('when the app signs in with a certificate, then msal\'s signed assertion is accepted; another certificate is refused', async () => {
    const cert = await clientCertificate();
    const other = await clientCertificate();
    const certApp = graph.registerApp({ certificatePem: cert.certificatePem });
    graph.addUsers(2);
    await entraConnector.check(config({ clientId: certApp.clientId, clientSecret: undefined, clientCertificate: cert }));
    const error = await entraConnector.check(config({ clientId: certApp.clientId, clientSecret: undefined, clientCertificate: other })).then(() => null, (e: unknown) => e);
    expect((error as ConnectorError).kind).to.equal('auth');
    expect((error as Error).message).to.match(/certificate/);
  });

  it('when the private CA is not trusted, then the read fails as a network error before yielding', async () => {
    graph.addUsers(1);
    const error = await read({ caCertPem: undefined }).then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectorError);
    expect((error as ConnectorError).kind).to.equal('network');
  });

  it('when scope lists a group, then only its transitive user members are read, and joiners and leavers follow', async () => {
    const users = graph.addUsers(10);
    const inner = graph.addGroup('Inner', [{ id: users[2]!.id }, { id: users[3]!.id }]);
    const outer = graph.addGroup('Outer', [{ id: users[0]!.id }, { id: inner, type: 'group' }]);
    const scope = { groups: [outer] };
    const full = await read({ scope });
    expect(recordsOf(full).map((r) => r.anchor).sort()).to.deep.equal([users[0]!.id, users[2]!.id, users[3]!.id].sort());
    expect(finalState(full).complete).to.equal(true);

    graph.addMember(inner, users[7]!.id);
    graph.removeMember(outer, users[0]!.id);
    graph.updateUser(users[9]!.id, { jobTitle: 'Out of scope' });
    const items = await read({ scope }, finalState(full).state);
    expect(recordsOf(items).map((r) => r.anchor)).to.deep.equal([users[7]!.id]);
    expect(recordsOf(items)[0]!.attributes.userName).to.equal(users[7]!.userPrincipalName);
    expect(deletes(items)).to.deep.equal([{ type: 'delete', anchor: users[0]!.id }]);
  });

  it('when syncGroups is on, then a first read yields each group once with all its members, and later reads only membership changes', async () => {
    graph.membersPerEntry = 3;
    const users = graph.addUsers(8);
    const nested = graph.addGroup('Nested', [{ id: users[7]!.id }]);
    const sales = graph.addGroup('Sales', [...users.slice(0, 7).map((u) => ({ id: u.id })), { id: nested, type: 'group' }]);
    const full = await read({ syncGroups: true });
    const groups = full.filter((i): i is SourceGroup => i.type === 'group');
    expect(groups.map((g) => g.displayName).sort()).to.deep.equal(['Nested', 'Sales']);
    const salesItem = groups.find((g) => g.anchor === sales)!;
    expect(salesItem.members).to.have.length(8);
    expect(salesItem.members.find((m) => m.anchor === nested)).to.deep.equal({ anchor: nested, type: 'Group' });
    expect(salesItem.partial).to.equal(false);
    expect((finalState(full).state as unknown as EntraState).groupsDeltaLink).to.match(/groups\/delta\?\$deltatoken=/);

    graph.removeMember(sales, users[1]!.id);
    graph.addMember(nested, users[0]!.id);
    graph.deleteGroup(graph.addGroup('Temp'));
    const items = await read({ syncGroups: true }, finalState(full).state);
    const changes = items.filter((i) => i.type === 'group' || i.type === 'group-delete');
    expect(changes).to.have.length(2);
    expect(changes.find((g) => g.anchor === sales)).to.deep.include({ members: [], removedMembers: [users[1]!.id], partial: true });
    expect(changes.find((g) => g.anchor === nested)).to.deep.include({ members: [{ anchor: users[0]!.id, type: 'User' }], partial: true });
  });
});
