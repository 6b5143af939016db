/**
 * The knex CLI's configuration: `npx knex migrate:latest | migrate:rollback | migrate:list | migrate:make NAME`
 * (and `npm run migrate`) against DATABASE_URL, or the embedded PGlite database in DATA_DIR (default ./data) when
 * it is unset, with the server's migrations and migration names. Reads the configuration the way the server does
 * (src/config.ts) and opens nothing until a command queries. TypeScript is loaded by tsx, registered for the knex
 * CLI by the devDependency typescript-register (tools/knex-typescript).
 */
import { ConfigError, loadConfig } from './src/config.js';
import { cliKnexConfig } from './src/db/database.js';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) fail(error.message);
  throw error;
}

export default cliKnexConfig({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, refuse: (error) => fail(error.message) });
