/**
 * Runs the documentation as written. A fenced block whose info string carries the word `test` (```bash test,
 * ```json test name=ldap.json) is part of a guide's walk-through; the guide tests run those blocks, in order,
 * against real servers, so a guide that stops working fails a test.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestDatabase } from './test-database.js';

export interface GuideBlock {
  /** The first word of the info string: bash, json, http, … */
  lang: string;
  /** `name=value` words of the info string (e.g. name=ldap.json). */
  attrs: Record<string, string>;
  code: string;
  /** 1-based line of the opening fence, for failure messages. */
  line: number;
}

export const repoRoot = path.resolve(import.meta.dirname, '../..');

/** The blocks marked `test` in a Markdown file of the repository, in document order. */
export function guideBlocks(file: string): GuideBlock[] {
  const lines = fs.readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
  const blocks: GuideBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const words = info.trim().split(/\s+/).filter(Boolean);
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith(`${indent}${fence}`); i++) body.push(lines[i].slice(indent.length));
    if (!words.includes('test')) continue;
    const attrs = Object.fromEntries(words.filter((w) => w.includes('=')).map((w) => w.split('=', 2) as [string, string]));
    blocks.push({ lang: words[0] ?? '', attrs, code: `${body.join('\n')}\n`, line: start + 1 });
  }
  return blocks;
}

/** The output a guide shows after its tested blocks (the fenced block after "Printed, in order"), as lines. */
export function printedLines(file: string): string[] {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  const after = text.slice(text.indexOf('Printed, in order'));
  const block = /```\n([\s\S]*?)```/.exec(after);
  if (!block) throw new Error(`${file} has no "Printed, in order" block`);
  return block[1].trim().split('\n');
}

/** Output lines with every UUID written as "…", as the guides print them. */
export function withoutIds(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"/g, '"…"'));
}

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs bash blocks as one script (variables set by one block are seen by the next), stopping at the first command
 * that fails. `env` is added to the test process's environment.
 */
export function runBash(blocks: readonly GuideBlock[], options: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number }): Promise<ShellResult> {
  const script = ['set -euo pipefail', ...blocks.map((b) => `# --- block at line ${b.line}\n${b.code}`)].join('\n');
  // A variable given as undefined is removed: the shell starts as a reader's would, without it.
  const env = Object.fromEntries(Object.entries({ ...process.env, ...options.env }).filter((e): e is [string, string] => e[1] !== undefined));
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 400_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A scratch directory inside the checkout (git-ignored), so that `npx switchboard` there finds this project's bin. */
export function scratchDir(prefix: string): string {
  const base = path.join(repoRoot, '.guide-tests');
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, `${prefix}-`));
}

export interface GuideServer {
  server: RunningServer;
  /** The scratch directory the guide's commands run in (the server's DATA_DIR is its `data`). */
  dir: string;
  close(): Promise<void>;
}

/** A listening server on a fresh test database, with the bootstrap token a guide's reader would have. */
export async function startGuideServer(prefix: string, bootstrapToken: string): Promise<GuideServer> {
  const db = await createTestDatabase();
  const dir = scratchDir(prefix);
  const server = await startServer(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', SWITCHBOARD_BOOTSTRAP_TOKEN: bootstrapToken, SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', DATA_DIR: path.join(dir, 'data') }),
    { db, logger: silentLogger },
    () => {},
  );
  return {
    server,
    dir,
    async close() {
      await server.stop();
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ServerProcess {
  url: string;
  port: number;
  /** Everything the process printed so far (the JSON log and the bootstrap token line). */
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * `switchboard serve` as a process of its own, in `cwd` (so DATA_DIR's default ./data is there), on a port the
 * kernel picks: the port is read from the log line naming the address it listens on.
 */
export async function startServerProcess(options: { cwd: string; env?: Record<string, string> }): Promise<ServerProcess> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/switchboard.js'), 'serve'], {
    cwd: options.cwd,
    env: { ...process.env, DATABASE_URL: '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 300_000;
  let port = 0;
  while (!port) {
    const match = /"msg":"switchboard listening on [^"]*:(\d+)"/.exec(output);
    if (match) port = Number(match[1]);
    else if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`switchboard serve did not start:\n${output}`);
    } else await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
