import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import PQueue from 'p-queue';
import { SMTPServer } from 'smtp-server';
import { createTestDatabase, dropTestDatabases } from '../test/support/test-database.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';
import { MailWorker } from '../src/services/mail/mail-worker.js';
import { createSmtpMailer } from '../src/services/mail/mailer.js';
import { enqueue, generateMessageId } from '../src/db/outbox-repo.js';
import { renderMail } from '../src/services/mail/mail-templates.js';

// Mail delivery throughput: (a) the floor, a bare nodemailer pool pushing messages as fast as the worker's
// concurrency allows, and (b) the outbox, the same messages enqueued as rows and drained by MailWorker. Both send
// to an in-process smtp-server that only reads each message's Message-ID, so duplicates and losses are counted.
// The database is the test database: PGlite in memory, or a scratch PostgreSQL database when DATABASE_URL is set.

const CONCURRENCY = 8; // MailWorker's default

interface SinkServer {
  url: string;
  received: Map<string, number>;
  stop(): Promise<void>;
}

async function startSink(): Promise<SinkServer> {
  const received = new Map<string, number>();
  const server = new SMTPServer({
    secure: false,
    hideSTARTTLS: true,
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    disableReverseLookup: true,
    maxClients: 1000,
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < 8192) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        const id = /^message-id:\s*(<[^>\r\n]+>)/im.exec(head)?.[1] ?? '(none)';
        received.set(id, (received.get(id) ?? 0) + 1);
        callback(null, 'OK');
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, received, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

function tally(received: Map<string, number>, expected: string[]): { duplicates: number; missing: number } {
  let duplicates = 0;
  let missing = 0;
  for (const id of expected) {
    const n = received.get(id) ?? 0;
    if (n === 0) missing++;
    else duplicates += n - 1;
  }
  return { duplicates, missing };
}

const sample = renderMail({
  kind: 'welcome',
  accountName: 'Bench Corp',
  user: { displayName: 'Bench User', userName: 'bench', email: 'bench@example.test' },
  link: 'https://portal.example.test/register?token=bench',
});

export interface MailThroughputResult {
  count: number;
  database: 'postgres' | 'pglite';
  floor: { emailsPerSecond: number; ms: number; duplicates: number; missing: number };
  outbox: { emailsPerSecond: number; ms: number; enqueueMs: number; duplicates: number; missing: number };
}

export async function benchMailThroughput(count = 10000): Promise<MailThroughputResult> {
  // (a) floor: nodemailer pool, CONCURRENCY sends in flight.
  const floorSink = await startSink();
  const transport = nodemailer.createTransport({ url: floorSink.url, pool: true, maxConnections: CONCURRENCY, maxMessages: 1000 });
  const floorIds = Array.from({ length: count }, () => generateMessageId('bench.test'));
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const floorStart = performance.now();
  for (const messageId of floorIds) {
    await queue.onSizeLessThan(CONCURRENCY * 2);
    void queue.add(() =>
      transport.sendMail({ from: 'bench@switchboard.test', to: 'bench@example.test', subject: sample.subject, text: sample.text, html: sample.html, messageId }),
    );
  }
  await queue.onIdle();
  const floorMs = performance.now() - floorStart;
  transport.close();
  const floorTally = tally(floorSink.received, floorIds);
  await floorSink.stop();

  // (b) outbox: rows enqueued in transactions of 500, then drained by one MailWorker.
  const db = await createTestDatabase();
  const outboxSink = await startSink();
  const mailer = createSmtpMailer(outboxSink.url, { maxConnections: CONCURRENCY });
  try {
    const [account] = await db.knex('accounts').insert({ type: 'customer', name: 'Bench Corp' }).returning('id');
    const accountId = (account as { id: string }).id;
    const outboxIds: string[] = [];
    const enqueueStart = performance.now();
    for (let start = 0; start < count; start += 500) {
      await db.knex.transaction(async (trx) => {
        for (let i = start; i < Math.min(count, start + 500); i++) {
          const { messageId } = await enqueue(trx, accountId, { kind: 'welcome', to: `user${i}@example.test`, ...sample, messageIdDomain: 'bench.test' });
          outboxIds.push(messageId);
        }
      });
    }
    const enqueueMs = performance.now() - enqueueStart;

    const worker = new MailWorker({ db: db.knex, mailer, clock: systemClock, logger: silentLogger, from: 'bench@switchboard.test', concurrency: CONCURRENCY });
    const drainStart = performance.now();
    await worker.drain();
    const drainMs = performance.now() - drainStart;
    await worker.stop();

    const round = (n: number) => Math.round(n);
    return {
      count,
      database: db.kind,
      floor: { emailsPerSecond: round((count / floorMs) * 1000), ms: round(floorMs), ...floorTally },
      outbox: { emailsPerSecond: round((count / drainMs) * 1000), ms: round(drainMs), enqueueMs: round(enqueueMs), ...tally(outboxSink.received, outboxIds) },
    };
  } finally {
    await mailer.close();
    await outboxSink.stop();
    await db.close();
    await dropTestDatabases();
  }
}
