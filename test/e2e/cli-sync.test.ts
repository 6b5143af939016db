import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { startCliServer, type CliServer, type TestCliIo } from '../support/cli-server.js';
import { peopleLdif, startSlapd, type Slapd } from '../support/slapd.js';

describe('CLI: sources and sync against a running server', () => {
  let sb: CliServer;
  let slapd: Slapd;
  let dir: string;
  let accountId: string;
  let sourceId: string;

  before(async () => {
    slapd = await startSlapd({ initialLdif: peopleLdif(12) });
    sb = await startCliServer();
    dir = sb.dir;
  });
  after(async () => {
    await sb?.stop();
    await slapd?.stop();
  });

  const cli = (args: string[], extra: Partial<TestCliIo> = {}) => sb.cli(args, extra);

  async function configFile(name: string, overrides: Record<string, unknown> = {}): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.peopleDn, ...overrides }));
    return path;
  }

  it('when a source is added, then it is listed without its secret and its check succeeds', async () => {
    const account = await cli(['accounts', 'create', '--name', 'CLI Sync Co', '--type', 'customer', '--json']);
    expect(account.exitCode, account.err.join('\n')).to.equal(0);
    accountId = JSON.parse(account.out.join('\n')).id;

    const added = await cli(['sources', 'add', '--account', accountId, '--name', 'Directory', '--kind', 'ldap', '--config-file', await configFile('ldap.json'), '--schedule', '*/15 * * * *', '--json']);
    expect(added.exitCode, added.err.join('\n')).to.equal(0);
    const source = JSON.parse(added.out.join('\n'));
    expect(source).to.include({ name: 'Directory', kind: 'ldap', schedule: '*/15 * * * *' });
    expect(added.out.join('\n')).to.not.contain(slapd.bindPassword);
    sourceId = source.id;

    const listed = await cli(['sources', 'list', '--account', accountId]);
    expect(listed.exitCode).to.equal(0);
    expect(listed.out.join('\n')).to.match(/^id\s+name\s+kind\s+enabled\s+state\s+lastRun\s+lastCounts\s+nextRunAt\s+failures\s+backoffUntil\s+lastError$/m);
    expect(listed.out.join('\n').split('\n')[1]).to.contain(sourceId).and.contain('Directory').and.contain('idle').and.contain('never').and.match(/\s0$/);

    const check = await cli(['sources', 'check', sourceId, '--account', accountId]);
    expect(check.exitCode, check.err.join('\n')).to.equal(0);
    expect(check.out).to.deep.equal([`ok: source ${sourceId} connected and authenticated`]);
  });

  it('when the bind password is wrong, then check says why and exits 1', async () => {
    const added = await cli(['sources', 'add', '--account', accountId, '--name', 'Wrong', '--kind', 'ldap', '--config-file', await configFile('wrong.json', { bindPassword: 'nope' }), '--json']);
    expect(added.exitCode, added.err.join('\n')).to.equal(0);
    const check = await cli(['sources', 'check', JSON.parse(added.out.join('\n')).id, '--account', accountId]);
    expect(check.exitCode).to.equal(1);
    expect(check.err.join('\n')).to.match(/check of source .* failed: .*(auth|credential|bind)/i);
  });

  it('when sync run --wait runs, then progress goes to stderr line by line and the counts to stdout', async () => {
    const run = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--full', '--wait']);
    expect(run.exitCode, run.err.join('\n')).to.equal(0);
    expect(run.err[0]).to.match(/^sync run [0-9a-f-]{36}: running, 0 records/);
    expect(run.err.at(-1)).to.match(/: succeeded, 12 records \(12 created, 0 updated, 0 unchanged/);
    expect(new Set(run.err).size).to.equal(run.err.length); // one line per change
    const table = run.out.join('\n');
    expect(table).to.match(/^id\s+status\s+durationMs\s+created\s+updated\s+unchanged\s+deactivated\s+deleted\s+quarantined/);
    expect(table).to.match(/succeeded\s+\d+\s+12\s+0\s+0\s+0\s+0\s+0$/m);
  });

  it('when stderr is a terminal, then the progress line is rewritten in place', async () => {
    const raw: string[] = [];
    const run = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--wait', '--json'], { stderrIsTTY: true, writeErr: (t) => raw.push(t) });
    expect(run.exitCode, run.err.join('\n')).to.equal(0);
    expect(run.err).to.deep.equal([]);
    expect(raw.length).to.be.greaterThan(1);
    expect(raw.slice(0, -1).every((t) => t.startsWith('\r'))).to.equal(true);
    expect(raw.at(-2), JSON.stringify(raw)).to.match(/: succeeded, 0 records \(0 created, 0 updated, 0 unchanged, 0 deactivated, 0 deleted, 0 quarantined\), \d+\.\d s$/); // incremental: nothing changed
    expect(raw.at(-1)).to.equal('\n');
    expect(JSON.parse(run.out.join('\n'))).to.deep.include({ status: 'succeeded', mode: 'incremental' });
  });

  it('when a full run would deactivate past the threshold, then it exits 1 saying why, and --allow-deletes confirms', async () => {
    for (const n of ['00000', '00001', '00002', '00003', '00004']) await slapd.delete(`uid=user${n},${slapd.peopleDn}`);
    const stopped = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--full', '--wait']);
    expect(stopped.exitCode).to.equal(1);
    // The numbers in the right number, and the advice once, in the CLI's words.
    expect(stopped.err.at(-1)).to.match(/^sync run \S+ stopped: deletion threshold exceeded: 5 of 12 linked users would be deactivated, more than the limit of 2 \(the smaller of 500 users and 20 %\); nothing was deactivated\. Check the directory, then run again with allowDeletes \(switchboard sync run --allow-deletes\) to confirm$/);

    const dry = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--full', '--allow-deletes', '--dry-run', '--wait', '--json']);
    expect(dry.exitCode, dry.err.join('\n')).to.equal(0);
    expect(JSON.parse(dry.out.join('\n')).counts).to.include({ deactivated: 5 });

    const confirmed = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--full', '--allow-deletes', '--wait', '--json']);
    expect(confirmed.exitCode, confirmed.err.join('\n')).to.equal(0);
    expect(JSON.parse(confirmed.out.join('\n'))).to.deep.include({ status: 'succeeded' });
    expect(JSON.parse(confirmed.out.join('\n')).counts).to.include({ deactivated: 5, unchanged: 7 });
  });

  it('when sync run is started without --wait, then it prints the started run; history lists runs newest first', async () => {
    const started = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--json']);
    expect(started.exitCode, started.err.join('\n')).to.equal(0);
    const run = JSON.parse(started.out.join('\n'));
    expect(run).to.include({ status: 'running', mode: 'incremental', sourceId });
    // Wait for it through history, then check the order and the table.
    let history: { Resources: { id: string; status: string }[] } = { Resources: [] };
    for (let i = 0; i < 200; i++) {
      history = JSON.parse((await cli(['sync', 'history', '--source', sourceId, '--account', accountId, '--json'])).out.join('\n'));
      if (history.Resources[0]?.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(history.Resources.map((r) => r.status)).to.deep.equal(['succeeded', 'succeeded', 'succeeded', 'stopped_deletion_threshold', 'succeeded', 'succeeded']);
    expect(history.Resources[0]!.id).to.equal(run.id);
    const table = await cli(['sync', 'history', '--account', accountId, '--limit', '2']);
    expect(table.out.join('\n').split('\n')).to.have.length(3);
    expect(table.out[0]).to.match(/^id\s+sourceId\s+mode\s+trigger\s+status\s+startedAt/);
    const bad = await cli(['sync', 'history', '--account', accountId, '--limit', 'x']);
    expect(bad.exitCode).to.equal(1);
    expect(bad.err.join('\n')).to.contain('--limit must be a positive whole number');
  });
});
