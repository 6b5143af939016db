import { expect } from 'chai';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '../support/test-database.js';
import { startSmtpTestServer, type SmtpTestServer } from '../support/smtp-test-server.js';
import { openDatabase, type Executor } from '../../src/db/database.js';
import { ManualClock, systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { MailWorker, type MailWorkerOptions } from '../../src/services/mail/mail-worker.js';
import { createSmtpMailer, type Mailer } from '../../src/services/mail/mailer.js';
import { renderMail } from '../../src/services/mail/mail-templates.js';
import { claimDue, countByStatus, enqueue, findByAction, findById, retryDelayMs } from '../../src/db/outbox-repo.js';

const FROM = 'Switchboard <no-reply@switchboard.test>';

async function createAccount(db: Executor, name = 'Acme & Sons'): Promise<string> {
  const [row] = await db('accounts').insert({ type: 'customer', name }).returning('id');
  return (row as { id: string }).id;
}

async function enqueueWelcome(trx: Executor, accountId: string, n: number, actionId?: string) {
  const mail = renderMail({
    kind: 'welcome',
    accountName: 'Acme & Sons',
    user: { displayName: `User ${n}`, userName: `user${n}`, email: `user${n}@example.test` },
    link: `https://portal.example.test/register?token=t${n}`,
  });
  return enqueue(trx, accountId, { kind: 'welcome', to: `user${n}@example.test`, ...mail, actionId, messageIdDomain: 'switchboard.test' });
}

/** A clock a little ahead of the database's now(), so rows enqueued with the default next_attempt_at are due. */
function manualClock(): ManualClock {
  return new ManualClock(new Date(Date.now() + 5_000));
}

function messageIds(server: SmtpTestServer): string[] {
  return server.messages.map((m) => m.messageId ?? '');
}

describe(`mail outbox (${testDatabaseKind})`, function () {
  let db: TestDatabase;
  let server: SmtpTestServer | undefined;
  const mailers: Mailer[] = [];
  const workers: MailWorker[] = [];

  function worker(overrides: Partial<MailWorkerOptions> & { mailer?: Mailer } = {}): MailWorker {
    let mailer = overrides.mailer;
    if (!mailer) {
      mailer = createSmtpMailer(server!.url);
      mailers.push(mailer);
    }
    const w = new MailWorker({ db: db.knex, clock: systemClock, logger: silentLogger, from: FROM, ...overrides, mailer });
    workers.push(w);
    return w;
  }

  beforeEach(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    for (const m of mailers.splice(0)) await m.close();
    await server?.stop();
    server = undefined;
    await db.close();
  });

  it('when the transaction that enqueued a message rolls back, then nothing is ever sent', async () => {
    server = await startSmtpTestServer();
    const accountId = await createAccount(db.knex);
    const failure = new Error('the action failed');
    try {
      await db.knex.transaction(async (trx) => {
        await enqueueWelcome(trx, accountId, 1);
        throw failure;
      });
    } catch (error) {
      expect(error).to.equal(failure);
    }
    await worker().drain();
    expect(server.messages).to.have.length(0);
    expect(await countByStatus(db.knex)).to.deep.equal({ pending: 0, sending: 0, sent: 0, failed: 0 });
  });

  it('when a committed message is drained, then the SMTP server receives it once with subject, bodies and Message-ID intact', async () => {
    server = await startSmtpTestServer();
    const accountId = await createAccount(db.knex);
    const { id, messageId } = await db.knex.transaction((trx) => enqueueWelcome(trx, accountId, 7));
    const w = worker();

    await w.drain();
    await w.drain();

    expect(server.messages).to.have.length(1);
    const [received] = server.messages;
    expect(received.messageId).to.equal(messageId);
    expect(messageId).to.match(/^<[0-9a-f-]{36}@switchboard\.test>$/);
    expect(received.subject).to.equal('Welcome to Acme & Sons');
    expect(received.text).to.contain('https://portal.example.test/register?token=t7');
    expect(received.html).to.contain('href="https://portal.example.test/register?token=t7"');
    expect(received.html).to.contain('Acme &amp; Sons');
    expect(received.to && !Array.isArray(received.to) ? received.to.text : '').to.equal('user7@example.test');
    expect(received.from?.text).to.contain('no-reply@switchboard.test');
    const row = await findById(db.knex, accountId, id);
    expect(row).to.include({ status: 'sent', attempts: 1, lastError: null, leaseUntil: null });
    expect(row!.sentAt).to.be.instanceOf(Date);
  });

  it('when the server refuses a message temporarily once, then it is retried after the backoff and delivered once with attempts 2', async () => {
    server = await startSmtpTestServer({ failFirst: 1, failWith: 'temporary' });
    const accountId = await createAccount(db.knex);
    const { id, messageId } = await enqueueWelcome(db.knex, accountId, 1);
    const clock = manualClock();
    const w = worker({ clock });

    await w.drain();
    const waiting = await findById(db.knex, accountId, id);
    expect(waiting).to.include({ status: 'pending', attempts: 1 });
    expect(waiting!.lastError).to.match(/451/);
    expect(waiting!.nextAttemptAt.getTime()).to.equal(clock.now().getTime() + retryDelayMs(1));
    expect(server.messages).to.have.length(0);

    clock.advance(retryDelayMs(1) - 1);
    await w.drain(); // not due yet
    expect(server.refused).to.equal(1);
    expect(server.messages).to.have.length(0);

    clock.advance(1);
    await w.drain();
    expect(server.messages).to.have.length(1);
    expect(server.messages[0].messageId).to.equal(messageId);
    expect(await findById(db.knex, accountId, id)).to.include({ status: 'sent', attempts: 2, lastError: null });
  });

  it('when the server refuses a message permanently, then it is marked failed with the error and never retried', async () => {
    server = await startSmtpTestServer({ failFirst: 1, failWith: 'permanent' });
    const accountId = await createAccount(db.knex);
    const { id } = await enqueueWelcome(db.knex, accountId, 1);
    const clock = manualClock();
    const w = worker({ clock });

    await w.drain();
    clock.advance(24 * 3600_000);
    await w.drain();

    const row = await findById(db.knex, accountId, id);
    expect(row).to.include({ status: 'failed', attempts: 1 });
    expect(row!.lastError).to.match(/550/).and.match(/Mailbox unavailable/);
    expect(server.refused).to.equal(1);
    expect(server.messages).to.have.length(0);
  });

  it('when the SMTP server refuses the connection, then the message waits for a retry with the error recorded', async () => {
    const closed = await startSmtpTestServer();
    const url = closed.url;
    await closed.stop();
    const accountId = await createAccount(db.knex);
    const { id } = await enqueueWelcome(db.knex, accountId, 1);
    const mailer = createSmtpMailer(url);
    mailers.push(mailer);

    await worker({ mailer, clock: manualClock() }).drain();

    const row = await findById(db.knex, accountId, id);
    expect(row).to.include({ status: 'pending', attempts: 1 });
    expect(row!.lastError).to.match(/ECONNREFUSED|ECONNECTION|ESOCKET/);
  });

  it('when temporary failures use up maxAttempts, then the message is marked failed', async () => {
    server = await startSmtpTestServer({ failFirst: 10, failWith: 'temporary' });
    const accountId = await createAccount(db.knex);
    const { id } = await enqueueWelcome(db.knex, accountId, 1);
    const clock = manualClock();
    const w = worker({ clock, maxAttempts: 3 });

    for (let i = 0; i < 5; i++) {
      await w.drain();
      clock.advance(retryDelayMs(10));
    }

    expect(await findById(db.knex, accountId, id)).to.include({ status: 'failed', attempts: 3 });
    expect(server.refused).to.equal(3);
  });

  it('when a worker died holding a claim, then the message is claimed again only after the lease and delivered once', async () => {
    server = await startSmtpTestServer();
    const accountId = await createAccount(db.knex);
    const { id, messageId } = await enqueueWelcome(db.knex, accountId, 1);
    const clock = manualClock();
    const [claimed] = await claimDue(db.knex, 10, clock.now(), 60_000); // the worker that dies
    expect(claimed).to.include({ id, status: 'sending', attempts: 1 });

    await worker({ clock, leaseMs: 60_000 }).drain();
    expect(server.messages).to.have.length(0);
    expect(await claimDue(db.knex, 10, clock.now(), 60_000)).to.have.length(0);

    clock.advance(60_001);
    await worker({ clock, leaseMs: 60_000 }).drain();
    expect(messageIds(server)).to.deep.equal([messageId]);
    expect(await findById(db.knex, accountId, id)).to.include({ status: 'sent', attempts: 2 });
  });

  it('when a worker is stopped mid-way and a new one started, then the rest is delivered and nothing twice', async () => {
    server = await startSmtpTestServer({ delayMs: 20 });
    const accountId = await createAccount(db.knex);
    const expected: string[] = [];
    await db.knex.transaction(async (trx) => {
      for (let i = 0; i < 60; i++) expected.push((await enqueueWelcome(trx, accountId, i)).messageId);
    });
    const first = worker({ concurrency: 4, batchSize: 20 });
    first.start();
    await server.waitFor(10);
    await first.stop();
    const afterStop = await countByStatus(db.knex);
    expect(afterStop.sending).to.equal(0);
    expect(afterStop.sent).to.equal(server.messages.length);
    expect(afterStop.sent).to.be.lessThan(60);

    await worker({ concurrency: 4 }).drain();

    expect(messageIds(server)).to.have.length(60);
    expect([...messageIds(server)].sort()).to.deep.equal([...expected].sort());
    expect(await countByStatus(db.knex)).to.deep.equal({ pending: 0, sending: 0, sent: 60, failed: 0 });
    const { rows } = await db.knex.raw(`select max(attempts) as max from outbox`);
    expect(Number(rows[0].max)).to.equal(1);
  });

  it('when a started worker is woken after a commit, then it delivers without waiting for the poll', async () => {
    server = await startSmtpTestServer();
    const accountId = await createAccount(db.knex);
    const w = worker({ pollIntervalMs: 60_000 });
    w.start();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the worker has polled once and sleeps
    await db.knex.transaction((trx) => enqueueWelcome(trx, accountId, 1));
    w.wake();
    await server.waitFor(1, 5_000);
    expect(server.messages).to.have.length(1);
  });

  it('when an action enqueues emails, then findByAction returns them and countByStatus counts per account', async () => {
    const accountId = await createAccount(db.knex);
    const otherId = await createAccount(db.knex, 'Other');
    const actionId = '00000000-0000-4000-8000-000000000001';
    await enqueueWelcome(db.knex, accountId, 1, actionId);
    await enqueueWelcome(db.knex, accountId, 2, actionId);
    await enqueueWelcome(db.knex, accountId, 3);
    await enqueueWelcome(db.knex, otherId, 4, actionId);

    const rows = await findByAction(db.knex, accountId, actionId);
    expect(rows.map((r) => r.to)).to.deep.equal(['user1@example.test', 'user2@example.test']);
    expect(rows.every((r) => r.accountId === accountId && r.status === 'pending')).to.equal(true);
    expect(await countByStatus(db.knex, accountId)).to.deep.equal({ pending: 3, sending: 0, sent: 0, failed: 0 });
    expect((await countByStatus(db.knex)).pending).to.equal(4);
  });

  it('when a credentials email is delivered, then its bodies are removed from the outbox', async () => {
    server = await startSmtpTestServer();
    const accountId = await createAccount(db.knex);
    const mail = renderMail({
      kind: 'mivb_deployment_credentials',
      accountName: 'Acme',
      user: { displayName: 'Ann', userName: 'ann', email: 'ann@example.test' },
      details: { userPortalPassword: 'S3cret-Portal', phonePin: '4711' },
    });
    const { id } = await enqueue(db.knex, accountId, { kind: 'mivb_deployment_credentials', to: 'ann@example.test', ...mail });

    await worker().drain();

    expect(server.messages[0].text).to.contain('S3cret-Portal').and.contain('4711');
    const row = await findById(db.knex, accountId, id);
    expect(row).to.include({ status: 'sent' });
    expect(row!.text + row!.html).not.to.contain('S3cret-Portal');
  });

  // PGlite is one connection in one process: two workers on one database only mean something on PostgreSQL.
  const multiProcessTests = testDatabaseKind === 'postgres' ? [twoWorkersTest] : [];
  for (const test of multiProcessTests) test();

  function twoWorkersTest() {
    it('when two workers drain the same PostgreSQL outbox of 200 messages, then each message is received exactly once', async () => {
      server = await startSmtpTestServer();
      const accountId = await createAccount(db.knex);
      const expected: string[] = [];
      await db.knex.transaction(async (trx) => {
        for (let i = 0; i < 200; i++) expected.push((await enqueueWelcome(trx, accountId, i)).messageId);
      });
      const second = await openDatabase({ databaseUrl: db.url!, poolMax: 10 });
      try {
        const a = worker({ batchSize: 10 });
        const b = worker({ batchSize: 10, db: second.knex });
        a.start();
        b.start();
        await Promise.all([a.drain(), b.drain()]);
        await server.waitFor(200, 10_000);
        await Promise.all([a.stop(), b.stop()]);

        expect(messageIds(server)).to.have.length(200);
        expect(new Set(messageIds(server)).size).to.equal(200);
        expect([...messageIds(server)].sort()).to.deep.equal([...expected].sort());
        expect(await countByStatus(db.knex)).to.deep.equal({ pending: 0, sending: 0, sent: 200, failed: 0 });
      } finally {
        await second.close();
      }
    });
  }
});
