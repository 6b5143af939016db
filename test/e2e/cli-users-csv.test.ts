import { PassThrough } from 'node:stream';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { runCli } from '../../src/cli/program.js';
import type { UsersCliIo } from '../../src/cli/users-commands.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const TOKEN = 'sb_e2e_cli_users_csv_operator_token_0123456789ab';
const HEADER = 'First Name,Last Name,Email,Mobile Number,Mobile Country,Extensions,Account Admin,SMS Number,Licenses,Department,Title';

interface Captured {
  out: string[];
  err: string[];
  stdout: string;
  exitCode: number;
}

describe('CLI: users import and export against a running server', () => {
  let db: TestDatabase;
  let server: RunningServer;
  let dir: string;
  let accountId: string;
  const previousPoll = process.env.SWITCHBOARD_POLL_MS;

  before(async () => {
    process.env.SWITCHBOARD_POLL_MS = '20';
    dir = await mkdtemp(join(tmpdir(), 'switchboard-cli-users-'));
    db = await createTestDatabase();
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, SWITCHBOARD_BOOTSTRAP_TOKEN: TOKEN, SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false' });
    server = await startServer(config, { db, logger: silentLogger }, () => undefined);
  });
  after(async () => {
    if (previousPoll === undefined) delete process.env.SWITCHBOARD_POLL_MS;
    else process.env.SWITCHBOARD_POLL_MS = previousPoll;
    await server?.stop();
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function cli(args: string[], extra: Partial<UsersCliIo> = {}): Promise<Captured> {
    const captured: Captured = { out: [], err: [], stdout: '', exitCode: 0 };
    const io: UsersCliIo = { out: (l) => captured.out.push(l), err: (l) => captured.err.push(l), writeOut: (text) => void (captured.stdout += text), stderrIsTTY: false, ...extra };
    const before = process.exitCode;
    process.exitCode = undefined;
    try {
      await runCli(['node', 'switchboard', '--url', server.url, '--token', TOKEN, ...args], io);
      captured.exitCode = Number(process.exitCode ?? 0);
    } finally {
      process.exitCode = before;
    }
    return captured;
  }

  it('when a customer account is created, then its id is kept for the commands', async () => {
    const res = await cli(['accounts', 'create', '--name', 'CSV Co', '--type', 'customer', '--json']);
    expect(res.exitCode).to.equal(0);
    accountId = JSON.parse(res.out.join('\n')).id;
    expect(accountId).to.be.a('string');
  });

  it('when a file with a bad row is imported, then the counts are printed, the report is written beside the file and the exit code is 1', async () => {
    const file = join(dir, 'users.csv');
    await writeFile(file, `${HEADER}\nAda,Lovelace,ada@example.com,+14155550100,,2001,yes,,,Eng,Countess\nBad,Row,not-an-email,,,,,,,,\nAlan,Turing,alan@example.com,,,,,,,,\n`);
    const res = await cli(['users', 'import', file, '--account', accountId]);
    expect(res.exitCode).to.equal(1);
    expect(res.out.join('\n')).to.match(/completed_with_errors\s+3\s+2\s+0\s+0\s+1/);
    expect(res.err.some((l) => /import [0-9a-f-]+: completed_with_errors, 3\/3 rows/.test(l))).to.equal(true);
    expect(res.err).to.include(`1 row(s) failed; fix them in ${file}.report.csv and import it again`);
    const report = parse(await readFile(`${file}.report.csv`, 'utf8')) as string[][];
    expect(report[0]!.slice(-3)).to.deep.equal(['Line', 'Outcome', 'Reason']);
    expect(report[2]!.slice(-3, -1)).to.deep.equal(['3', 'failed']);
    expect(report[2]![report[2]!.length - 1]).to.contain('not a valid email address');
  });

  it('when the report is fixed and imported again with --dry-run, then it counts what would change, writes nothing and exits 0', async () => {
    const file = join(dir, 'users.csv.report.csv');
    await writeFile(file, (await readFile(file, 'utf8')).replace('not-an-email', 'bad@example.com'));
    const dry = await cli(['users', 'import', file, '--account', accountId, '--dry-run', '--json']);
    expect(dry.exitCode).to.equal(0);
    expect(JSON.parse(dry.out.join('\n')).counts).to.deep.equal({ rows: 3, created: 1, updated: 0, unchanged: 2, failed: 0 });
    const list = await cli(['users', 'export', '--account', accountId]);
    expect((parse(list.stdout) as string[][]).map((r) => r[2])).to.not.include('bad@example.com');
  });

  it('when 1,500 users are imported on a terminal, then a progress bar shows rows, rows/s and the ETA, and the export lists them all', async () => {
    const file = join(dir, 'many.csv');
    await writeFile(file, `${HEADER}\n${Array.from({ length: 1500 }, (_, i) => `F${i},L${i},many${i}@example.com,,,,,,,,`).join('\n')}\n`);
    const terminal = new PassThrough();
    let drawn = '';
    terminal.on('data', (c: Buffer) => (drawn += c.toString()));
    const res = await cli(['users', 'import', file, '--account', accountId], { stderrIsTTY: true, progressStream: terminal });
    expect(res.exitCode).to.equal(0);
    expect(drawn).to.match(/import \|.*\| 1500\/1500 rows \| \d+ rows\/s \| ETA/);
    const exported = await cli(['users', 'export', '--account', accountId, '--filter', 'userName sw "many"', '--sort-by', 'userName']);
    expect(exported.exitCode).to.equal(0);
    const rows = parse(exported.stdout) as string[][];
    expect(rows).to.have.length(1501);
    expect(rows[0]!.slice(-4)).to.deep.equal(['Registered', 'Source', 'Modified On', 'Modified By']);
    expect(rows[1]![2]).to.equal('many0@example.com');
  });

  it('when the export is given a bad filter, then one error line and exit 1', async () => {
    const res = await cli(['users', 'export', '--account', accountId, '--filter', 'nope']);
    expect(res.exitCode).to.equal(1);
    expect(res.err[0]).to.match(/^switchboard: HTTP 400: /);
  });
});
