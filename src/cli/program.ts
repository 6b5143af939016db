import { Command } from 'commander';
import { ConfigError, loadClientConfig, loadConfig } from '../config.js';
import { migrateLatest, openDatabase } from '../db/database.js';
import { URN } from '../domain/scim-schemas.js';
import { startServer } from '../server.js';
import fs from 'node:fs';
import { newSecretKey, parseSecretKey, readOrCreateKeyFile, SecretBox, secretKeyFile } from '../lib/secret-box.js';
import { rotateSourceSecrets } from '../services/sources-service.js';
import { ApiClient, ApiError } from './api-client.js';
import type { CliIo } from './cli-io.js';
import { registerSyncCommands } from './sync-commands.js';
import { registerUsersCommands } from './users-commands.js';

type Row = Record<string, unknown>;

export type { CliIo } from './cli-io.js';

function table(rows: Row[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

export function buildProgram(io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) }): Command {
  const program = new Command('switchboard')
    .description('Switchboard: users from SCIM, directories and phone systems, reconciled into one store.')
    .option('--url <url>', 'server URL for client commands (default SWITCHBOARD_URL or http://localhost:$PORT)')
    .option('--token <token>', 'bearer token for client commands (default SWITCHBOARD_TOKEN)')
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

  const accounts = program.command('accounts').description('partner and customer accounts');
  accounts
    .command('create')
    .requiredOption('--name <name>', 'account name')
    .requiredOption('--type <type>', 'partner or customer')
    .option('--parent <accountId>', 'owning account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; type: string; parent?: string; json?: boolean }) => {
      const created = await client().request('POST', '/scim/v2/Accounts', {
        schemas: [URN.account],
        name: opts.name,
        type: opts.type,
        ...(opts.parent ? { parentId: opts.parent } : {}),
      });
      print(!!opts.json, created, ['id', 'name', 'type', 'parentId']);
    });
  accounts
    .command('list')
    .option('--filter <filter>', 'SCIM filter, e.g. type eq "customer"')
    .option('--json', 'print JSON')
    .action(async (opts: { filter?: string; json?: boolean }) => {
      const query = new URLSearchParams({ count: '1000', ...(opts.filter ? { filter: opts.filter } : {}) });
      const list = await client().request<{ Resources: Row[] }>('GET', `/scim/v2/Accounts?${query}`);
      print(!!opts.json, opts.json ? list : list.Resources, ['id', 'name', 'type', 'parentId', 'userCount']);
    });

  const tokens = program.command('tokens').description('API bearer tokens');
  tokens
    .command('create')
    .requiredOption('--role <role>', 'operator, partner-admin, account-admin, provisioning or user')
    .option('--account <accountId>', 'account the token belongs to (default: your own)')
    .option('--description <text>', 'what the token is for')
    .option('--user-id <userId>', 'for role user: the user it acts as')
    .option('--expires-at <dateTime>', 'RFC 3339 expiry')
    .option('--json', 'print JSON')
    .action(async (opts: { role: string; account?: string; description?: string; userId?: string; expiresAt?: string; json?: boolean }) => {
      const api = client();
      const created = await api.request('POST', `${api.base(opts.account)}/Tokens`, {
        schemas: [URN.token],
        role: opts.role,
        ...(opts.description ? { description: opts.description } : {}),
        ...(opts.userId ? { userId: opts.userId } : {}),
        ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
      });
      if (opts.json) print(true, created);
      else {
        print(false, created, ['id', 'role', 'description', 'expiresAt']);
        io.out(`\nSecret (shown once, store it now): ${String(created.token)}`);
      }
    });
  tokens
    .command('list')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (opts: { account?: string; json?: boolean }) => {
      const api = client();
      const list = await api.request<{ Resources: Row[] }>('GET', `${api.base(opts.account)}/Tokens?count=1000`);
      print(!!opts.json, opts.json ? list : list.Resources, ['id', 'role', 'description', 'expiresAt', 'lastUsedAt', 'revokedAt']);
    });
  tokens
    .command('revoke')
    .argument('<tokenId>', 'token id')
    .option('--account <accountId>', 'account (default: your own)')
    .option('--json', 'print JSON')
    .action(async (tokenId: string, opts: { account?: string; json?: boolean }) => {
      const api = client();
      await api.request('DELETE', `${api.base(opts.account)}/Tokens/${encodeURIComponent(tokenId)}`);
      print(!!opts.json, { id: tokenId, revoked: true }, ['id', 'revoked']);
    });

  registerSyncCommands(program, client, print, io);
  registerUsersCommands(program, client, print, io);

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
