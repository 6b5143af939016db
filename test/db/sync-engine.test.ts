import { expect } from 'chai';
import { ldapConnector } from '../../connectors/ldap/index.js';
import type { Connector, SourceItem } from '../../connectors/sdk/index.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { silentLogger } from '../../src/lib/logger.js';
import { peopleLdif, startSlapd, type Slapd } from '../support/slapd.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';
const people = (uid: string) => `uid=${uid},ou=people,dc=example,dc=com`;

describe('sync engine: LDAP into the database', () => {
  let t: TestApp;
  let slapd: Slapd;
  let accountId: string;
  let users: UserService;

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });
  beforeEach(async () => {
    slapd = await startSlapd({ initialLdif: peopleLdif(30) });
    ({ accountId } = await createAccountWithToken(t, { name: `Acme ${Math.random()}`, type: 'customer' }));
    users = new UserService(t.deps.db.knex, t.clock);
  });
  afterEach(async () => {
    await slapd.stop();
  });

  const knex = () => t.deps.db.knex;
  const engine = (connector: Connector = ldapConnector as Connector, batchSize = 10) =>
    new SyncEngine({ db: t.deps.db, users, clock: t.clock, logger: silentLogger, connectors: new Map([['ldap', connector]]), batchSize });

  async function createSource(overrides: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<string> {
    const [row] = await knex()('sources')
      .insert({
        account_id: accountId,
        name: `ldap ${Math.random()}`,
        kind: 'ldap',
        config: JSON.stringify({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn, defaultCountry: 'BE', pageSize: 7, ...config }),
        ...overrides,
      })
      .returning('id');
    return (row as { id: string }).id;
  }
  const userRows = () => knex()('users').where({ account_id: accountId }).orderBy('user_name');
  const byUserName = async (userName: string) => (await knex()('users').where({ account_id: accountId, user_name: userName }).first()) as { id: string; data: Record<string, unknown>; active: boolean; version: number };
  const results = (runId: string) => knex()('sync_run_results').where({ account_id: accountId, run_id: runId }).orderBy('seq');

  it('when a full sync runs, then users are created with links and raw records; a second identical run changes nothing', async () => {
    const sourceId = await createSource();
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status).to.equal('succeeded');
    expect(run.counts).to.include({ created: 30, updated: 0, unchanged: 0, quarantined: 0 });
    expect(await userRows()).to.have.length(30);
    const user = await byUserName('user00003@example.com');
    expect(user.data).to.deep.include({ displayName: 'User 00003', title: 'Engineer' });
    expect((user.data[SWITCHBOARD] as Record<string, unknown>).mobileNumber).to.equal('+32470000003');
    const link = await knex()('user_source_links').where({ account_id: accountId, user_id: user.id }).first();
    expect(link.source_id).to.equal(sourceId);
    expect(link.anchor).to.match(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(link.raw)).to.contain('user00003');
    expect(link.owned_attributes).to.include('userName');
    const source = await knex()('sources').where({ id: sourceId }).first();
    expect(source.state).to.have.property('flavor', 'openldap');
    expect(source.status).to.equal('idle');

    const again = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(again.status).to.equal('succeeded');
    expect(again.counts).to.include({ created: 0, updated: 0, unchanged: 30, deactivated: 0 });
    expect((await byUserName('user00003@example.com')).version).to.equal(user.version);
  });

  it('when 3 entries change in the directory, then an incremental run updates only those', async () => {
    const sourceId = await createSource();
    await engine().run(accountId, sourceId, { mode: 'full' });
    await slapd.modify(people('user00003'), { title: 'Manager' });
    await slapd.modify(people('user00017'), { mobile: '0470 99 99 99' });
    await slapd.modify(people('user00021'), { displayName: 'Renamed' });
    const run = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(run.status).to.equal('succeeded');
    expect(run.counts).to.include({ created: 0, updated: 3, deactivated: 0 });
    expect((await byUserName('user00003@example.com')).data.title).to.equal('Manager');
    expect((await byUserName('user00021@example.com')).data.displayName).to.equal('Renamed');
    const rows = await results(run.id);
    expect(rows.map((r) => r.outcome)).to.deep.equal(['updated', 'updated', 'updated']);
    const titleRow = rows.find((r) => r.changes.title);
    expect(titleRow.changes.title).to.deep.equal({ old: 'Engineer', new: 'Manager' });
  });

  it('when entries are deleted, then after a complete full read their users are deactivated; past the threshold the run stops unless allowDeletes', async () => {
    const sourceId = await createSource({ delete_threshold_percent: 10, delete_threshold_count: 500 });
    await engine().run(accountId, sourceId, { mode: 'full' });
    for (const uid of ['user00001', 'user00002']) await slapd.delete(people(uid));
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status).to.equal('succeeded');
    expect(run.counts).to.include({ deactivated: 2, unchanged: 28 });
    expect((await byUserName('user00001@example.com')).active).to.equal(false);
    const link = await knex()('user_source_links').where({ account_id: accountId, user_id: (await byUserName('user00001@example.com')).id }).first();
    expect(link.missing_since).to.not.equal(null);

    // 4 more of 28 linked (> 10 % = 2): stopped, nothing deactivated.
    for (const uid of ['user00004', 'user00005', 'user00006', 'user00007']) await slapd.delete(people(uid));
    const stopped = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(stopped.status).to.equal('stopped_deletion_threshold');
    expect(stopped.counts.deactivated).to.equal(0);
    expect((await byUserName('user00004@example.com')).active).to.equal(true);
    const source = await knex()('sources').where({ id: sourceId }).first();
    expect(source.status).to.equal('waiting_for_confirmation');

    const allowed = await engine().run(accountId, sourceId, { mode: 'full', allowDeletes: true });
    expect(allowed.status).to.equal('succeeded');
    expect(allowed.counts.deactivated).to.equal(4);
    expect((await byUserName('user00004@example.com')).active).to.equal(false);

    // Past the grace period, the deactivated users are deleted.
    t.clock.advance(31 * 24 * 3600_000);
    const later = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(later.counts.deleted).to.equal(6);
    expect(await byUserName('user00001@example.com')).to.equal(undefined);
    t.clock.advance(-31 * 24 * 3600_000);
  });

  it('when a dry run is made, then it reports the diff and changes nothing', async () => {
    const sourceId = await createSource();
    await engine().run(accountId, sourceId, { mode: 'full' });
    const stateBefore = (await knex()('sources').where({ id: sourceId }).first()).state;
    await slapd.modify(people('user00003'), { title: 'Manager' });
    await slapd.delete(people('user00009'));
    const dry = await engine().run(accountId, sourceId, { mode: 'full', dryRun: true });
    expect(dry.status).to.equal('succeeded');
    expect(dry.dryRun).to.equal(true);
    expect(dry.counts).to.include({ updated: 1, deactivated: 1, unchanged: 28 });
    const rows = await results(dry.id);
    expect(rows.find((r) => r.outcome === 'updated').changes.title).to.deep.equal({ old: 'Engineer', new: 'Manager' });
    expect(rows.find((r) => r.outcome === 'deactivated').changes.active).to.deep.equal({ old: null, new: false });
    expect((await byUserName('user00003@example.com')).data.title).to.equal('Engineer');
    expect((await byUserName('user00009@example.com')).active).to.equal(true);
    expect((await knex()('sources').where({ id: sourceId }).first()).state).to.deep.equal(stateBefore);
  });

  it('when a run is killed after the first batch, then the next run resumes with nothing lost or duplicated', async () => {
    const sourceId = await createSource();
    let yielded = 0;
    const dying: Connector = {
      ...(ldapConnector as Connector),
      async *read(config, request, ctx) {
        for await (const item of ldapConnector.read(config as never, request, ctx) as AsyncIterable<SourceItem>) {
          if (item.type === 'record' && ++yielded > 15) throw new Error('killed');
          yield item;
        }
      },
    };
    const killed = await engine(dying).run(accountId, sourceId, { mode: 'full' });
    expect(killed.status).to.equal('failed');
    expect(killed.error).to.contain('killed');
    expect(killed.counts.created).to.be.within(10, 15);
    expect((await knex()('sources').where({ id: sourceId }).first()).state).to.equal(null);

    const resumed = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(resumed.status).to.equal('succeeded');
    expect(resumed.counts.created + killed.counts.created).to.equal(30);
    expect(await userRows()).to.have.length(30);
    expect(await knex()('user_source_links').where({ account_id: accountId, source_id: sourceId })).to.have.length(30);
  });

  it('when a record soft-matches two users, then it is quarantined and the rest of the run goes on; one match links', async () => {
    const admin = { type: 'admin' as const, via: 'token' as const, actor: 'admin:test' };
    // user00005 matches one user by userName; user00006 matches one by userName and another by email.
    await knex().transaction(async (trx) => {
      await users.apply(trx, accountId, admin, undefined, { userName: 'user00005@example.com', name: { givenName: 'Five', familyName: 'Admin' }, emails: [{ value: 'user00005@example.com' }] });
      await users.apply(trx, accountId, admin, undefined, { userName: 'user00006@example.com', name: { givenName: 'Six', familyName: 'Admin' }, emails: [{ value: 'user00006@example.com' }] });
      await users.apply(trx, accountId, admin, undefined, { userName: 'other6', name: { givenName: 'Other', familyName: 'Six' }, emails: [{ value: 'x6@example.com' }] });
    });
    await slapd.modify(people('user00006'), { mail: ['user00006@example.com', 'x6@example.com'] });
    const sourceId = await createSource();
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status).to.equal('completed_with_errors');
    expect(run.counts).to.include({ quarantined: 1, created: 28, updated: 1 });
    const rows = await results(run.id);
    const bad = rows.find((r) => r.outcome === 'quarantined');
    expect(bad.error).to.match(/ambiguous/);
    const linked = await byUserName('user00005@example.com');
    expect(await knex()('user_source_links').where({ user_id: linked.id, source_id: sourceId })).to.have.length(1);
  });

  it('when an admin writes an LDAP-owned attribute it is refused; an unowned one is kept across a later sync', async () => {
    const sourceId = await createSource();
    await engine().run(accountId, sourceId, { mode: 'full' });
    const admin = { type: 'admin' as const, via: 'token' as const, actor: 'admin:test' };
    const user = await byUserName('user00003@example.com');
    let refused: unknown;
    await knex()
      .transaction(async (trx) => {
        const stored = await users.findForUpdate(trx, accountId, user.id);
        return users.apply(trx, accountId, admin, stored, { ...stored.doc, title: 'Boss' });
      })
      .catch((e) => (refused = e));
    expect(refused).to.have.property('kind', 'mutability');
    await knex().transaction(async (trx) => {
      const stored = await users.findForUpdate(trx, accountId, user.id);
      await users.apply(trx, accountId, admin, stored, { ...stored.doc, [SWITCHBOARD]: { ...(stored.doc[SWITCHBOARD] as object), accountAdmin: true } });
    });
    await slapd.modify(people('user00003'), { title: 'Director' });
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.counts.updated).to.equal(1);
    const after = await byUserName('user00003@example.com');
    expect(after.data.title).to.equal('Director');
    expect((after.data[SWITCHBOARD] as Record<string, unknown>).accountAdmin).to.equal(true);
  });

  it('when the bind password is wrong, then the run fails and no user is touched', async () => {
    const sourceId = await createSource({}, { bindPassword: 'wrong' });
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status).to.equal('failed');
    expect(run.error).to.match(/auth|bind/i);
    expect(await userRows()).to.have.length(0);
    const source = await knex()('sources').where({ id: sourceId }).first();
    expect(source.consecutive_failures).to.equal(1);
    expect(source.next_retry_at).to.not.equal(null);
  });

  it('when a run of the source is active, then a second one is refused with conflict', async () => {
    const sourceId = await createSource();
    const e = engine();
    const first = await e.start(accountId, sourceId, { mode: 'full' });
    let refused: unknown;
    await e.start(accountId, sourceId, { mode: 'full' }).catch((err) => (refused = err));
    expect(refused).to.have.property('kind', 'conflict');
    expect(String((refused as Error).message)).to.match(/already running/);
    if (t.deps.db.kind === 'postgres') {
      // Another instance (another engine) is refused by the advisory lock.
      let other: unknown;
      await engine().start(accountId, sourceId, { mode: 'full' }).catch((err) => (other = err));
      expect(other).to.have.property('kind', 'conflict');
    }
    expect((await first.done).status).to.equal('succeeded');
    const second = await e.run(accountId, sourceId, { mode: 'full' });
    expect(second.status).to.equal('succeeded');
  });

  it('when reports are read pages before their managers (their DNs not resolved by the connector), then one full run sets each manager and the next changes nothing', async () => {
    // user00001 reports to user00025 and user00002 to user00029: entries read later (insertion order), pages and batches later.
    await slapd.modify(people('user00001'), { manager: people('user00025') });
    await slapd.modify(people('user00002'), { manager: people('user00029') });
    await slapd.modify(people('user00003'), { manager: people('nobody') });
    const sourceId = await createSource();
    const first = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(first.status).to.equal('succeeded');
    for (const [report, boss] of [['user00001', 'user00025'], ['user00002', 'user00029']] as const) {
      const manager = (await byUserName(`${report}@example.com`)).data[ENTERPRISE] as Record<string, unknown>;
      expect(manager.manager, `manager of ${report}`).to.deep.equal({ value: (await byUserName(`${boss}@example.com`)).id });
    }
    expect(((await byUserName('user00003@example.com')).data[ENTERPRISE] as Record<string, unknown>).manager).to.equal(undefined);
    const second = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(second.counts).to.include({ unchanged: 30, updated: 0, created: 0 });
    expect(((await byUserName('user00001@example.com')).data[ENTERPRISE] as Record<string, unknown>).manager).to.deep.equal({ value: (await byUserName('user00025@example.com')).id });
  });

  it('keeps the manager as the linked user id', async () => {
    await slapd.modify(people('user00002'), { manager: people('user00001') });
    const sourceId = await createSource();
    await engine().run(accountId, sourceId, { mode: 'full' });
    await engine().run(accountId, sourceId, { mode: 'full' });
    const boss = await byUserName('user00001@example.com');
    const report = await byUserName('user00002@example.com');
    expect((report.data[ENTERPRISE] as Record<string, unknown>).manager).to.deep.equal({ value: boss.id });
  });
});
