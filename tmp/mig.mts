import { migrateLatest, openDatabase } from '/work/scim10/src/db/database.js';
const t = Date.now();
const db = await openDatabase({ databaseUrl: process.env.URL, dataDir: process.env.URL ? undefined : '/tmp/scim10-pgl-' + Date.now() } as never);
try { await migrateLatest(db.knex); console.log('ok', Date.now() - t); } catch (e) { console.error('ERR', e); } finally { await db.close(); }
