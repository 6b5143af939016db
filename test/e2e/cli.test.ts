import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCliServer, type CliServer } from '../support/cli-server.js';
import { testDatabaseKind } from '../support/test-database.js';

describe(`CLI against a running server (${testDatabaseKind})`, () => {
  let sb: CliServer;
  let url: string;
  let BOOT: string;
  before(async () => {
    sb = await startCliServer();
    url = sb.url;
    BOOT = sb.token;
  });
  after(async () => sb?.stop());
  const cli = async (args: string[]) => {
    const run = await sb.exec(args);
    return { out: run.out.join('\n'), err: run.err.join('\n'), code: run.exitCode };
  };

  it('when accounts and tokens are managed from the CLI, then create, list and revoke work, with --json', async () => {
    const partner = await cli(['--url', url, '--token', BOOT, 'accounts', 'create', '--name', 'CLI Partner', '--type', 'partner', '--json']);
    expect(partner.code).to.equal(0);
    const partnerId = JSON.parse(partner.out).id as string;
    const listed = await cli(['--url', url, '--token', BOOT, 'accounts', 'list']);
    expect(listed.out).to.include('CLI Partner').and.include(partnerId);
    const token = await cli(['--url', url, '--token', BOOT, 'tokens', 'create', '--account', partnerId, '--role', 'partner-admin', '--description', 'ops', '--json']);
    const created = JSON.parse(token.out) as { id: string; token: string };
    expect(created.token).to.match(/^sb_/);
    const customer = await cli(['--url', url, '--token', created.token, 'accounts', 'create', '--name', 'CLI Customer', '--type', 'customer', '--json']);
    expect(JSON.parse(customer.out).parentId).to.equal(partnerId);
    const tokens = await cli(['--url', url, '--token', BOOT, 'tokens', 'list', '--account', partnerId, '--json']);
    expect(JSON.parse(tokens.out).Resources.map((r: { id: string }) => r.id)).to.include(created.id);
    const revoked = await cli(['--url', url, '--token', BOOT, 'tokens', 'revoke', created.id, '--account', partnerId]);
    expect(revoked.code).to.equal(0);
    const refused = await cli(['--url', url, '--token', created.token, 'accounts', 'list']);
    expect(refused.code).to.equal(1);
    expect(refused.err).to.match(/401/);
  });

  it('when the server cannot be reached or no token is given, then one clear line and exit code 1', async () => {
    const down = await cli(['--url', 'http://127.0.0.1:1', '--token', BOOT, 'accounts', 'list']);
    expect(down.code).to.equal(1);
    expect(down.err).to.match(/Cannot reach http:\/\/127\.0\.0\.1:1/);
    const noToken = await cli(['--url', url, 'accounts', 'list']);
    expect(noToken.err).to.match(/No token/);
  });
});

describe('switchboard serve on a data directory', () => {
  const children: ChildProcess[] = [];
  after(() => children.forEach((c) => c.kill('SIGKILL')));

  function serve(dataDir: string, port: number) {
    const child = spawn(process.execPath, ['bin/switchboard.js', 'serve'], {
      env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error', SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    return { child, exited, output: () => output };
  }

  it('when a second process opens the same PGlite data directory, then it is refused with a clear message; SIGTERM stops the first cleanly', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-serve-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const first = serve(dataDir, port);
    for (let i = 0; i < 120; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok).catch(() => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(first.output()).to.match(/Operator token \(shown once/);
    expect(fs.statSync(path.join(dataDir, 'bootstrap-token')).mode & 0o777).to.equal(0o600);
    const second = serve(dataDir, port + 1);
    expect(await second.exited).to.equal(1);
    expect(second.output()).to.match(/Another Switchboard process \(pid \d+\) is using the data directory/);
    first.child.kill('SIGTERM');
    expect(await first.exited).to.equal(0);
    expect(fs.existsSync(path.join(dataDir, 'switchboard.lock'))).to.equal(false);
  });
});
