import { PassThrough } from 'node:stream';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { startCliServer, type CliServer, type TestCliIo } from '../support/cli-server.js';

const HEADER = 'First Name,Last Name,Email,Mobile Number,Mobile Country,Extensions,Account Admin,SMS Number,Licenses,Department,Title';

describe('CLI: users import and export against a running server', () => {
  let sb: CliServer;
  let dir: string;
  let accountId: string;

  before(async () => {
    sb = await startCliServer();
    dir = sb.dir;
  });
  after(async () => sb?.stop());

  const cli = (args: string[], extra: Partial<TestCliIo> = {}) => sb.cli(args, extra);

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
    expect(res.err).to.include(`1 row failed; fix them in ${file}.report.csv and import it again`);
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
