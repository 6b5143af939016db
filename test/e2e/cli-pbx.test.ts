import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { micloudPortalExport, mivbExport } from '../../connectors/testing/pbx-fixtures.js';
import { startCliServer, type CliServer } from '../support/cli-server.js';
import { putExport, startSshd, type Sshd } from '../support/sshd.js';

describe('CLI: MiVoice Business and MiCloud Connect sources against a running server', () => {
  let sb: CliServer;
  let sshd: Sshd;
  let dir: string;
  let accountId: string;

  before(async () => {
    sshd = await startSshd();
    await putExport(sshd, 'mivb-users.csv', mivbExport(40));
    await utimes(join(sshd.dir, 'mivb-users.csv'), new Date(), new Date(Date.now() - 120_000));
    await putExport(sshd, 'no-dn.csv', mivbExport(3).replace('Directory Number', 'Number'));
    sb = await startCliServer();
    dir = sb.dir;
  });
  after(async () => {
    await sb?.stop();
    await sshd?.stop();
  });

  const cli = (args: string[]) => sb.cli(args);

  async function addSource(name: string, kind: string, config: Record<string, unknown>): Promise<string> {
    const path = join(dir, `${name}.json`);
    await writeFile(path, JSON.stringify(config));
    const added = await cli(['sources', 'add', '--account', accountId, '--name', name, '--kind', kind, '--config-file', path, '--schedule', '0 2 * * *', '--json']);
    expect(added.exitCode, added.err.join('\n')).to.equal(0);
    for (const secret of [config.password, config.privateKeyPem].filter(Boolean)) expect(added.out.join('\n')).to.not.contain(String(secret));
    return JSON.parse(added.out.join('\n')).id as string;
  }
  const mivb = (overrides: Record<string, unknown> = {}) => ({
    location: sshd.url(`${sshd.dir}/mivb-users.csv`), privateKeyPem: sshd.privateKeyPem, hostKeySha256: sshd.hostKeySha256, clusterId: 'hq', ...overrides,
  });
  const check = (sourceId: string) => cli(['sources', 'check', sourceId, '--account', accountId]);

  it('when a MiVB source over SFTP is added, then check succeeds and a wrong host key, password, path or missing column is each named', async () => {
    const account = await cli(['accounts', 'create', '--name', 'PBX Co', '--type', 'customer', '--json']);
    expect(account.exitCode, account.err.join('\n')).to.equal(0);
    accountId = JSON.parse(account.out.join('\n')).id;

    const good = await check(await addSource('mivb', 'mivb', mivb()));
    expect(good.exitCode, good.err.join('\n')).to.equal(0);

    const hostKey = await check(await addSource('mivb-hostkey', 'mivb', mivb({ hostKeySha256: `SHA256:${'B'.repeat(43)}` })));
    expect(hostKey.exitCode).to.equal(1);
    expect(hostKey.err.join('\n')).to.contain(`host key mismatch: the server offered ${sshd.hostKeySha256}`);

    const password = await check(await addSource('mivb-password', 'mivb', mivb({ privateKeyPem: undefined, password: 'wrong' })));
    expect(password.exitCode).to.equal(1);
    expect(password.err.join('\n')).to.contain('login refused for user switchboard-sftp (password)');

    const path = await check(await addSource('mivb-path', 'mivb', mivb({ location: sshd.url(`${sshd.dir}/missing.csv`) })));
    expect(path.exitCode).to.equal(1);
    expect(path.err.join('\n')).to.contain(`${sshd.dir}/missing.csv: no such file`);

    const column = await check(await addSource('mivb-column', 'mivb', mivb({ location: sshd.url(`${sshd.dir}/no-dn.csv`) })));
    expect(column.exitCode).to.equal(1);
    expect(column.err.join('\n')).to.contain('missing required column "Directory Number"');
  });

  it('when the MiVB source runs twice, then the first creates the users and the second is idle', async () => {
    const list = await cli(['sources', 'list', '--account', accountId, '--json']);
    const sourceId = (JSON.parse(list.out.join('\n')).Resources as Array<{ id: string; name: string }>).find((s) => s.name === 'mivb')!.id;
    const first = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--wait']);
    expect(first.exitCode, first.err.join('\n')).to.equal(0);
    expect(first.err.at(-1)).to.match(/: succeeded, 40 records \(40 created/);
    const second = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--wait', '--json']);
    expect(second.exitCode, second.err.join('\n')).to.equal(0);
    expect(second.err.at(-1)).to.match(/: succeeded \(idle: nothing changed since the last run\), 0 records/);
    expect(JSON.parse(second.out.join('\n'))).to.deep.include({ status: 'succeeded', idle: true });
  });

  it('when a MiCloud Connect source reads an export with contacts, then the run counts them as skipped', async () => {
    await writeFile(join(dir, 'micloud.csv'), micloudPortalExport(6, 2));
    const sourceId = await addSource('micloud', 'micloud', { location: `file://${join(dir, 'micloud.csv')}`, defaultCountry: 'US' });
    const run = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--full', '--wait']);
    expect(run.exitCode, run.err.join('\n')).to.equal(0);
    expect(run.err.at(-1)).to.match(/: succeeded, 6 records \(6 created, 0 updated, 0 unchanged, 0 deactivated, 0 deleted, 0 quarantined, 2 skipped\)/);
  });
});
