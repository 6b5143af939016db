import { Writable } from 'node:stream';
import { expect } from 'chai';
import { ldapConnector } from '../../connectors/ldap/index.js';
import type { Connector } from '../../connectors/sdk/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncScheduler } from '../../src/sync/scheduler.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { peopleLdif, startSlapd, type Slapd } from '../support/slapd.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

const EVERY_SECOND = '* * * * * *';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sync scheduler: cron runs of enabled scheduled sources', () => {
  let t: TestApp;
  let slapd: Slapd;
  let accountId: string;
  let engine: SyncEngine;
  let scheduler: SyncScheduler;
  const logLines: { msg: string }[] = [];

  before(async () => {
    t = await createTestApp();
    slapd = await startSlapd({ initialLdif: peopleLdif(5) });
  });
  after(async () => {
    await scheduler?.stop();
    await slapd.stop();
    await t.close();
  });
  beforeEach(async () => {
    ({ accountId } = await createAccountWithToken(t, { name: `Sched ${Math.random()}`, type: 'customer' }));
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(JSON.parse(chunk.toString()) as { msg: string }), done()) }),
    });
    engine = new SyncEngine({ db: t.deps.db, users: new UserService(t.deps.db.knex, t.clock), clock: t.clock, logger, connectors: new Map([['ldap', ldapConnector as Connector]]) });
    scheduler = new SyncScheduler({ db: t.deps.db.knex, engine, clock: t.clock, logger, kinds: ['ldap'], refreshMs: 3_600_000 });
    logLines.length = 0;
  });
  afterEach(async () => {
    await scheduler.stop();
    await engine.drain();
  });

  const knex = () => t.deps.db.knex;
  async function createSource(name: string, columns: Record<string, unknown> = {}): Promise<string> {
    const [row] = await knex()('sources')
      .insert({
        account_id: accountId,
        name,
        kind: 'ldap',
        config: JSON.stringify({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn }),
        ...columns,
      })
      .returning('id');
    return (row as { id: string }).id;
  }
  const runsOf = (sourceId: string) => knex()('sync_runs').where({ account_id: accountId, source_id: sourceId }).orderBy('started_at');
  const key = (sourceId: string) => `${accountId}:${sourceId}`;
  const mine = () => scheduler.scheduledKeys().filter((k) => k.startsWith(`${accountId}:`)).sort();

  async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 8000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await fn();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  it('when started, then only enabled sources with a valid schedule are scheduled, and their cron runs them incrementally', async () => {
    const scheduled = await createSource('scheduled', { schedule: EVERY_SECOND });
    await createSource('manual');
    await createSource('disabled', { schedule: EVERY_SECOND, enabled: false });
    await createSource('bad cron', { schedule: 'every now and then' });

    await scheduler.start();
    expect(mine()).to.deep.equal([key(scheduled)]);

    const [first] = await until('a scheduled run', async () => {
      const runs = await runsOf(scheduled);
      return runs.length > 0 && runs[0].status !== 'running' && runs;
    });
    expect(first).to.include({ trigger: 'schedule', mode: 'incremental', status: 'succeeded' });
    expect(first.counts).to.include({ created: 5 });
    // It keeps running on its schedule (no state change: later runs read nothing new).
    await until('a second scheduled run', async () => (await runsOf(scheduled)).length >= 2);
  });

  it('when a source is backing off, then its tick is skipped until next_retry_at', async () => {
    const sourceId = await createSource('failing', { next_retry_at: new Date(t.clock.now().getTime() + 60_000), consecutive_failures: 1 });
    await scheduler.tick(accountId, sourceId);
    expect(await runsOf(sourceId)).to.have.length(0);
    expect(logLines.some((l) => /backing off/.test(l.msg))).to.equal(true);

    t.clock.advance(61_000);
    await scheduler.tick(accountId, sourceId);
    const runs = await runsOf(sourceId);
    expect(runs).to.have.length(1);
    expect(runs[0]).to.include({ trigger: 'schedule', status: 'succeeded' });
    const source = await knex()('sources').where({ id: sourceId }).first();
    expect(source).to.include({ consecutive_failures: 0, next_retry_at: null });
  });

  it('when a scheduled run fails, then the source backs off and the next tick is skipped', async () => {
    const sourceId = await createSource('wrong password');
    await knex()('sources').where({ id: sourceId }).update({ config: JSON.stringify({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: 'nope', baseDn: slapd.peopleDn }) });
    await scheduler.tick(accountId, sourceId);
    expect((await runsOf(sourceId)).map((r) => r.status)).to.deep.equal(['failed']);
    const source = await knex()('sources').where({ id: sourceId }).first();
    expect(source.consecutive_failures).to.equal(1);
    expect(new Date(source.next_retry_at).getTime()).to.be.greaterThan(t.clock.now().getTime());
    await scheduler.tick(accountId, sourceId);
    expect(await runsOf(sourceId)).to.have.length(1);
  });

  it('when two instances tick for the same cron slot one after the other (the first run already over), then only the first runs it, and the next slot runs again', async () => {
    const sourceId = await createSource('shared');
    const other = new SyncScheduler({ db: t.deps.db.knex, engine, clock: t.clock, logger: createLogger({ level: 'silent' }), kinds: ['ldap'], refreshMs: 3_600_000 });
    const slot = new Date('2026-12-07T02:00:00.000Z');
    await scheduler.tick(accountId, sourceId, slot);
    await other.tick(accountId, sourceId, slot);
    await scheduler.tick(accountId, sourceId, slot);
    expect((await runsOf(sourceId)).map((r) => r.status)).to.deep.equal(['succeeded']);
    await other.tick(accountId, sourceId, new Date(slot.getTime() + 1000));
    expect((await runsOf(sourceId)).map((r) => r.status)).to.deep.equal(['succeeded', 'succeeded']);
  });

  it('when the source is already running, then the tick is skipped without an error', async () => {
    const sourceId = await createSource('busy');
    const { done } = await engine.start(accountId, sourceId, { mode: 'full' });
    await scheduler.tick(accountId, sourceId);
    await done;
    expect(await runsOf(sourceId)).to.have.length(1);
    expect(logLines.some((l) => /could not start/.test(l.msg))).to.equal(false);
  });

  it('when schedules change, then refresh reschedules, schedules and unschedules without a restart', async () => {
    const a = await createSource('a', { schedule: '0 0 1 1 *' });
    const b = await createSource('b', { schedule: '0 0 1 1 *', enabled: false });
    await scheduler.start();
    expect(mine()).to.deep.equal([key(a)]);
    const taskOf = (id: string) => (scheduler as unknown as { tasks: Map<string, { schedule: string; task: unknown }> }).tasks.get(key(id));
    const before = taskOf(a)!.task;

    await knex()('sources').where({ id: b }).update({ enabled: true });
    await knex()('sources').where({ id: a }).update({ schedule: EVERY_SECOND });
    await scheduler.refresh();
    expect(mine()).to.deep.equal([key(a), key(b)].sort());
    expect(taskOf(a)!.schedule).to.equal(EVERY_SECOND);
    expect(taskOf(a)!.task).to.not.equal(before);
    await until('a run on the new schedule', async () => (await runsOf(a)).length > 0);

    await knex()('sources').where({ id: a }).update({ schedule: null });
    await knex()('sources').where({ id: b }).update({ enabled: false });
    await scheduler.refresh();
    expect(mine()).to.deep.equal([]);
  });

  it('when stopped, then no more runs start and runs in flight finish first', async () => {
    const sourceId = await createSource('stops', { schedule: EVERY_SECOND });
    await scheduler.start();
    await until('a scheduled run to start', async () => (await runsOf(sourceId)).length > 0);
    await scheduler.stop();
    expect(scheduler.scheduledKeys()).to.deep.equal([]);
    const count = (await runsOf(sourceId)).length;
    expect((await runsOf(sourceId)).every((r) => r.status !== 'running')).to.equal(true);
    await sleep(2200);
    expect(await runsOf(sourceId)).to.have.length(count);
  });
});
