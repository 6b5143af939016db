import { expect } from 'chai';
import { ldapConnector } from '../../connectors/ldap/index.js';
import type { Connector, SourceItem, SourceRecord } from '../../connectors/sdk/index.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/**
 * The engine applies a batch in one go (batched reads, no savepoint per record) and falls back to record by
 * record when one fails: records of the same batch must still see what earlier ones wrote.
 */
describe('sync engine: batched apply sees earlier records of the same batch', () => {
  let t: TestApp;
  let accountId: string;
  let items: SourceItem[];

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });
  beforeEach(async () => {
    ({ accountId } = await createAccountWithToken(t, { name: `Batch ${Math.random()}`, type: 'customer' }));
  });

  const scripted: Connector = {
    ...(ldapConnector as Connector),
    parseConfig: (config: unknown) => config as never,
    async *read() {
      yield* items;
    },
  };
  const engine = (batchSize = 50) =>
    new SyncEngine({ db: t.deps.db, users: new UserService(t.deps.db.knex, t.clock), clock: t.clock, logger: silentLogger, connectors: new Map([['ldap', scripted]]), batchSize });
  const record = (anchor: string, userName: string, extra: Record<string, unknown> = {}, employeeNumber?: string): SourceRecord => ({
    type: 'record',
    anchor,
    attributes: { userName, emails: [{ value: userName, type: 'work', primary: true }], ...extra } as SourceRecord['attributes'],
    raw: { anchor, userName },
    hardKeys: employeeNumber ? { externalId: anchor, employeeNumber } : { externalId: anchor },
  });
  async function createSource(): Promise<string> {
    const [row] = await t.deps.db.knex('sources').insert({ account_id: accountId, name: `s ${Math.random()}`, kind: 'ldap', config: '{}' }).returning('id');
    return (row as { id: string }).id;
  }

  it('when a later record of the batch has the email of a user an earlier one created, then it is quarantined as already linked', async () => {
    const sourceId = await createSource();
    items = [record('a1', 'ann@example.com'), record('b1', 'ann@example.com'), record('c1', 'cid@example.com')];
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status).to.equal('completed_with_errors');
    expect(run.counts).to.include({ created: 2, quarantined: 1 });
    const bad = await t.deps.db.knex('sync_run_results').where({ account_id: accountId, run_id: run.id, outcome: 'quarantined' }).first();
    expect(bad).to.include({ anchor: 'b1' });
    expect(bad.error).to.match(/already linked to record a1/);
  });

  it('when a later record shares an employeeNumber with one created earlier in the batch, then it matches that user, as record by record', async () => {
    const sourceId = await createSource();
    const e1 = { [ENTERPRISE]: { employeeNumber: 'E1' } };
    items = [record('a1', 'ann@example.com', e1, 'E1'), record('b1', 'bob@example.com', e1, 'E1')];
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.counts).to.include({ created: 1, quarantined: 1 });
    const bad = await t.deps.db.knex('sync_run_results').where({ account_id: accountId, run_id: run.id, outcome: 'quarantined' }).first();
    expect(bad.error).to.match(/by employeeNumber, but it is already linked to record a1/);
  });

  it('when a record names a manager created earlier in the batch, then the manager is the linked user; reruns are unchanged', async () => {
    const sourceId = await createSource();
    items = [
      record('m1', 'boss@example.com'),
      record('e1', 'emp@example.com', { [ENTERPRISE]: { manager: { value: 'm1' } } }),
      record('e2', 'emp2@example.com', { [ENTERPRISE]: { manager: { value: 'nobody' } } }),
    ];
    const first = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(first.counts).to.include({ created: 3, quarantined: 0 });
    const boss = await t.deps.db.knex('users').where({ account_id: accountId, user_name: 'boss@example.com' }).first();
    const emp = await t.deps.db.knex('users').where({ account_id: accountId, user_name: 'emp@example.com' }).first();
    expect(emp.data[ENTERPRISE].manager).to.deep.equal({ value: boss.id });
    const emp2 = await t.deps.db.knex('users').where({ account_id: accountId, user_name: 'emp2@example.com' }).first();
    expect(emp2.data[ENTERPRISE]?.manager).to.equal(undefined);
    const again = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(again.counts).to.include({ unchanged: 3, created: 0, updated: 0 });
  });

  it('when reports come batches before their managers, then the managers are set by the end of the run, waiting in the database, not in the run', async () => {
    const sourceId = await createSource();
    const reports = Array.from({ length: 7 }, (_, i) => record(`e${i}`, `emp${i}@example.com`, { [ENTERPRISE]: { manager: { value: `m${i % 2}` } } }));
    // e6 comes again with no manager after its first record waited for one: the later record is the one kept.
    items = [...reports, record('e6', 'emp6@example.com'), record('m0', 'boss0@example.com'), record('m1', 'boss1@example.com')];
    let waiting = 0;
    const noteWaiting = (q: { sql: string }) => {
      if (/insert into sync_run_managers/.test(q.sql)) waiting++;
    };
    t.deps.db.knex.on('query', noteWaiting);
    const first = await engine(3).run(accountId, sourceId, { mode: 'full' }).finally(() => t.deps.db.knex.off('query', noteWaiting));
    expect(first.counts).to.include({ created: 9, quarantined: 0 });
    expect(waiting, 'batches that noted reports waiting').to.equal(2);
    const users = new Map(((await t.deps.db.knex('users').where({ account_id: accountId })) as { id: string; user_name: string; data: Record<string, { manager?: { value: string } }> }[]).map((u) => [u.user_name, u]));
    for (let i = 0; i < 6; i++) {
      expect(users.get(`emp${i}@example.com`)!.data[ENTERPRISE]?.manager, `manager of emp${i}`).to.deep.equal({ value: users.get(`boss${i % 2}@example.com`)!.id });
    }
    expect(users.get('emp6@example.com')!.data[ENTERPRISE]?.manager).to.equal(undefined);
    expect(await t.deps.db.knex('sync_run_managers').where({ account_id: accountId })).to.have.length(0);
    // The next read, with e6 once: each report's link holds the hash of its record with the manager resolved.
    items = items.filter((_, i) => i !== 6);
    const again = await engine(3).run(accountId, sourceId, { mode: 'full' });
    expect(again.counts).to.include({ unchanged: 9, created: 0, updated: 0 });
  });

  it('when the records of one batch state different attributes, then each link owns exactly the attributes its record states, in its order', async () => {
    const sourceId = await createSource();
    items = [record('a1', 'ann@example.com', { title: 'Boss' }), record('b1', 'bob@example.com'), record('c1', 'cid@example.com', { displayName: 'Cid', title: 'Rep' })];
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.counts).to.include({ created: 3, quarantined: 0 });
    const owned = async (anchor: string) => ((await t.deps.db.knex('user_source_links').where({ account_id: accountId, source_id: sourceId, anchor }).first()) as { owned_attributes: string[] }).owned_attributes;
    expect(await owned('a1')).to.deep.equal(['userName', 'emails', 'title']);
    expect(await owned('b1')).to.deep.equal(['userName', 'emails']);
    expect(await owned('c1')).to.deep.equal(['userName', 'emails', 'displayName', 'title']);
  });

  it('when the same anchor comes twice in a batch, then the second is applied over the first', async () => {
    const sourceId = await createSource();
    items = [record('a1', 'ann@example.com', { title: 'One' }), record('a1', 'ann@example.com', { title: 'Two' }), record('a1', 'ann@example.com', { title: 'Two' })];
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.counts).to.include({ created: 1, updated: 1, unchanged: 1, quarantined: 0 });
    const user = await t.deps.db.knex('users').where({ account_id: accountId, user_name: 'ann@example.com' }).first();
    expect(user.data.title).to.equal('Two');
    const link = await t.deps.db.knex('user_source_links').where({ account_id: accountId, source_id: sourceId, anchor: 'a1' }).first();
    expect(link.hash).to.be.a('string');
  });

  it('when an existing user matches by userName, then the batch links it; a record without anchor is quarantined alone', async () => {
    const admin = { type: 'admin' as const, via: 'token' as const, actor: 'admin:test' };
    await t.deps.db.knex.transaction((trx) => new UserService(t.deps.db.knex, t.clock).apply(trx, accountId, admin, undefined, { userName: 'old@example.com', name: { givenName: 'Old', familyName: 'Admin' }, emails: [{ value: 'old@example.com' }] }));
    const sourceId = await createSource();
    items = [record('o1', 'old@example.com', { title: 'Linked' }), { ...record('', 'none@example.com') }, record('n1', 'new@example.com')];
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.counts).to.include({ updated: 1, created: 1, quarantined: 1 });
    const old = await t.deps.db.knex('users').where({ account_id: accountId, user_name: 'old@example.com' }).first();
    expect(old.data.title).to.equal('Linked');
    expect(await t.deps.db.knex('user_source_links').where({ account_id: accountId, source_id: sourceId, user_id: old.id })).to.have.length(1);
  });

  it('when records read what the batch before them writes, then a run in overlapped batches of 2 ends as the same records in one batch', async () => {
    // Batch n+1 is planned while batch n is written (sync-engine.ts startBatch): a record that reads an anchor, a
    // manager's anchor or a match key of batch n must see it written; the others count its new unique values.
    items = [
      record('m1', 'boss@example.com'), record('a1', 'ann@example.com'),
      // Reads batch 1: its manager's link, a user by email (already linked: quarantined), a userName batch 1 took.
      record('e1', 'emp@example.com', { [ENTERPRISE]: { manager: { value: 'm1' } } }), record('b1', 'ann@example.com'),
      record('x1', 'ANN@example.com', { emails: [{ value: 'other@example.com', type: 'work' }] }, 'X1'), record('c1', 'cid@example.com'),
      // Reads nothing of batch 3: planned while batch 3 is written.
      record('d1', 'dan@example.com'), record('f1', 'fay@example.com'),
    ];
    const outcome = async (batchSize: number) => {
      ({ accountId } = await createAccountWithToken(t, { name: `Overlap ${batchSize} ${Math.random()}`, type: 'customer' }));
      const sourceId = await createSource();
      const run = await engine(batchSize).run(accountId, sourceId, { mode: 'full' });
      const results = (await t.deps.db.knex('sync_run_results').where({ account_id: accountId, run_id: run.id }).orderBy('seq')) as { anchor: string; outcome: string }[];
      const users = (await t.deps.db.knex('users').where({ account_id: accountId }).orderBy('user_name')) as { id: string; user_name: string; data: Record<string, { manager?: { value: string } }> }[];
      const boss = users.find((u) => u.user_name === 'boss@example.com')!;
      const emp = users.find((u) => u.user_name === 'emp@example.com')!;
      return {
        status: run.status, counts: run.counts, results: results.map((r) => `${r.anchor}:${r.outcome}`), userNames: users.map((u) => u.user_name),
        managerIsBoss: emp.data[ENTERPRISE]?.manager?.value === boss.id,
      };
    };
    const overlapped = await outcome(2);
    const single = await outcome(50);
    expect(overlapped).to.deep.equal(single);
    expect(single.results).to.deep.equal(['m1:created', 'a1:created', 'e1:created', 'b1:quarantined', 'x1:quarantined', 'c1:created', 'd1:created', 'f1:created']);
    expect(single.managerIsBoss).to.equal(true);
  });
});
