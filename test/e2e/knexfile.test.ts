import { expect } from 'chai';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { lockDataDir } from '../../src/db/database.js';

const root = path.resolve(import.meta.dirname, '../..');
const migrationCount = fs.readdirSync(path.join(root, 'migrations')).filter((f) => f.endsWith('.ts')).length;
/** The house's PostgreSQL (CI starts it); the PGlite run of the suite uses it here too, for the DATABASE_URL case. */
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Result {
  code: number;
  out: string;
}

/** Runs `npx …` (or `npm …`) from the repository root, as a developer would, with only `env` set of our variables. */
function run(command: 'npx' | 'npm', args: string[], env: Record<string, string>): Promise<Result> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['DATABASE_URL', 'DATA_DIR', 'NODE_OPTIONS'].includes(k)));
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root, env: { ...base, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe('knexfile.ts: the knex CLI from the repository root', function () {
  this.timeout(300_000);

  it('when DATABASE_URL is unset, then migrate:list, migrate:latest, migrate:rollback and npm run migrate work on the PGlite database in DATA_DIR', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-knexfile-'));
    const env = { DATA_DIR: dataDir };
    const before = await run('npx', ['knex', 'migrate:list'], env);
    expect(before.out, before.out).to.match(new RegExp(`Found ${migrationCount} Pending Migration`));
    expect(before.out).to.match(/20261129000100_create_core_tables\.ts/);

    const latest = await run('npx', ['knex', 'migrate:latest'], env);
    expect(latest.code, latest.out).to.equal(0);
    expect(latest.out).to.match(new RegExp(`Batch 1 run: ${migrationCount} migrations`));
    const after = await run('npx', ['knex', 'migrate:list'], env);
    expect(after.out).to.match(new RegExp(`Found ${migrationCount} Completed Migration`));
    expect(after.out).to.match(/No Pending Migration/);
    expect(fs.existsSync(path.join(dataDir, 'switchboard.lock')), 'the lock is released on exit').to.equal(false);

    const rollback = await run('npx', ['knex', 'migrate:rollback'], env);
    expect(rollback.code, rollback.out).to.equal(0);
    expect(rollback.out).to.match(new RegExp(`Batch 1 rolled back: ${migrationCount} migrations`));
    const again = await run('npm', ['run', 'migrate'], env);
    expect(again.code, again.out).to.equal(0);
    expect(again.out).to.match(new RegExp(`Batch 1 run: ${migrationCount} migrations`));
  });

  it('when a server holds DATA_DIR, then migrate:latest is refused with the server\'s message and migrate:make still writes a migration', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-knexfile-locked-'));
    const release = lockDataDir(dataDir); // this process stands for the running server
    try {
      const refused = await run('npx', ['knex', 'migrate:latest'], { DATA_DIR: dataDir });
      expect(refused.code).to.equal(1);
      expect(refused.out).to.contain(`Another Switchboard process (pid ${process.pid}) is using the data directory ${dataDir}. Stop it, use its HTTP API, or point DATA_DIR at another directory.`);
      expect(fs.existsSync(path.join(dataDir, 'pgdata')), 'nothing was opened').to.equal(false);

      const name = `add_knexfile_probe_${crypto.randomBytes(3).toString('hex')}`;
      const made = await run('npx', ['knex', 'migrate:make', name], { DATA_DIR: dataDir });
      const file = fs.readdirSync(path.join(root, 'migrations')).find((f) => f.endsWith(`_${name}.ts`));
      try {
        expect(made.code, made.out).to.equal(0);
        expect(file).to.match(/^\d{14}_add_knexfile_probe_[0-9a-f]{6}\.ts$/);
        const text = fs.readFileSync(path.join(root, 'migrations', file!), 'utf8');
        expect(text).to.contain("import type { Knex } from 'knex';");
        expect(text).to.match(/export async function up\(knex: Knex\)/);
      } finally {
        if (file) fs.rmSync(path.join(root, 'migrations', file));
      }
    } finally {
      release();
    }
  });

  it('when DATABASE_URL is set, then migrate:latest, migrate:list and migrate:rollback work on that PostgreSQL database', async () => {
    const name = `sb_knexfile_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const env = { DATABASE_URL: url.toString() };
    try {
      const latest = await run('npx', ['knex', 'migrate:latest'], env);
      expect(latest.code, latest.out).to.equal(0);
      expect(latest.out).to.match(new RegExp(`Batch 1 run: ${migrationCount} migrations`));
      const db = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 1 } });
      try {
        const names = (await db('knex_migrations').orderBy('id').pluck('name')) as string[];
        expect(names).to.have.length(migrationCount);
        expect(names.every((n) => n.endsWith('.ts')), 'named by their source files, as the server names them').to.equal(true);
        expect(await db.schema.hasTable('users')).to.equal(true);
      } finally {
        await db.destroy();
      }
      const list = await run('npx', ['knex', 'migrate:list'], env);
      expect(list.out).to.match(/No Pending Migration/);
      const rollback = await run('npx', ['knex', 'migrate:rollback'], env);
      expect(rollback.code, rollback.out).to.equal(0);
      const after = await run('npx', ['knex', 'migrate:list'], env);
      expect(after.out).to.match(new RegExp(`Found ${migrationCount} Pending Migration`));
    } finally {
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    }
  });
});
