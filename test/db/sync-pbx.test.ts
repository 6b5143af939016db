import { utimes, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { micloudConnector } from '../../connectors/micloud/index.js';
import { mivbConnector } from '../../connectors/mivb/index.js';
import type { Connector, SourceItem } from '../../connectors/sdk/index.js';
import { micloudPortalExport, mivbExport, mivbRow } from '../../connectors/testing/pbx-fixtures.js';
import { silentLogger } from '../../src/lib/logger.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { putExport, startSshd, type Sshd } from '../support/sshd.js';
import { WriteBackWorker } from '../../src/services/writeback-worker.js';
import { createAccountWithToken, createTestApp, formFields, scimJson, type TestApp } from '../support/test-app.js';
import { chown, mkdir, readFile, readdir } from 'node:fs/promises';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';
const ROWS = 300;

async function ids(): Promise<[number, number]> {
  const { execFileSync } = await import('node:child_process');
  return [Number(execFileSync('id', ['-u', 'switchboard-sftp']).toString()), Number(execFileSync('id', ['-g', 'switchboard-sftp']).toString())];
}

describe('sync engine: PBX exports (MiVB over SFTP, MiCloud Connect) into the database', () => {
  let t: TestApp;
  let sshd: Sshd;
  let accountId: string;
  let token: string;
  let users: UserService;
  let dir: string;

  before(async () => {
    t = await createTestApp();
    sshd = await startSshd();
    dir = await mkdtemp(join(tmpdir(), 'switchboard-pbx-'));
  });
  after(async () => {
    await sshd?.stop();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    ({ accountId, token } = await createAccountWithToken(t, { name: `Acme ${Math.random()}`, type: 'customer' }));
    users = new UserService(t.deps.db.knex, t.clock);
  });

  const knex = () => t.deps.db.knex;
  const connectors = () => new Map<string, Connector>([['mivb', mivbConnector as Connector], ['micloud', micloudConnector as Connector]]);
  const engine = (map = connectors(), batchSize = 50) => new SyncEngine({ db: t.deps.db, users, clock: t.clock, logger: silentLogger, connectors: map, batchSize });
  /** An export older than a second, as a site's nightly export is when it is read. */
  async function publish(name: string, content: string | Buffer): Promise<void> {
    await putExport(sshd, name, content);
    const past = new Date(Date.now() - 60_000 - Math.floor(Math.random() * 60_000));
    await utimes(join(sshd.dir, name), past, past);
  }
  async function mivbSource(file: string, extra: Record<string, unknown> = {}): Promise<string> {
    const [row] = await knex()('sources')
      .insert({
        account_id: accountId,
        name: `mivb ${Math.random()}`,
        kind: 'mivb',
        config: JSON.stringify({ location: sshd.url(`${sshd.dir}/${file}`), password: sshd.password, hostKeySha256: sshd.hostKeySha256, clusterId: 'c1', ...extra }),
      })
      .returning('id');
    return (row as { id: string }).id;
  }
  const userCount = async () => Number(((await knex()('users').where({ account_id: accountId }).count({ n: '*' })) as Array<{ n: string | number }>)[0]!.n);
  const byUserName = async (userName: string) =>
    (await knex()('users').where({ account_id: accountId, user_name: userName }).first()) as { id: string; data: Record<string, unknown>; active: boolean; version: number };
  const results = (runId: string) => knex()('sync_run_results').where({ account_id: accountId, run_id: runId }).orderBy('seq');

  it('when a MiVB export is synced in full, then users carry names, email, extension, the MiVB service, voicemail and department, linked by Login ID', async () => {
    const file = `full-${Math.random()}.csv`;
    await publish(file, mivbExport(ROWS));
    const sourceId = await mivbSource(file);
    const run = await engine().run(accountId, sourceId, { mode: 'full' });
    expect(run.status, run.error ?? '').to.equal('succeeded');
    expect(run.counts).to.include({ created: ROWS, quarantined: 0, skipped: 0 });
    expect(run.idle).to.equal(false);
    const user = await byUserName('user4@example.com');
    expect(user.data.name).to.deep.include({ givenName: mivbRow(4)[0], familyName: mivbRow(4)[1] });
    expect(user.data[SWITCHBOARD]).to.deep.include({ extensions: ['100004'], mivbService: true, voicemail: true });
    expect(user.data[ENTERPRISE]).to.deep.include({ department: 'Dept 4' });
    const link = await knex()('user_source_links').where({ account_id: accountId, user_id: user.id }).first();
    expect(link.anchor).to.equal('login:user4');
    // The seed's "PBX Users" property filter follows the link; these users are not "MiCloud Connected".
    const local = await t.request.post(`/accounts/${accountId}/scim/v2/Users`).set({ Authorization: `Bearer ${token}`, 'Content-Type': scimJson })
      .send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'local@example.com', ...formFields('local@example.com') });
    expect(local.status).to.equal(201);
    const filtered = async (filter: string) =>
      (await t.request.get(`/accounts/${accountId}/scim/v2/Users`).query({ filter, count: 1 }).set({ Authorization: `Bearer ${token}` })).body.totalResults as number;
    expect(await filtered(`${SWITCHBOARD}:connections.pbx eq true`)).to.equal(ROWS);
    expect(await filtered(`${SWITCHBOARD}:connections.micloud eq true`)).to.equal(0);
  });

  it('when the export is unchanged, then the run is idle: succeeded, idle true, every count zero, nothing written', async () => {
    const file = `idle-${Math.random()}.csv`;
    await publish(file, mivbExport(ROWS));
    const sourceId = await mivbSource(file);
    await engine().run(accountId, sourceId, { mode: 'full' });
    const before = await knex()('users').where({ account_id: accountId }).max({ v: 'updated_at' });
    const idle = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(idle.status).to.equal('succeeded');
    expect(idle.idle).to.equal(true);
    expect(Object.entries(idle.counts).filter(([, n]) => n !== 0)).to.deep.equal([]);
    expect(idle.counts).to.include({ created: 0, updated: 0, unchanged: 0, deactivated: 0, deleted: 0, quarantined: 0, skipped: 0 });
    expect(await results(idle.id)).to.deep.equal([]);
    expect(await knex()('users').where({ account_id: accountId }).max({ v: 'updated_at' })).to.deep.equal(before);
    // The same content written again (a new file time) is hashed and still idle.
    await publish(file, mivbExport(ROWS));
    const again = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(again.idle).to.equal(true);
  });

  it('when 100 rows change and one is removed, then 100 users are updated and the removed one deactivated', async () => {
    const file = `changed-${Math.random()}.csv`;
    await publish(file, mivbExport(ROWS));
    const sourceId = await mivbSource(file);
    await engine().run(accountId, sourceId, { mode: 'full' });
    const changed = new Set(Array.from({ length: 100 }, (_, i) => i * 2));
    await publish(file, mivbExport(ROWS, { changed: { indexes: changed, version: 2 }, without: new Set([299]) }));
    const run = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(run.status, run.error ?? '').to.equal('succeeded');
    expect(run.counts).to.include({ created: 0, updated: 100, unchanged: ROWS - 101, deactivated: 1 });
    expect((await byUserName('user2@example.com')).data[ENTERPRISE]).to.deep.include({ department: 'Dept 2 v2' });
    expect((await byUserName('user299@example.com')).active).to.equal(false);
  });

  it('when the export is truncated to a header and a few rows, then the deletion threshold stops the run and nobody is deactivated', async () => {
    const file = `trunc-${Math.random()}.csv`;
    await publish(file, mivbExport(ROWS));
    const sourceId = await mivbSource(file);
    await engine().run(accountId, sourceId, { mode: 'full' });
    await publish(file, mivbExport(5));
    const run = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(run.status).to.equal('stopped_deletion_threshold');
    expect(run.error).to.match(/295 of 300 linked users would be deactivated/);
    expect(await knex()('users').where({ account_id: accountId, active: false })).to.have.length(0);
    // The state did not move: the next scheduled run reads the export again instead of finding it idle.
    const rerun = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(rerun.status).to.equal('stopped_deletion_threshold');
  });

  it('when two rows share a directory number, then both are quarantined with their lines, neither user is merged or deactivated', async () => {
    const file = `dn-${Math.random()}.csv`;
    await publish(file, mivbExport(20));
    const sourceId = await mivbSource(file);
    await engine().run(accountId, sourceId, { mode: 'full' });
    const intruder = mivbRow(500);
    intruder[4] = mivbRow(3)[4];
    await publish(file, mivbExport(20, { extraLines: [intruder.join(',')] }));
    const run = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(run.status).to.equal('completed_with_errors');
    expect(run.counts).to.include({ created: 0, quarantined: 2, deactivated: 0, unchanged: 19 });
    const quarantined = (await results(run.id)).filter((r: { outcome: string }) => r.outcome === 'quarantined');
    expect(quarantined.map((r: { anchor: string; error: string }) => [r.anchor, r.error])).to.deep.equal([
      ['login:user3', 'line 5: Directory Number 100003 (cluster c1) is on lines 5, 22: a conflict, every row quarantined (never merged)'],
      ['login:user500', 'line 22: Directory Number 100003 (cluster c1) is on lines 5, 22: a conflict, every row quarantined (never merged)'],
    ]);
    expect((await byUserName('user3@example.com')).active).to.equal(true);
    expect(await byUserName('user500@example.com')).to.equal(undefined);
  });

  it('when a row is malformed, then it is quarantined with its line number and the others are synced', async () => {
    const file = `bad-${Math.random()}.csv`;
    await publish(file, mivbExport(10, { extraLines: ['Broken,row'] }));
    const run = await engine().run(accountId, await mivbSource(file), { mode: 'full' });
    expect(run.status).to.equal('completed_with_errors');
    expect(run.counts).to.include({ created: 10, quarantined: 1 });
    const [bad] = (await results(run.id)).filter((r: { outcome: string }) => r.outcome === 'quarantined');
    expect(bad).to.include({ anchor: null, error: 'line 12: 2 fields where the header has 10' });
  });

  it('when a required column is missing, then the run fails naming it and nothing changes', async () => {
    const file = `nocol-${Math.random()}.csv`;
    await publish(file, mivbExport(10).replace('Last Name', 'Surname'));
    const run = await engine().run(accountId, await mivbSource(file), { mode: 'full' });
    expect(run.status).to.equal('failed');
    expect(run.error).to.match(/missing required column "Last Name"/);
    expect(await userCount()).to.equal(0);
  });

  it('when a run is killed half way, then the next run resumes: every user exactly once, nothing lost', async () => {
    const file = `kill-${Math.random()}.csv`;
    await publish(file, mivbExport(ROWS));
    const sourceId = await mivbSource(file);
    const controller = new AbortController();
    // A connector that aborts the run after 120 records have been read (the writes of earlier batches commit).
    const killing: Connector = {
      ...(mivbConnector as Connector),
      async *read(config, request, ctx) {
        let n = 0;
        for await (const item of mivbConnector.read(config as never, request, ctx) as AsyncIterable<SourceItem>) {
          if (item.type === 'record' && ++n === 120) controller.abort(new Error('killed'));
          yield item;
        }
      },
    };
    const killed = await engine(new Map([['mivb', killing]])).run(accountId, sourceId, { mode: 'full', signal: controller.signal });
    expect(killed.status).to.equal('failed');
    const partial = await userCount();
    expect(partial).to.be.greaterThan(0).and.lessThan(ROWS);
    const resumed = await engine().run(accountId, sourceId, { mode: 'incremental' });
    expect(resumed.status, resumed.error ?? '').to.equal('succeeded');
    expect(resumed.counts).to.include({ created: ROWS - partial, unchanged: partial, deactivated: 0 });
    expect(await userCount()).to.equal(ROWS);
    const anchors = await knex()('user_source_links').where({ account_id: accountId, source_id: sourceId }).select('anchor');
    expect(new Set(anchors.map((a: { anchor: string }) => a.anchor)).size).to.equal(ROWS);
  });

  describe('the seed\'s MiVB username, written back once', () => {
    const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
    const api = (path: string) => `/accounts/${accountId}/scim/v2${path}`;
    const auth = () => ({ Authorization: `Bearer ${token}`, 'Content-Type': scimJson });
    const patch = (id: string, operations: unknown[]) => t.request.patch(api(`/Users/${id}`)).set(auth()).send({ schemas: [PATCH], Operations: operations });
    const outbox = () => knex()('writeback_outbox').where({ account_id: accountId });

    it('when an admin adds the MiVB service with a username, then one MiCollab provisioning file is put into writeBack, and never again', async () => {
      const writeBackDir = join(sshd.dir, `wb-${Math.random().toString(36).slice(2)}`);
      await mkdir(writeBackDir);
      await chown(writeBackDir, ...(await ids()));
      const file = `wb-${Math.random()}.csv`;
      await publish(file, mivbExport(3));
      const sourceId = await mivbSource(file, { writeBack: { location: sshd.url(writeBackDir), password: sshd.password, hostKeySha256: sshd.hostKeySha256, role: 'UCC Premium' } });
      await engine().run(accountId, sourceId, { mode: 'full' });

      const created = await t.request.post(api('/Users')).set(auth()).send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'jane@example.com', ...formFields('jane@example.com', 'Jane', 'Doe') });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const id = created.body.id as string;
      const added = await patch(id, [{ op: 'add', path: `${SWITCHBOARD}:mivbService`, value: true }, { op: 'add', path: `${SWITCHBOARD}:username`, value: 'jdoe' }]);
      expect(added.status, JSON.stringify(added.body)).to.equal(200);
      const [row] = await outbox();
      expect(row).to.include({ user_id: id, source_id: sourceId, kind: 'username', status: 'pending' });

      const worker = new WriteBackWorker({ db: knex(), clock: t.clock, logger: silentLogger, connectors: connectors() });
      expect(await worker.runOnce()).to.equal(1);
      expect(await readdir(writeBackDir)).to.deep.equal([`switchboard-username-${id}.csv`]);
      expect(await readFile(join(writeBackDir, `switchboard-username-${id}.csv`), 'utf8')).to.equal(
        'First Name,Last Name,Login ID,Email Address,Role\r\nJane,Doe,jdoe,jane@example.com,UCC Premium\r\n',
      );
      expect((await outbox())[0]).to.include({ status: 'delivered', target: `${sshd.url(writeBackDir)}/switchboard-username-${id}.csv` });

      // A later username edit, and the service removed and added again with another username: not written back.
      expect((await patch(id, [{ op: 'replace', path: `${SWITCHBOARD}:username`, value: 'jane.doe' }])).status).to.equal(200);
      expect((await patch(id, [{ op: 'replace', path: `${SWITCHBOARD}:mivbService`, value: false }])).status).to.equal(200);
      expect((await patch(id, [{ op: 'replace', path: `${SWITCHBOARD}:mivbService`, value: true }, { op: 'replace', path: `${SWITCHBOARD}:username`, value: 'jd2' }])).status).to.equal(200);
      expect(await outbox()).to.have.length(1);
      expect(await worker.runOnce()).to.equal(0);
      expect(await readdir(writeBackDir)).to.have.length(1);

      // The PBX export later carries the user under another Login ID: the username stays the one the admin set.
      const row3 = mivbRow(3);
      await publish(file, mivbExport(3, { extraLines: [['Jane', 'Doe', 'jdoe-pbx', 'jane@example.com', '4242', '6930', 'No', 'MIVB1', 'UCC', 'Sales'].join(','), row3.join(',')] }));
      const synced = await engine().run(accountId, sourceId, { mode: 'incremental' });
      expect(synced.status, synced.error ?? '').to.equal('succeeded');
      const jane = await t.request.get(api(`/Users/${id}`)).set(auth());
      expect(jane.body[SWITCHBOARD]).to.deep.include({ username: 'jd2', extensions: ['4242'] });
    });

    it('when the delivery fails (no writeBack location), then the row stays pending with the reason and is retried later', async () => {
      const file = `nowb-${Math.random()}.csv`;
      await publish(file, mivbExport(1));
      const sourceId = await mivbSource(file);
      const created = await t.request.post(api('/Users')).set(auth()).send({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'sam@example.com', ...formFields('sam@example.com', 'Sam', 'Roe'),
        [SWITCHBOARD]: { mivbService: true, username: 'sroe' },
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const worker = new WriteBackWorker({ db: knex(), clock: t.clock, logger: silentLogger, connectors: connectors() });
      expect(await worker.runOnce()).to.equal(0);
      const [row] = await outbox();
      expect(row).to.include({ source_id: sourceId, status: 'pending', attempts: 1 });
      expect(row.last_error).to.match(/no writeBack location/);
      expect(await worker.runOnce()).to.equal(0);
      expect((await outbox())[0].attempts).to.equal(1);
    });
  });

  describe('MiCloud Connect', () => {
    async function micloudSource(file: string): Promise<string> {
      const [row] = await knex()('sources')
        .insert({ account_id: accountId, name: `micloud ${Math.random()}`, kind: 'micloud', config: JSON.stringify({ location: `file://${join(dir, file)}`, defaultCountry: 'US' }) })
        .returning('id');
      return (row as { id: string }).id;
    }

    it('when the portal export holds contacts, then they are counted as skipped and the users (extension-only ones too) are created', async () => {
      const file = `mc-${Math.random()}.csv`;
      await writeFile(join(dir, file), micloudPortalExport(12, 5));
      const run = await engine().run(accountId, await micloudSource(file), { mode: 'full' });
      expect(run.status, run.error ?? '').to.equal('succeeded');
      expect(run.counts).to.include({ created: 12, skipped: 5, quarantined: 0 });
      const connected = await t.request.get(`/accounts/${accountId}/scim/v2/Users`).query({ filter: `${SWITCHBOARD}:connections.micloud eq true`, count: 1 }).set({ Authorization: `Bearer ${token}` });
      expect(connected.body.totalResults, 'the "MiCloud Connected" filter').to.equal(12);
      const extensionOnly = await byUserName('mc0@example.com');
      expect(extensionOnly.data[SWITCHBOARD]).to.deep.include({ extensions: ['2000'] });
      expect(extensionOnly.data.phoneNumbers ?? []).to.deep.equal([]);
    });

    it('when a MiCloud user is gone from the export, then sync deactivates it and never deletes it, even after the grace period', async () => {
      const file = `mc-gone-${Math.random()}.csv`;
      await writeFile(join(dir, file), micloudPortalExport(12, 0));
      const sourceId = await micloudSource(file);
      await engine().run(accountId, sourceId, { mode: 'full' });
      await writeFile(join(dir, file), micloudPortalExport(11, 0));
      const run = await engine().run(accountId, sourceId, { mode: 'incremental' });
      expect(run.counts).to.include({ deactivated: 1 });
      const gone = await byUserName('mc11@example.com');
      expect(gone.active).to.equal(false);
      t.clock.advance(40 * 24 * 3600_000);
      const later = await engine().run(accountId, sourceId, { mode: 'full' });
      expect(later.counts.deleted).to.equal(0);
      expect(await byUserName('mc11@example.com')).to.not.equal(undefined);
    });
  });
});
