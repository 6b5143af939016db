import { expect } from 'chai';
import { ConnectorError } from '../../connectors/sdk/index.js';
import { personRecord, ScriptedDirectory, scriptedConnector } from '../../connectors/testing/scripted-connector.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

/** The sync engine's run, batches, checkpoints, deletions and failures, over a scripted connector (no directory server). */
describe('sync engine: runs over a scripted connector', () => {
  let t: TestApp;
  let accountId: string;
  let directory: ScriptedDirectory;

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });
  beforeEach(async () => {
    ({ accountId } = await createAccountWithToken(t, { name: `Scripted ${Math.random()}`, type: 'customer' }));
    directory = new ScriptedDirectory();
    for (let i = 0; i < 25; i++) directory.put(personRecord(`p${i}`, `person${i}@example.com`, { title: 'Engineer' }));
  });

  const knex = () => t.deps.db.knex;
  const engine = (batchSize = 10) =>
    new SyncEngine({
      db: t.deps.db, users: new UserService(knex(), t.clock), clock: t.clock, logger: silentLogger,
      connectors: new Map([['ldap', scriptedConnector(directory)]]), batchSize,
    });
  async function createSource(overrides: Record<string, unknown> = {}): Promise<string> {
    const [row] = await knex()('sources').insert({ account_id: accountId, name: `s ${Math.random()}`, kind: 'ldap', config: '{}', ...overrides }).returning('id');
    return (row as { id: string }).id;
  }
  const userCount = async () => Number(((await knex()('users').where({ account_id: accountId }).count({ n: '*' })) as { n: string }[])[0]!.n);
  const stateOf = async (sourceId: string) => (await knex()('sources').where({ id: sourceId }).first()).state as { change: number } | null;

  it('when a full read runs twice, then the first creates every user with its link and the second changes nothing', async () => {
    const sourceId = await createSource();
    const first = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(first.status).to.equal('succeeded');
    expect(first.counts).to.include({ created: 25, updated: 0, quarantined: 0 });
    expect(await userCount()).to.equal(25);
    expect(await knex()('user_source_links').where({ account_id: accountId, source_id: sourceId })).to.have.length(25);
    const second = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(second.counts).to.include({ created: 0, updated: 0, unchanged: 25 });
  });

  it('when records change after a checkpoint, then an incremental run reads from it and updates only those', async () => {
    const sourceId = await createSource();
    await engine().run(accountId, sourceId, { mode: 'full' });
    directory.put(personRecord('p3', 'person3@example.com', { title: 'Lead' }), personRecord('p30', 'new30@example.com'));
    const run = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(directory.reads.at(-1)).to.deep.equal({ mode: 'incremental', state: { change: 25 } });
    expect(run.counts).to.include({ created: 1, updated: 1, unchanged: 0 });
    const p3 = await knex()('users').where({ account_id: accountId, user_name: 'person3@example.com' }).first();
    expect(p3.data.title).to.equal('Lead');
    expect((await stateOf(sourceId))?.change).to.equal(27);
  });

  it('when the read fails half-way, then the checkpoints before the failure are kept and the next run resumes with nothing lost or duplicated', async () => {
    const sourceId = await createSource();
    directory.checkpointEvery = 10;
    directory.failAfterRecords = 15;
    const killed = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(killed.status).to.equal('failed');
    expect(killed.error).to.contain('scripted failure after 15 records');
    expect(killed.counts.created).to.equal(10);
    expect(await stateOf(sourceId)).to.deep.equal({ change: 25, partial: 10 });
    directory.failAfterRecords = undefined;
    const resumed = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(resumed.counts).to.include({ created: 15, unchanged: 10 });
    expect(await userCount()).to.equal(25);
  });

  it('when the source refuses the credentials before the first item, then the run fails with the kind and no user is touched', async () => {
    const sourceId = await createSource();
    directory.failBeforeRead = new ConnectorError('auth', 'invalid credentials');
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status).to.equal('failed');
    expect(run.error).to.equal('auth: invalid credentials');
    expect(await userCount()).to.equal(0);
  });

  it('when records are deleted, then an incremental read deactivates them by its delete items; past the threshold a full read stops until allowDeletes', async () => {
    const sourceId = await createSource({ delete_threshold_count: 3, delete_threshold_percent: 100 });
    await engine().run(accountId, sourceId, { mode: 'full' });
    directory.remove('p1', 'p2');
    const incremental = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(incremental.status).to.equal('succeeded');
    expect(incremental.counts.deactivated).to.equal(2);
    const p1 = await knex()('users').where({ account_id: accountId, user_name: 'person1@example.com' }).first();
    expect(p1.active).to.equal(false);

    directory.remove('p3', 'p4', 'p5', 'p6');
    const stopped = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(stopped.status).to.equal('stopped_deletion_threshold');
    expect(stopped.error).to.match(/4 of 23 linked users would be deactivated, more than the limit of 3/);
    expect((await knex()('users').where({ account_id: accountId, user_name: 'person3@example.com' }).first()).active).to.equal(true);
    const confirmed = await engine().run(accountId, sourceId, { mode: 'full', allowDeletes: true });
    expect(confirmed.counts.deactivated).to.equal(4);

    directory.put(personRecord('p1', 'person1@example.com', { title: 'Engineer' }));
    const back = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(back.counts.updated).to.equal(1);
    expect((await knex()('users').where({ account_id: accountId, user_name: 'person1@example.com' }).first()).active).to.equal(true);
  });

  it('when a full read misses more users than a batch, then the deletion phase deactivates them all page by page, a dry run only reports them, and no anchor the runs read is kept', async () => {
    const sourceId = await createSource({ delete_threshold_count: 100, delete_threshold_percent: 100 });
    await engine().run(accountId, sourceId, { mode: 'full' });
    const gone = Array.from({ length: 23 }, (_, i) => `p${i + 2}`);
    directory.remove(...gone);
    const dry = await engine().run(accountId, sourceId, { mode: 'full', dryRun: true });
    expect(dry.counts.deactivated).to.equal(23);
    expect(await knex()('users').where({ account_id: accountId, active: false }).count({ n: '*' }).then((r) => Number(r[0]!.n))).to.equal(0);
    // What a killed run read is left behind: the source's next run clears it.
    await knex()('sync_run_seen').insert(gone.map((anchor) => ({ account_id: accountId, source_id: sourceId, run_id: dry.id, anchor })));

    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status).to.equal('succeeded');
    expect(run.counts).to.include({ deactivated: 23, unchanged: 2 });
    const inactive = await knex()('users').where({ account_id: accountId, active: false }).pluck('user_name');
    expect(inactive.sort()).to.deep.equal(gone.map((a) => `person${a.slice(1)}@example.com`).sort());
    const results = await knex()('sync_run_results').where({ account_id: accountId, run_id: run.id, outcome: 'deactivated' }).pluck('anchor');
    expect(results.sort()).to.deep.equal([...gone].sort());
    expect(await stateOf(sourceId)).to.not.equal(null);
    expect(await knex()('sync_run_seen').where({ source_id: sourceId }).count({ n: '*' }).then((r) => Number(r[0]!.n))).to.equal(0);

    const again = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(again.counts).to.include({ deactivated: 0, unchanged: 2 });
  });

  it('when a record is refused by the write plan, then it is quarantined with its reason and the rest of the batch is written', async () => {
    const sourceId = await createSource();
    directory.put(personRecord('bad', ''));
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status).to.equal('completed_with_errors');
    expect(run.counts).to.include({ created: 25, quarantined: 1 });
    const bad = await knex()('sync_run_results').where({ account_id: accountId, run_id: run.id, outcome: 'quarantined' }).first();
    expect(bad).to.include({ anchor: 'bad', error: 'invalidValue: userName is required and must not be empty' });
  });

  it('when a dry run is made, then it reports what would change and nothing is stored', async () => {
    const sourceId = await createSource();
    const run = await engine().run(accountId, sourceId, { mode: 'full', dryRun: true });
    expect(run.counts.created).to.equal(25);
    expect(await userCount()).to.equal(0);
    expect(await stateOf(sourceId)).to.equal(null);
    const rows = await knex()('sync_run_results').where({ account_id: accountId, run_id: run.id });
    expect(rows.every((r: { user_id: string | null }) => r.user_id === null)).to.equal(true);
  });
});
