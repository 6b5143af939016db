import { expect } from 'chai';
import type { Knex } from 'knex';
import { gateConnections } from '../../src/db/connection-gate.js';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '../support/test-database.js';

interface Pool {
  max: number;
  numPendingAcquires(): number;
}

/**
 * The shutdown's connection gate (src/db/connection-gate.ts) on the real pool: what waits is refused at once, what
 * comes later is refused until the gate reopens, and after that the pool serves again (the workers' stops).
 */
describe(`connection gate (${testDatabaseKind})`, () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => db.close());

  it('when refused with every connection busy, then the waiting queries fail with the error at once, later ones too until reopened, and after that they run', async () => {
    const gate = gateConnections(db.knex);
    const pool = (db.knex.client as unknown as { pool: Pool }).pool;
    const held: Knex.Transaction[] = [];
    for (let i = 0; i < pool.max; i++) held.push(await db.knex.transaction());
    const waiting = [db.knex.raw('select 1 as n'), db.knex('accounts').count({ n: '*' })].map((query) => Promise.resolve(query).then(() => 'ran', (error: Error) => error.message));
    for (let i = 0; pool.numPendingAcquires() < waiting.length; i++) {
      if (i > 200) throw new Error(`only ${pool.numPendingAcquires()} queries wait for a connection`);
      await new Promise((r) => setTimeout(r, 10));
    }

    const refused = gate.refuse(() => new Error('shutting down'));

    expect(refused).to.equal(2);
    expect(await Promise.all(waiting)).to.deep.equal(['shutting down', 'shutting down']);
    for (const trx of held) await trx.rollback();
    // A free connection now, and still refused.
    const later = await db.knex.raw('select 1 as n').then(() => 'ran', (error: Error) => error.message);
    expect(later).to.equal('shutting down');
    gate.reopen();
    const { rows } = (await db.knex.raw('select 1 as n')) as { rows: { n: number }[] };
    expect(rows).to.deep.equal([{ n: 1 }]);
  });

  it('when not refused, then a query with a free connection and one that waits for a busy pool both run', async () => {
    gateConnections(db.knex);
    const pool = (db.knex.client as unknown as { pool: Pool }).pool;
    const held: Knex.Transaction[] = [];
    for (let i = 0; i < pool.max; i++) held.push(await db.knex.transaction());
    const waited = Promise.resolve(db.knex.raw('select 2 as n'));
    while (pool.numPendingAcquires() < 1) await new Promise((r) => setTimeout(r, 10));
    for (const trx of held) await trx.rollback();
    expect(((await waited) as { rows: { n: number }[] }).rows).to.deep.equal([{ n: 2 }]);
    expect(((await db.knex.raw('select 3 as n')) as { rows: { n: number }[] }).rows).to.deep.equal([{ n: 3 }]);
  });
});
