/**
 * Issue 15's search as you type: a request whose client goes away (the console aborts the previous keystroke's
 * search) has its statement cancelled on PostgreSQL, and no further statement of it starts on either database.
 */
import { expect } from 'chai';
import knexFactory from 'knex';
import { loadConfig } from '../../src/config.js';
import { selectRows } from '../../src/db/database.js';
import { RequestAbandonedError } from '../../src/db/database-errors.js';
import { silentLogger } from '../../src/lib/logger.js';
import { startServer } from '../../src/server.js';
import { OPERATOR_TOKEN } from '../support/test-app.js';
import { createTestDatabase, testDatabaseKind } from '../support/test-database.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`abandoned requests (${testDatabaseKind})`, () => {
  it('when the signal has fired, then selectRows starts no statement and says the request was abandoned', async () => {
    const db = await createTestDatabase();
    try {
      await db.knex.raw('create sequence abandoned_probe');
      const controller = new AbortController();
      controller.abort();
      const error = await selectRows(db.knex, "select nextval('abandoned_probe') as n", [], controller.signal).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(RequestAbandonedError);
      const [row] = await selectRows<{ n: number }>(db.knex, "select nextval('abandoned_probe') as n", []);
      expect(Number(row!.n)).to.equal(1);
    } finally {
      await db.close();
    }
  });

  if (testDatabaseKind === 'postgres') {
    it('when the signal fires while a statement runs, then PostgreSQL cancels it at once and the connection serves the next one', async () => {
      const db = await createTestDatabase();
      try {
        const controller = new AbortController();
        const started = Date.now();
        setTimeout(() => controller.abort(), 200);
        const error = await selectRows(db.knex, 'select pg_sleep(10)', [], controller.signal).then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(RequestAbandonedError);
        expect(Date.now() - started).to.be.below(3_000);
        const running = await db.knex.raw("select count(*)::int as n from pg_stat_activity where state = 'active' and query like 'select pg_sleep%'");
        expect(running.rows[0].n).to.equal(0);
        expect(await selectRows<{ one: number }>(db.knex, 'select 1 as one', [])).to.deep.equal([{ one: 1 }]);
      } finally {
        await db.close();
      }
    });

    it('when a client closes the connection while GET /Users waits in the database, then its statement is cancelled and the server answers the next request', async function () {
      this.timeout(60_000);
      const db = await createTestDatabase();
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: '/tmp/switchboard-test-unused', SWITCHBOARD_BOOTSTRAP_TOKEN: OPERATOR_TOKEN, SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', RATE_LIMITS: 'off' });
      const server = await startServer(config, { db, logger: silentLogger }, () => {});
      // A lock held by another session keeps the list's statement waiting inside PostgreSQL for as long as we like.
      const locker = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 2 } });
      const waiting = async () =>
        (await locker.raw("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%from users as u%'")).rows[0].n as number;
      try {
        const auth = { Authorization: `Bearer ${OPERATOR_TOKEN}` };
        await locker.transaction(async (trx) => {
          await trx.raw('lock table users in access exclusive mode');
          const controller = new AbortController();
          const request = fetch(`${server.url}/scim/v2/Users?filter=${encodeURIComponent('userName co "abandoned"')}`, { headers: auth, signal: controller.signal }).catch((e: unknown) => e);
          const deadline = Date.now() + 20_000;
          while ((await waiting()) === 0) {
            if (Date.now() > deadline) throw new Error('the list statement never waited on the lock');
            await sleep(50);
          }
          controller.abort();
          expect(await request).to.be.instanceOf(Error);
          const cancelledBy = Date.now() + 5_000;
          while ((await waiting()) > 0) {
            if (Date.now() > cancelledBy) throw new Error('the abandoned request still waits in PostgreSQL while the lock is held');
            await sleep(50);
          }
        });
        const next = await fetch(`${server.url}/scim/v2/Users?count=1`, { headers: auth });
        expect(next.status).to.equal(200);
      } finally {
        await locker.destroy();
        await server.stop();
        await db.close();
      }
    });
  }
});
