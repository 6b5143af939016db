import { pathToFileURL } from 'node:url';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { MailWorker } from '../src/services/mail/mail-worker.js';
import { createSmtpMailer } from '../src/services/mail/mailer.js';
import { startSmtpTestServer } from '../test/support/smtp-test-server.js';
import { createAccountWithToken, createTestApp } from '../test/support/test-app.js';
import { dropTestDatabases } from '../test/support/test-database.js';
import { benchMailThroughput, type MailThroughputResult } from './mail-throughput.js';
import { fmt } from './bench-util.js';

// sendWelcomeEmail end to end: POST /Actions over {all: true} of an account with N users (a background action:
// one link and one outbox row per user, each in its own transaction) while a MailWorker delivers the outbox to a
// real SMTP server (test/support/smtp-test-server.ts, which parses every message). Timed from the POST until the
// last email is accepted; every email must arrive exactly once (by Message-ID, and one per user), or it throws.
// Compared with benchMailThroughput (bench/mail-throughput.ts): the bare nodemailer floor, and the outbox drain
// alone. The database is the test database: PGlite in memory, or a scratch PostgreSQL database with DATABASE_URL.

const CONCURRENCY = 8; // MailWorker's default
const SETUP_BATCH = 500;

export interface ActionsThroughputResult {
  users: number;
  database: 'postgres' | 'pglite';
  /** From POST /Actions until the last email was accepted by the SMTP server. */
  seconds: number;
  emailsPerSecond: number;
  duplicates: number;
  missing: number;
  /** From POST /Actions until the action completed (links and outbox rows written). */
  actionSeconds: number;
  /** Creating the users through UserService.apply. */
  setupSeconds: number;
  /** bench/mail-throughput.ts with as many messages: the nodemailer floor and the outbox drain alone. */
  mail: MailThroughputResult;
  /** emailsPerSecond / mail.floor.emailsPerSecond. */
  ratioToFloor: number;
}

const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function benchActionsThroughput(users = 10000): Promise<ActionsThroughputResult> {
  const t = await createTestApp({ PUBLIC_URL: 'http://bench.switchboard.test', RATE_LIMITS: 'off' });
  const smtp = await startSmtpTestServer();
  const mailer = createSmtpMailer(smtp.url, { maxConnections: CONCURRENCY });
  const worker = new MailWorker({
    db: t.deps.db.knex, mailer, clock: systemClock, logger: silentLogger, from: 'bench@switchboard.test', concurrency: CONCURRENCY, pollIntervalMs: 20, batchSize: 200,
  });
  let own: Omit<ActionsThroughputResult, 'mail' | 'ratioToFloor'>;
  try {
    const { accountId, token } = await createAccountWithToken(t, { name: 'Bench Corp', type: 'customer' });

    // Setup through the single write path, 500 users per transaction.
    const setupStart = performance.now();
    const writer = { type: 'admin' as const, via: 'token' as const, actor: 'bench-setup' };
    for (let start = 0; start < users; start += SETUP_BATCH) {
      await t.deps.users.transaction(async (trx) => {
        for (let i = start; i < Math.min(users, start + SETUP_BATCH); i++) {
          await t.deps.users.apply(trx, accountId, writer, undefined, {
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName: `user${i}`,
            name: { givenName: 'Bench', familyName: `User ${i}` },
            displayName: `Bench User ${i}`,
            emails: [{ value: `user${i}@example.test`, primary: true }],
          });
        }
      });
    }
    const setupSeconds = (performance.now() - setupStart) / 1000;

    worker.start();
    const start = performance.now();
    const posted = await t.request
      .post(`/accounts/${accountId}/scim/v2/Actions`)
      .set('Authorization', `Bearer ${token}`)
      .send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Action'], type: 'sendWelcomeEmail', targets: { all: true } });
    if (posted.status !== 201) throw new Error(`POST /Actions answered ${posted.status}: ${JSON.stringify(posted.body)}`);
    const actionId = posted.body.id as string;

    let actionSeconds = 0;
    let status = posted.body.status as string;
    while (status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const row = (await t.deps.db.knex('actions').where({ account_id: accountId, id: actionId }).first('status', 'summary')) as { status: string; summary: { succeeded: number } };
      status = row.status;
      if (status !== 'running') {
        actionSeconds = (performance.now() - start) / 1000;
        if (status !== 'completed' || row.summary.succeeded !== users) throw new Error(`the action ended ${status}: ${JSON.stringify(row.summary)}`);
      }
    }
    if (actionSeconds === 0) actionSeconds = (performance.now() - start) / 1000;
    await smtp.waitFor(users, 600_000);
    const seconds = (performance.now() - start) / 1000;
    // Give a duplicate time to show up, then stop delivering.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await worker.stop();

    const expected = (await t.deps.db.knex('outbox').where({ account_id: accountId, action_id: actionId }).select('message_id', 'to_address')) as { message_id: string; to_address: string }[];
    const received = new Map<string, number>();
    const perRecipient = new Map<string, number>();
    for (const message of smtp.messages) {
      const id = message.messageId ? `<${message.messageId.replace(/^<|>$/g, '')}>` : '(none)';
      received.set(id, (received.get(id) ?? 0) + 1);
      const to = (Array.isArray(message.to) ? message.to[0] : message.to)?.value[0]?.address ?? '(none)';
      perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
    }
    // Counted by Message-ID (each outbox row once) and by recipient (each user once); the worse of the two.
    const byId = { duplicates: 0, missing: Math.max(0, users - expected.length) };
    for (const row of expected) {
      const n = received.get(row.message_id) ?? 0;
      if (n === 0) byId.missing++;
      else byId.duplicates += n - 1;
    }
    const byRecipient = { duplicates: 0, missing: 0 };
    for (let i = 0; i < users; i++) {
      const n = perRecipient.get(`user${i}@example.test`) ?? 0;
      if (n === 0) byRecipient.missing++;
      else byRecipient.duplicates += n - 1;
    }
    const duplicates = Math.max(byId.duplicates, byRecipient.duplicates, smtp.messages.length - users);
    const missing = Math.max(byId.missing, byRecipient.missing);
    if (duplicates > 0 || missing > 0) {
      throw new Error(`not every email was delivered exactly once: ${duplicates} duplicates, ${missing} missing of ${users}`);
    }

    own = {
      users,
      database: t.db.kind,
      seconds: round(seconds, 2),
      emailsPerSecond: Math.round(users / seconds),
      duplicates,
      missing,
      actionSeconds: round(actionSeconds, 2),
      setupSeconds: round(setupSeconds, 1),
    };
  } catch (error) {
    await dropTestDatabases();
    throw error;
  } finally {
    await worker.stop();
    await mailer.close();
    await smtp.stop();
    await t.close();
  }
  // Also drops this process's scratch databases (PostgreSQL), the template included: so it comes last.
  const mail = await benchMailThroughput(users);
  return { ...own, mail, ratioToFloor: round(own.emailsPerSecond / mail.floor.emailsPerSecond, 3) };
}


export function printActionsThroughput(r: ActionsThroughputResult): void {
  console.log(`Actions: sendWelcomeEmail over ${fmt(r.users)} users, end to end (database ${r.database}; setup ${fmt(r.setupSeconds, 1)} s through UserService.apply):`);
  console.log(`  action + delivery  ${fmt(r.emailsPerSecond).padStart(6)} emails/s  ${fmt(r.seconds, 2)} s (action completed after ${fmt(r.actionSeconds, 2)} s)  duplicates ${r.duplicates}  missing ${r.missing}`);
  console.log(`  outbox drain alone ${fmt(r.mail.outbox.emailsPerSecond).padStart(6)} emails/s  duplicates ${r.mail.outbox.duplicates}  missing ${r.mail.outbox.missing}`);
  console.log(`  floor (nodemailer) ${fmt(r.mail.floor.emailsPerSecond).padStart(6)} emails/s  duplicates ${r.mail.floor.duplicates}  missing ${r.mail.floor.missing}`);
  console.log(`  ratio actions/floor: ${fmt(r.ratioToFloor * 100)} %`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const users = Number(process.argv.find((a) => a.startsWith('--users='))?.slice(8) ?? 10000);
  benchActionsThroughput(users)
    .then((r) => {
      printActionsThroughput(r);
      console.log(JSON.stringify(r));
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
