import { Command } from 'commander';
import { ConfigError, loadClientConfig, loadConfig } from '../config.js';
import { migrateLatest, openDatabase } from '../db/database.js';
import { startServer } from '../server.js';
import fs from 'node:fs';
import { newSecretKey, parseSecretKey, readOrCreateKeyFile, SecretBox, secretKeyFile } from '../lib/secret-box.js';
import { rotateSourceSecrets } from '../db/secret-rotation.js';
import { registerAccountCommands } from './account-commands.js';
import { registerActionsCommands } from './actions-commands.js';
import { ApiClient, ApiError } from './api-client.js';
import type { CliIo, CommandContext, Row } from './cli-io.js';
import { bashCompletion, zshCompletion } from './completion.js';
import { registerDirectoryCommands } from './directory-commands.js';
import { registerSyncCommands } from './sync-commands.js';
import { table } from './table.js';
import { registerUsersCommands } from './users-commands.js';
import { packageVersion } from './version.js';

export type { CliIo } from './cli-io.js';

export function buildProgram(io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) }): Command {
  const program = new Command('switchboard')
    .description('Switchboard: users from SCIM, directories and phone systems, reconciled into one store.')
    .option('--url <url>', 'server URL for client commands (default SWITCHBOARD_URL or http://localhost:$PORT)')
    .option('--token <token>', 'bearer token for client commands (default SWITCHBOARD_TOKEN)')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError();

  const client = () => new ApiClient(loadClientConfig(process.env, program.opts<{ url?: string; token?: string }>()));
  const print = (json: boolean, value: unknown, columns?: string[]) => {
    if (json || !columns) io.out(JSON.stringify(value, null, 2));
    else io.out(table(Array.isArray(value) ? (value as Row[]) : [value as Row], columns));
  };

  program
    .command('serve')
    .description('run the server (migrates first); PGlite in DATA_DIR unless DATABASE_URL is set')
    .action(async () => {
      const config = loadConfig();
      const running = await startServer(config, {}, io.out);
      const shutdown = (signal: string) => {
        running.deps.logger.info({ signal }, 'signal received');
        running.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            io.err(String(error));
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });

  program
    .command('secrets')
    .description('source secrets at rest')
    .command('rotate')
    .description('seal every stored source secret under a new key (stop the server first on embedded PGlite)')
    .option('--new-key <key>', 'the new key (32 bytes as base64 or hex); default: a generated one')
    .action(async (options: { newKey?: string }) => {
      const config = loadConfig();
      const oldKey = config.secretKey ?? (fs.existsSync(secretKeyFile(config.dataDir)) ? readOrCreateKeyFile(config.dataDir).key : undefined);
      if (!oldKey) throw new Error(`no secret key to rotate from: set SWITCHBOARD_SECRET_KEY or keep ${secretKeyFile(config.dataDir)}`);
      const newKey = options.newKey ? parseSecretKey(options.newKey, '--new-key') : newSecretKey();
      const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.databaseUrl ? undefined : config.dataDir, poolMax: 1 });
      try {
        await migrateLatest(db.knex);
        // The new key is on disk before any secret is sealed with it, so a crash between leaves it recoverable.
        const pending = `${secretKeyFile(config.dataDir)}.new`;
        if (!config.secretKey) fs.writeFileSync(pending, newKey.toString('base64') + '\n', { mode: 0o600 });
        const rotated = await rotateSourceSecrets(db.knex, new SecretBox(newKey, [oldKey, ...config.previousSecretKeys]));
        if (config.secretKey) {
          io.out(`rotated the secrets of ${rotated} sources. Set SWITCHBOARD_SECRET_KEY=${newKey.toString('base64')} on every instance ` +
            `(with SWITCHBOARD_SECRET_KEY_PREVIOUS=${oldKey.toString('base64')} until each has restarted)`);
        } else {
          fs.renameSync(pending, secretKeyFile(config.dataDir));
          io.out(`rotated the secrets of ${rotated} sources; the new key is in ${secretKeyFile(config.dataDir)}`);
        }
      } finally {
        await db.close();
      }
    });

  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(async () => {
      const config = loadConfig();
      const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.databaseUrl ? undefined : config.dataDir, poolMax: 1 });
      try {
        await migrateLatest(db.knex);
        io.out(`migrated (${db.kind})`);
      } finally {
        await db.close();
      }
    });

  const context: CommandContext = { client, print, io, pollMs: Number(process.env.SWITCHBOARD_POLL_MS) || 1000 };
  registerAccountCommands(program, context);
  const users = registerUsersCommands(program, context);
  registerDirectoryCommands(program, users, context);
  registerActionsCommands(program, context);
  registerSyncCommands(program, context);

  program
    .command('completion')
    .description('print a shell completion script: source <(switchboard completion bash), or zsh')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell === 'bash') io.out(bashCompletion(program));
      else if (shell === 'zsh') io.out(zshCompletion(program));
      else throw new Error(`no completion for "${shell}": bash or zsh`);
    });

  return program;
}

/** Runs the CLI; turns expected failures into one clear line and exit code 1. */
export async function runCli(argv: string[], io?: CliIo): Promise<void> {
  const err = io?.err ?? ((l: string) => console.error(l));
  try {
    await buildProgram(io).parseAsync(argv);
  } catch (error) {
    if (error instanceof ApiError || error instanceof ConfigError || error instanceof Error) {
      err(`switchboard: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}
