import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import knexFactory from 'knex';
import { guideBlocks, runBash, scratchDir } from '../support/guide.js';

// docs/production.md's tested blocks (migrate, back up with pg_dump, restore with pg_restore, migrate the restored
// copy) on the local PostgreSQL server, whichever database the rest of the suite uses, as two-instances.test.ts.
const SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

function databaseUrl(name: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (k: knexFactory.Knex) => Promise<T>, url = SERVER_URL): Promise<T> {
  const k = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  try {
    return await fn(k);
  } finally {
    await k.destroy();
  }
}

describe('docs/production.md, followed literally (PostgreSQL)', function () {
  // Upper bounds for a loaded 2-core machine (servers, npx and slapd start in them), not timings.
  this.timeout(600_000);
  const suffix = `${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const live = `switchboard_guide_prod_${suffix}`;
  const restored = `switchboard_guide_restored_${suffix}`;
  let dir: string;
  before(async () => {
    dir = scratchDir('production');
    await admin((k) => k.raw(`create database ${live}`));
    await admin((k) => k.raw(`create database ${restored}`));
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await admin((k) => k.raw(`drop database if exists ${live} with (force)`));
    await admin((k) => k.raw(`drop database if exists ${restored} with (force)`));
  });

  it('when the guide migrates a database, backs it up and restores the dump into an empty one, then the copy holds the same rows and migrates as up to date', async () => {
    const [migrate, dump, restore] = guideBlocks('docs/production.md');
    const env = { DATABASE_URL: databaseUrl(live), RESTORE_DATABASE_URL: databaseUrl(restored) };
    const migrated = await runBash([migrate], { cwd: dir, env });
    expect(migrated.code, migrated.stderr).to.equal(0);
    expect(migrated.stdout.trim()).to.equal('migrated (postgres)');
    // Something to back up: an account written straight into the migrated database.
    const [account] = await admin((k) => k('accounts').insert({ name: 'Backed Up', type: 'customer' }).returning('id'), databaseUrl(live));

    const backup = await runBash([dump, restore], { cwd: dir, env });
    expect(backup.code, backup.stderr).to.equal(0);
    expect(backup.stdout.trim()).to.equal('migrated (postgres)');
    const copy = await admin((k) => k('accounts').where({ id: (account as { id: string }).id }).first(), databaseUrl(restored));
    expect(copy).to.include({ name: 'Backed Up', type: 'customer' });
    // The copy's migrations are the original's: the migrate after the restore had nothing to apply.
    const names = (url: string) => admin((k) => k('knex_migrations').orderBy('id').pluck('name'), url);
    expect(await names(databaseUrl(restored))).to.deep.equal(await names(databaseUrl(live)));
  });
});
