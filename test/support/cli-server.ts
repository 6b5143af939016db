/**
 * The CLI end-to-end tests' server: a real Switchboard listening on a free loopback port, with an operator token, and a
 * `cli` that runs the switchboard program in this process against it with its output captured.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';
import type { SyncCliIo } from '../../src/cli/sync-commands.js';
import type { UsersCliIo } from '../../src/cli/users-commands.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

/** Every optional part of the CLI's io, so one capture serves every command. */
export type TestCliIo = SyncCliIo & UsersCliIo;

export interface CliRun {
  out: string[];
  err: string[];
  /** What the command wrote raw to stdout (the CSV export). */
  stdout: string;
  exitCode: number;
}

export interface CliServer {
  server: RunningServer;
  db: TestDatabase;
  url: string;
  /** The operator's token (the server's bootstrap token). */
  token: string;
  /** A scratch directory removed at stop. */
  dir: string;
  /**
   * Runs `switchboard --url … --token … ARGS` in this process; stderr is no terminal unless `io` says so. The exit code
   * is read from process.exitCode, which is put back afterwards.
   */
  cli(args: string[], io?: Partial<TestCliIo>): Promise<CliRun>;
  /** Runs `switchboard ARGS` as given: no --url or --token added. */
  exec(args: string[], io?: Partial<TestCliIo>): Promise<CliRun>;
  stop(): Promise<void>;
}

let tokens = 0;

/** Starts the server (no scheduler, no mail worker) with polling at 20 ms for the CLI's --wait. */
export async function startCliServer(env: Record<string, string> = {}): Promise<CliServer> {
  const previousPoll = process.env.SWITCHBOARD_POLL_MS;
  process.env.SWITCHBOARD_POLL_MS = '20';
  const token = `sb_e2e_cli_operator_token_${process.pid}_${++tokens}_0123456789abcdef`;
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-cli-'));
  const db = await createTestDatabase();
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, SWITCHBOARD_BOOTSTRAP_TOKEN: token, SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', ...env,
  });
  const server = await startServer(config, { db, logger: silentLogger }, () => undefined);
  const exec = async (args: string[], io: Partial<TestCliIo> = {}): Promise<CliRun> => {
    const run: CliRun = { out: [], err: [], stdout: '', exitCode: 0 };
    const before = process.exitCode;
    process.exitCode = undefined;
    try {
      const captured: TestCliIo = {
        out: (l) => run.out.push(l), err: (l) => run.err.push(l), writeOut: (text) => void (run.stdout += text), stderrIsTTY: false, ...io,
      };
      await runCli(['node', 'switchboard', ...args], captured);
      run.exitCode = Number(process.exitCode ?? 0);
    } finally {
      process.exitCode = before;
    }
    return run;
  };
  return {
    server, db, url: server.url, token, dir, exec,
    cli: (args, io) => exec(['--url', server.url, '--token', token, ...args], io),
    async stop() {
      if (previousPoll === undefined) delete process.env.SWITCHBOARD_POLL_MS;
      else process.env.SWITCHBOARD_POLL_MS = previousPoll;
      await server.stop();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
