import crypto from 'node:crypto';
import knexFactory from 'knex';
import { openDatabase, migrateLatest, type Database } from '../../src/db/database.js';

/**
 * A fresh, migrated database per call. With DATABASE_URL set, a scratch PostgreSQL database cloned from a
 * template migrated once per test process; otherwise an in-memory PGlite loaded from a migrated dump.
 */
const serverUrl = process.env.DATABASE_URL;
let templateReady: Promise<string> | undefined;
let pgliteTemplate: Promise<Blob> | undefined;
const created: string[] = [];

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(sql);
  } finally {
    await admin.destroy();
  }
}

async function postgresTemplate(): Promise<string> {
  const name = `switchboard_tmpl_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  created.push(name);
  const db = await openDatabase({ databaseUrl: withDatabase(serverUrl!, name), poolMax: 1 });
  try {
    await migrateLatest(db.knex);
  } finally {
    await db.close();
  }
  return name;
}

async function migratedPgliteDump(): Promise<Blob> {
  const fresh = await openDatabase({});
  await migrateLatest(fresh.knex);
  const client = fresh.knex.client as unknown as { pglite: { dumpDataDir(compression?: 'none' | 'gzip'): Promise<Blob> } };
  const dump = await client.pglite.dumpDataDir('none');
  await fresh.close();
  return dump;
}

export interface TestDatabase extends Database {
  /** The PostgreSQL URL of this scratch database (undefined on PGlite). */
  url?: string;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (serverUrl) {
    templateReady ??= postgresTemplate();
    const template = await templateReady;
    const name = `switchboard_test_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
    await adminQuery(`create database ${name} template ${template}`);
    created.push(name);
    const url = withDatabase(serverUrl, name);
    const db = await openDatabase({ databaseUrl: url, poolMax: 10 });
    return { ...db, url };
  }
  pgliteTemplate ??= migratedPgliteDump();
  const dump = await pgliteTemplate;
  return openDatabase({ loadDataDir: dump });
}

export const testDatabaseKind = serverUrl ? 'postgres' : 'pglite';

/** Drops every scratch database this process made (mocha root hook). */
export async function dropTestDatabases(): Promise<void> {
  if (!serverUrl) return;
  for (const name of created.reverse()) {
    await adminQuery(`drop database if exists ${name} with (force)`).catch(() => undefined);
  }
  created.length = 0;
}

/**
 * Takes a test database away under a running app, as an outage would: the PostgreSQL database is dropped (its
 * connections terminated); PGlite is closed.
 */
export async function takeAwayDatabase(db: TestDatabase): Promise<void> {
  if (db.url) {
    const name = new URL(db.url).pathname.slice(1);
    await adminQuery(`drop database if exists ${name} with (force)`);
    return;
  }
  await db.close();
}
