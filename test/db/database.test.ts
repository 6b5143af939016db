import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, testDatabaseKind } from '../support/test-database.js';
import { lockDataDir, DataDirLockedError } from '../../src/db/database.js';

describe(`database (${testDatabaseKind})`, () => {
  it('when migrated, then the core tables, pg_trgm and citext exist', async () => {
    const db = await createTestDatabase();
    try {
      const { rows } = await db.knex.raw(`select extname from pg_extension where extname in ('pg_trgm','citext') order by 1`);
      expect(rows.map((r: { extname: string }) => r.extname)).to.deep.equal(['citext', 'pg_trgm']);
      const tables = await db.knex.raw(`select table_name from information_schema.tables where table_schema = 'public'`);
      const names = tables.rows.map((r: { table_name: string }) => r.table_name);
      expect(names).to.include.members(['accounts', 'users', 'user_emails', 'groups', 'group_members', 'tokens', 'audit_log']);
    } finally {
      await db.close();
    }
  });

  it('when users are inserted and deleted, then the account user count (the sum of its shards) follows', async () => {
    const db = await createTestDatabase();
    try {
      const [account] = await db.knex('accounts').insert({ type: 'customer', name: 'Acme' }).returning('id');
      await db.knex('users').insert([
        { account_id: account.id, user_name: 'a', data: {}, resource: {} },
        { account_id: account.id, user_name: 'b', data: {}, resource: {} },
      ]);
      await db.knex('users').where({ account_id: account.id, user_name: 'a' }).delete();
      const [row] = (await db.knex('account_user_counts').where({ account_id: account.id }).sum({ n: 'user_count' })) as { n: string | number }[];
      expect(Number(row!.n)).to.equal(1);
    } finally {
      await db.close();
    }
  });

  it('when two transactions insert users into one account at once, then the second does not wait for the first to add to the user count', async () => {
    const db = await createTestDatabase();
    try {
      const [account] = await db.knex('accounts').insert({ type: 'customer', name: 'Acme' }).returning('id');
      const insert = (trx: typeof db.knex, name: string) => trx('users').insert({ account_id: account.id, user_name: name, data: {}, resource: {} });
      const first = await db.knex.transaction();
      await insert(first, 'a');
      // PGlite has one connection: there the second transaction can only follow the first.
      if (testDatabaseKind === 'pglite') await first.commit();
      const second = await db.knex.transaction();
      // It would wait for the first's commit on a shard the first holds: past the lock timeout, an error.
      await second.raw("set local lock_timeout = '2s'");
      await insert(second, 'b');
      await second.commit();
      if (testDatabaseKind !== 'pglite') await first.commit();
      const [row] = (await db.knex('account_user_counts').where({ account_id: account.id }).sum({ n: 'user_count' })) as { n: string | number }[];
      expect(Number(row!.n)).to.equal(2);
    } finally {
      await db.close();
    }
  });

  it('when a second process holds the data directory, then opening it is refused with a clear message', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-lock-'));
    // pid 1 is always alive and is not us: it stands for another Switchboard process.
    fs.writeFileSync(path.join(dir, 'switchboard.lock'), '1');
    expect(() => lockDataDir(dir)).to.throw(DataDirLockedError, /Another Switchboard process \(pid 1\)/);
  });

  it('when the lock file is left by a dead process, then it is taken over', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-lock-'));
    fs.writeFileSync(path.join(dir, 'switchboard.lock'), '999999999');
    const release = lockDataDir(dir);
    expect(fs.readFileSync(path.join(dir, 'switchboard.lock'), 'utf8')).to.equal(String(process.pid));
    release();
    expect(fs.existsSync(path.join(dir, 'switchboard.lock'))).to.equal(false);
  });
});
