import type { Knex } from 'knex';
import { expect } from 'chai';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { openDatabase } from '../../src/db/database.js';
import { usersRepo } from '../../src/db/users-repo.js';
import { userCountSql } from '../../src/db/accounts-repo.js';
import { sourceLinksRepo } from '../../src/db/source-links-repo.js';
import { analyse, indexesUsed, rowsRead, scansDuring } from '../support/plans.js';

/**
 * The reads of an identity provider's POST in a large account on tables no ANALYZE has seen (autovacuum off, or
 * a bulk load it has not caught up with): each read is one probe per key, whatever the planner guesses. Measured
 * as the rows the plan reads from the table (EXPLAIN ANALYZE), not as time.
 */

const USERS = 5000;

describe('An identity provider\'s POST in a large account without statistics: one probe per key', () => {
  let db: TestDatabase;
  let accountId: string;
  let sourceId: string;

  before(async () => {
    db = await createTestDatabase();
    [{ id: accountId }] = (await db.knex('accounts').insert({ type: 'customer', name: 'Big' }).returning('id')) as { id: string }[];
    [{ id: sourceId }] = (await db.knex('sources').insert({ account_id: accountId, name: 'SCIM push', kind: 'scim' }).returning('id')) as { id: string }[];
    await db.knex.raw(
      `insert into users (account_id, user_name, external_id, given_name, family_name, primary_email, data, resource)
       select ?, 'load' || i || '@example.com', 'ext-' || i, 'Given' || i, 'Load', 'load' || i || '@example.com', '{}'::jsonb, '{}'::jsonb
         from generate_series(1, ${USERS}) i`,
      [accountId],
    );
    await db.knex.raw(
      `insert into user_emails (account_id, user_id, position, value, type, is_primary)
       select account_id, id, 0, primary_email, 'work', true from users where account_id = ?`,
      [accountId],
    );
    await db.knex.raw(
      `insert into user_source_links (account_id, user_id, source_id, source_kind, anchor, owned_attributes, attributes, raw)
       select account_id, id, ?, 'scim', external_id, '{userName,name,emails}', '{}'::jsonb, '{}'::jsonb from users where account_id = ?`,
      [sourceId, accountId],
    );
    // Deliberately no ANALYZE: the planner sees only the tables' sizes, as during a bulk load with autovacuum off.
  });

  after(async () => {
    await db?.close();
  });

  it('when the moved anchor is checked for another holder, then one link is read by its primary key, not every link of the account', async () => {
    const [holder] = (await db.knex('user_source_links').where({ account_id: accountId, anchor: 'ext-42' }).select('user_id')) as { user_id: string }[];
    const { sql, bindings } = sourceLinksRepo.displacedStatement(accountId, [{ userId: '00000000-0000-4000-8000-000000000001', sourceId, anchor: 'ext-42' }]);
    // The plan read here ran before as a hash join over a bitmap scan of the account's links until about 38,000
    // links (tables without statistics), then flipped by itself to the primary key: 5,000 rows read for 1.
    const plan = await analyse(db.knex, sql, bindings);
    expect(rowsRead(plan, 'user_source_links')).to.equal(1);
    expect(indexesUsed(plan)).to.include('user_source_links_pkey');
    const rows = (await db.knex.raw(sql, bindings as Knex.RawBinding[])) as { rows: { user_id: string }[] };
    expect(rows.rows.map((r) => r.user_id)).to.deep.equal([holder!.user_id]);
  });

  it('when the moved anchor is held by the moving user already or by nobody, then no user is displaced', async () => {
    const [holder] = (await db.knex('user_source_links').where({ account_id: accountId, anchor: 'ext-7' }).select('user_id')) as { user_id: string }[];
    const { sql, bindings } = sourceLinksRepo.displacedStatement(accountId, [
      { userId: holder!.user_id, sourceId, anchor: 'ext-7' },
      { userId: '00000000-0000-4000-8000-000000000002', sourceId, anchor: 'ext-none' },
    ]);
    const rows = (await db.knex.raw(sql, bindings as Knex.RawBinding[])) as { rows: unknown[] };
    expect(rows.rows).to.deep.equal([]);
  });

  it('when a new userName and email are checked for uniqueness, then each is one probe of its unique index, not a read of the account', async () => {
    const statements: { sql: string; bindings: readonly unknown[] }[] = [];
    const capture = (q: { sql: string; bindings?: readonly unknown[] }) => {
      // knex shows the statement as sent ($1, $2, … in order of the bindings): back to its placeholders.
      if (/^\s*select/i.test(q.sql)) statements.push({ sql: q.sql.replace(/\$\d+/g, '?'), bindings: q.bindings ?? [] });
    };
    db.knex.on('query', capture);
    let holders;
    try {
      // In a transaction, as a write runs it (and so through knex, whose query events show the statement).
      holders = await db.knex.transaction((trx) => usersRepo.uniqueHolders(trx, accountId, [
        { attribute: 'userName', key: 'load77@example.com', value: 'Load77@example.com' },
        { attribute: 'userName', key: 'new@example.com', value: 'new@example.com' },
        { attribute: 'emails', key: 'load78@example.com', value: 'load78@example.com' },
      ]));
    } finally {
      db.knex.off('query', capture);
    }
    expect(holders.map((h) => `${h.attribute} ${h.value}`).sort()).to.deep.equal(['emails load78@example.com', 'userName load77@example.com']);
    expect(statements).to.have.length(1);
    const plan = await analyse(db.knex, statements[0]!.sql, statements[0]!.bindings);
    expect(rowsRead(plan, 'users')).to.be.at.most(1);
    expect(rowsRead(plan, 'user_emails')).to.be.at.most(1);
  });
});

describe('The user count kept by a pooled connection while account_user_counts grows', () => {
  it('when the shard table has grown since the connection first wrote users, then a write reads its shards by the primary key, not the whole table', async () => {
    const db = await createTestDatabase();
    // One connection throughout (PGlite has only one): the triggers' plans are cached per connection.
    const one = db.url ? await openDatabase({ databaseUrl: db.url, poolMax: 1 }) : db;
    try {
      const [{ id: accountId }] = (await one.knex('accounts').insert({ type: 'customer', name: 'Early' }).returning('id')) as { id: string }[];
      // Eight writes, one statement each, while the table is a page: PL/pgSQL settles on a plan after five.
      for (let i = 0; i < 8; i++) await one.knex('users').insert({ account_id: accountId, user_name: `early${i}`, data: {}, resource: {} });
      // The table grows under the connection: other accounts' shards stand for the dead versions of a table no
      // VACUUM reclaims (44 pages after 20,000 POSTs into one account, autovacuum off).
      await db.knex.raw(`insert into accounts (type, name) select 'customer', 'other' || i from generate_series(1, 400) i`);
      await db.knex.raw(`insert into account_user_counts (account_id, shard, user_count) select a.id, s, 0 from accounts a, generate_series(0, 15) s where a.name like 'other%'`);
      const scans = await one.knex.transaction((trx) =>
        scansDuring(trx, 'account_user_counts', () => trx('users').insert({ account_id: accountId, user_name: 'late', data: {}, resource: {} })),
      );
      expect(scans.seqScans).to.equal(0);
      expect(scans.indexScans).to.be.greaterThan(0);
      const { rows } = (await one.knex.raw(`select ${userCountSql('?')} as n`, [accountId])) as { rows: { n: number }[] };
      expect(Number(rows[0]!.n)).to.equal(9);
    } finally {
      if (one !== db) await one.close();
      await db.close();
    }
  });
});

describe('The foreign-key checks of a pooled connection while the account grows', () => {
  it('when the account has grown since the connection first wrote, then the check of a value row\'s user reads that user alone', async () => {
    const db = await createTestDatabase();
    const one = db.url ? await openDatabase({ databaseUrl: db.url, poolMax: 1 }) : db;
    try {
      const [{ id: accountId }] = (await one.knex('accounts').insert({ type: 'customer', name: 'Growing' }).returning('id')) as { id: string }[];
      // As the bench's empty seed and an import leave it: the users table analysed while empty.
      await one.knex.raw('analyze users');
      // Eight emails written while the account is small, one statement each: the check of each email's user is
      // prepared in this connection and, after five, may be kept as a generic plan.
      for (let i = 0; i < 8; i++) {
        const [{ id }] = (await one.knex('users').insert({ account_id: accountId, user_name: `early${i}`, data: {}, resource: {} }).returning('id')) as { id: string }[];
        await one.knex('user_emails').insert({ account_id: accountId, user_id: id, position: 0, value: `early${i}@example.com`, type: 'work', is_primary: true });
      }
      await db.knex.raw(
        `insert into users (account_id, user_name, data, resource) select ?, 'grown' || i, '{}'::jsonb, '{}'::jsonb from generate_series(1, 3000) i`,
        [accountId],
      );
      const [{ id: userId }] = (await one.knex('users').where({ account_id: accountId, user_name: 'grown42' }).select('id')) as { id: string }[];
      const scans = await one.knex.transaction((trx) =>
        scansDuring(trx, 'users', () => trx('user_emails').insert({ account_id: accountId, user_id: userId, position: 0, value: 'grown42@example.com', type: 'work', is_primary: true })),
      );
      expect(scans.rowsRead).to.equal(1);
    } finally {
      if (one !== db) await one.close();
      await db.close();
    }
  });

  it('when another account was analysed alone and a new account loads in bulk, then the check of a value row\'s user reads that user alone', async () => {
    const db = await createTestDatabase();
    const one = db.url ? await openDatabase({ databaseUrl: db.url, poolMax: 1 }) : db;
    try {
      const [{ id: first }] = (await one.knex('accounts').insert({ type: 'customer', name: 'First' }).returning('id')) as { id: string }[];
      await one.knex.raw(`insert into users (account_id, user_name, data, resource) select ?, 'first' || i, '{}'::jsonb, '{}'::jsonb from generate_series(1, 3000) i`, [first]);
      // As an import leaves it (usersRepo.analyze): statistics that know one account, holding every row.
      await one.knex.raw('analyze users');
      const scans = await one.knex.transaction(async (trx) => {
        const [{ id: second }] = (await trx('accounts').insert({ type: 'customer', name: 'Second' }).returning('id')) as { id: string }[];
        await trx.raw(`insert into users (account_id, user_name, data, resource) select ?, 'second' || i, '{}'::jsonb, '{}'::jsonb from generate_series(1, 2000) i`, [second]);
        const [{ id: userId }] = (await trx('users').where({ account_id: second, user_name: 'second42' }).select('id')) as { id: string }[];
        return scansDuring(trx, 'users', () => trx('user_emails').insert({ account_id: second, user_id: userId, position: 0, value: 'second42@example.com', type: 'work', is_primary: true }));
      });
      // Planned for its values, the check took any index that leads with account_id (the statistics say the new
      // account has no rows) and read the new account's 2,000 users for one: a bulk load into a second account
      // grew with its square.
      expect(scans.rowsRead).to.equal(1);
    } finally {
      if (one !== db) await one.close();
      await db.close();
    }
  });
});
