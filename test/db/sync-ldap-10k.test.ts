import { expect } from 'chai';
import { ldapConnector } from '../../connectors/ldap/index.js';
import type { Connector, SourceItem } from '../../connectors/sdk/index.js';
import { silentLogger } from '../../src/lib/logger.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine, type SyncRunRecord } from '../../src/sync/sync-engine.js';
import { peopleLdif, replaceLdif, startSlapd, type Slapd } from '../support/slapd.js';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';

/**
 * Issue 4's "done when", at its size: a directory of 10,000 entries in a real slapd, synced by the engine into the
 * test database (PGlite, or PostgreSQL with DATABASE_URL). The steps run in order on one source, each asserting
 * what its name says; the killed run uses a second account so that its full run starts from nothing.
 */
const ENTRIES = 10_000;
const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const uid = (i: number) => `user${String(i).padStart(5, '0')}`;
const userName = (i: number) => `${uid(i)}@example.com`;

describe(`sync engine: LDAP directory of ${ENTRIES.toLocaleString('en-US')} entries (issue 4, done when)`, function () {
  this.timeout(120_000);
  let t: TestApp;
  let slapd: Slapd;
  let accountId: string;
  let token: string;
  let sourceId: string;
  /** DNs of the records the connector yielded in the last run of `engine()`. */
  let read: string[] = [];
  const dn = (i: number) => `uid=${uid(i)},${slapd.peopleDn}`;

  /** The LDAP connector, recording the DN of every record it yields. */
  const recording: Connector = {
    ...(ldapConnector as Connector),
    async *read(config, request, ctx) {
      for await (const item of ldapConnector.read(config as never, request, ctx) as AsyncIterable<SourceItem>) {
        if (item.type === 'record') read.push(String((item.raw as { dn?: unknown }).dn));
        yield item;
      }
    },
  };
  const engine = (connector: Connector = recording) =>
    new SyncEngine({ db: t.deps.db, users: new UserService(t.deps.db.knex, t.clock), clock: t.clock, logger: silentLogger, connectors: new Map([['ldap', connector]]) });
  const run = (options: Parameters<SyncEngine['run']>[2], connector?: Connector): Promise<SyncRunRecord> => {
    read = [];
    return engine(connector).run(accountId, sourceId, options);
  };
  const knex = () => t.deps.db.knex;
  const count = async (table: string, where: Record<string, unknown>) => Number(((await knex()(table).where(where).count({ n: '*' }).first()) as { n: string | number }).n);
  const userByName = async (account: string, name: string) => (await knex()('users').where({ account_id: account, user_name: name }).first()) as { id: string; data: Record<string, unknown>; active: boolean; version: number };
  const results = (runId: string) => knex()('sync_run_results').where({ account_id: accountId, run_id: runId }).orderBy('seq');

  async function createSource(account: string): Promise<string> {
    const [row] = await knex()('sources')
      .insert({
        account_id: account, name: `ldap ${Math.random()}`, kind: 'ldap',
        config: JSON.stringify({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn, defaultCountry: 'BE' }),
      })
      .returning('id');
    return (row as { id: string }).id;
  }

  before(async () => {
    // Entries modified one a minute up to ten minutes ago, as in a directory that changed over time.
    [slapd, t] = await Promise.all([
      startSlapd({ initialLdif: peopleLdif(ENTRIES, 0, undefined, { modifiedFrom: new Date(Date.now() - (ENTRIES + 10) * 60_000) }) }),
      createTestApp(),
    ]);
    ({ accountId, token } = await createAccountWithToken(t, { name: 'Ten Thousand Co', type: 'customer' }));
    sourceId = await createSource(accountId);
  });
  after(async () => {
    await slapd?.stop();
    await t?.close();
  });

  it('when the directory syncs in full, then 10,000 users are created, each linked to its entry', async () => {
    const full = await run({ mode: 'full' });
    expect(full.status, full.error ?? '').to.equal('succeeded');
    expect(full.counts).to.include({ created: ENTRIES, updated: 0, unchanged: 0, quarantined: 0, deactivated: 0 });
    expect(read).to.have.length(ENTRIES);
    expect(await count('users', { account_id: accountId })).to.equal(ENTRIES);
    expect(await count('user_source_links', { account_id: accountId, source_id: sourceId })).to.equal(ENTRIES);
    const user = await userByName(accountId, userName(4321));
    expect(user.data).to.deep.include({ displayName: 'User 04321', title: 'Engineer' });
    expect((user.data[SB] as Record<string, unknown>).mobileNumber).to.equal('+32470004321');
    expect((await knex()('sources').where({ id: sourceId }).first()).state).to.have.property('flavor', 'openldap');
  });

  it('when 100 entries change, then an incremental run reads only those 100 and updates them', async () => {
    const changed = Array.from({ length: 100 }, (_, i) => i * 97);
    await slapd.modifyLdif(replaceLdif(changed.map(dn), 'title', (_, i) => `Changed ${i}`));
    const inc = await run({ mode: 'incremental' });
    expect(inc.status, inc.error ?? '').to.equal('succeeded');
    expect([...read].sort()).to.deep.equal(changed.map(dn).sort());
    expect(inc.counts).to.include({ created: 0, updated: 100, unchanged: 0, deactivated: 0, quarantined: 0 });
    const rows = await results(inc.id);
    expect(rows).to.have.length(100);
    for (const row of rows) expect(Object.keys(row.changes)).to.deep.equal(['title']);
    expect((await userByName(accountId, userName(97))).data.title).to.equal('Changed 1');
  });

  it('when the same runs again with nothing changed, then nothing changes: incremental reads nothing, full finds 10,000 unchanged', async () => {
    const versions = await knex()('users').where({ account_id: accountId }).sum({ v: 'version' }).first();
    const audits = await count('audit_log', { account_id: accountId });
    const inc = await run({ mode: 'incremental' });
    expect(inc.status).to.equal('succeeded');
    expect(read).to.have.length(0);
    expect(inc.counts).to.include({ created: 0, updated: 0, unchanged: 0, deactivated: 0 });
    const full = await run({ mode: 'full' });
    expect(full.status).to.equal('succeeded');
    expect(read).to.have.length(ENTRIES);
    expect(full.counts).to.include({ created: 0, updated: 0, unchanged: ENTRIES, deactivated: 0, quarantined: 0 });
    expect(await results(full.id)).to.have.length(0);
    expect(await knex()('users').where({ account_id: accountId }).sum({ v: 'version' }).first()).to.deep.equal(versions);
    expect(await count('audit_log', { account_id: accountId })).to.equal(audits);
  });

  it('when a dry run is made after 10 changes and 5 deletions, then it reports the diff per user and attribute and changes nothing', async () => {
    await slapd.modifyLdif(replaceLdif([10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map(dn), 'title', () => 'Director'));
    await slapd.deleteMany([9001, 9002, 9003, 9004, 9005].map(dn));
    const stateBefore = (await knex()('sources').where({ id: sourceId }).first()).state;
    const audits = await count('audit_log', { account_id: accountId });
    const dry = await run({ mode: 'full', dryRun: true });
    expect(dry.status, dry.error ?? '').to.equal('succeeded');
    expect(dry.dryRun).to.equal(true);
    expect(dry.counts).to.include({ created: 0, updated: 10, deactivated: 5, unchanged: ENTRIES - 15, quarantined: 0 });
    const rows = await results(dry.id);
    const updated = rows.filter((r) => r.outcome === 'updated');
    expect(updated).to.have.length(10);
    for (const row of updated) expect(row.changes).to.deep.equal({ title: { old: 'Engineer', new: 'Director' } });
    const deactivated = rows.filter((r) => r.outcome === 'deactivated');
    expect(deactivated).to.have.length(5);
    for (const row of deactivated) expect(row.changes.active).to.deep.equal({ old: null, new: false });
    expect((await userByName(accountId, userName(10))).data.title).to.equal('Engineer');
    expect((await userByName(accountId, userName(9001))).active).to.equal(true);
    expect(await count('users', { account_id: accountId, active: false })).to.equal(0);
    expect(await count('audit_log', { account_id: accountId })).to.equal(audits);
    expect((await knex()('sources').where({ id: sourceId }).first()).state).to.deep.equal(stateBefore);
  });

  it('when a full run would deactivate more than the threshold (500), then it stops before any deactivation until re-run with allowDeletes', async () => {
    // 600 more entries gone: 605 deactivations > min(500, 20 % of 10,000).
    await slapd.deleteMany(Array.from({ length: 600 }, (_, i) => dn(8000 + i)));
    const stopped = await run({ mode: 'full' });
    expect(stopped.status).to.equal('stopped_deletion_threshold');
    expect(stopped.counts).to.include({ deactivated: 0, updated: 10 });
    expect(await count('users', { account_id: accountId, active: false })).to.equal(0);
    expect((await knex()('sources').where({ id: sourceId }).first()).status).to.equal('waiting_for_confirmation');

    const allowed = await run({ mode: 'full', allowDeletes: true });
    expect(allowed.status, allowed.error ?? '').to.equal('succeeded');
    expect(allowed.counts).to.include({ deactivated: 605, updated: 0, created: 0 });
    expect(await count('users', { account_id: accountId, active: false })).to.equal(605);
    expect((await userByName(accountId, userName(8000))).active).to.equal(false);
  });

  it('when an admin edits an LDAP-owned attribute, then 400 mutability naming the owner; an unowned attribute edited is kept across syncs', async () => {
    const user = await userByName(accountId, userName(4321));
    const patch = (operations: unknown[]) =>
      t.request.patch(`/accounts/${accountId}/scim/v2/Users/${user.id}`).set('Authorization', `Bearer ${token}`).set('Content-Type', scimJson).send({ schemas: [PATCH], Operations: operations });
    const refused = await patch([{ op: 'replace', path: 'title', value: 'Boss' }]);
    expect(refused.status).to.equal(400);
    expect(refused.body.scimType).to.equal('mutability');
    expect(refused.body.detail).to.match(/title \(owned by source "[^"]+", ldap, id [0-9a-f-]{36}\)/);
    const kept = await patch([{ op: 'replace', path: 'nickName', value: 'Fourty-three' }]);
    expect(kept.status, JSON.stringify(kept.body)).to.equal(200);

    await slapd.modifyLdif(replaceLdif([dn(4321)], 'title', () => 'Architect'));
    const inc = await run({ mode: 'incremental' });
    expect(inc.counts).to.include({ updated: 1 });
    const full = await run({ mode: 'full' });
    expect(full.counts).to.include({ updated: 0, unchanged: ENTRIES - 605 });
    const after = await userByName(accountId, userName(4321));
    expect(after.data).to.include({ title: 'Architect', nickName: 'Fourty-three' });
  });

  it('when a full run is killed after 3,500 records, then the next run resumes with nothing lost or duplicated', async () => {
    const { accountId: otherAccount } = await createAccountWithToken(t, { name: 'Killed Run Co', type: 'customer' });
    const otherSource = await createSource(otherAccount);
    let yielded = 0;
    const dying: Connector = {
      ...(ldapConnector as Connector),
      async *read(config, request, ctx) {
        for await (const item of ldapConnector.read(config as never, request, ctx) as AsyncIterable<SourceItem>) {
          if (item.type === 'record' && ++yielded > 3_500) throw new Error('killed');
          yield item;
        }
      },
    };
    const killed = await engine(dying).run(otherAccount, otherSource, { mode: 'full' });
    expect(killed.status).to.equal('failed');
    expect(killed.error).to.contain('killed');
    expect(killed.counts.created).to.be.within(1_000, 3_500);
    expect(await count('users', { account_id: otherAccount })).to.equal(killed.counts.created);
    expect((await knex()('sources').where({ id: otherSource }).first()).state).to.equal(null);

    const resumed = await engine().run(otherAccount, otherSource, { mode: 'incremental' });
    const present = ENTRIES - 605;
    expect(resumed.status, resumed.error ?? '').to.equal('succeeded');
    expect(resumed.counts).to.include({ created: present - killed.counts.created, unchanged: killed.counts.created, quarantined: 0 });
    expect(await count('users', { account_id: otherAccount })).to.equal(present);
    expect(await count('user_source_links', { account_id: otherAccount, source_id: otherSource })).to.equal(present);
    const distinct = (await knex()('users').where({ account_id: otherAccount }).countDistinct({ n: 'user_name' }).first()) as { n: string | number };
    expect(Number(distinct.n)).to.equal(present);
  });
});
