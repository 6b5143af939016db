import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { GraphTestServer, type AppRegistration } from '../../connectors/entra/testing/graph-test-server.js';
import { startCliServer, type CliServer } from '../support/cli-server.js';

describe('CLI: an Entra ID source against the Graph test server', () => {
  let sb: CliServer;
  let graph: GraphTestServer;
  let app: AppRegistration;
  let accountId: string;
  let sourceId: string;

  before(async () => {
    graph = await GraphTestServer.start();
    app = graph.registerApp();
    graph.addUsers(15);
    sb = await startCliServer();
  });
  after(async () => {
    await sb?.stop();
    await graph?.stop();
  });

  const cli = (args: string[]) => sb.cli(args);

  async function configFile(name: string, overrides: Record<string, unknown> = {}): Promise<string> {
    const path = join(sb.dir, name);
    const config = { tenantId: graph.tenantId, clientId: app.clientId, clientSecret: app.clientSecret, authorityUrl: graph.url, graphUrl: graph.url, caCertPem: graph.caCertPem, defaultCountry: 'BE', ...overrides };
    await writeFile(path, JSON.stringify(config));
    return path;
  }

  it('when an entra source is added from a config file, then it is listed without its secret and sources check signs in', async () => {
    const account = await cli(['accounts', 'create', '--name', 'Entra Co', '--type', 'customer', '--json']);
    expect(account.exitCode, account.err.join('\n')).to.equal(0);
    accountId = JSON.parse(account.out.join('\n')).id;

    const added = await cli(['sources', 'add', '--account', accountId, '--name', 'Entra ID', '--kind', 'entra', '--config-file', await configFile('entra.json'), '--json']);
    expect(added.exitCode, added.err.join('\n')).to.equal(0);
    expect(added.out.join('\n')).to.not.contain(app.clientSecret!);
    const source = JSON.parse(added.out.join('\n'));
    expect(source).to.include({ name: 'Entra ID', kind: 'entra' });
    expect(source.config).to.not.have.property('clientSecret');
    sourceId = source.id;

    const tokensBefore = graph.tokenRequests;
    const check = await cli(['sources', 'check', sourceId, '--account', accountId]);
    expect(check.exitCode, check.err.join('\n')).to.equal(0);
    expect(check.out).to.deep.equal([`ok: source ${sourceId} connected and authenticated`]);
    expect(graph.tokenRequests).to.equal(tokensBefore + 1);
  });

  it('when the config names a bad field, then sources add exits 1 naming it and nothing is created', async () => {
    const bad = await cli(['sources', 'add', '--account', accountId, '--name', 'Bad', '--kind', 'entra', '--config-file', await configFile('bad.json', { graphUrl: 'http://graph.example.com' })]);
    expect(bad.exitCode).to.equal(1);
    expect(bad.err.join('\n')).to.match(/HTTP 400: .*graphUrl: must match \^https/);
    const listed = await cli(['sources', 'list', '--account', accountId, '--json']);
    expect(JSON.parse(listed.out.join('\n')).Resources.map((s: { name: string }) => s.name)).to.deep.equal(['Entra ID']);
  });

  it('when the app lacks User.Read.All, then sources check exits 1 naming the permission', async () => {
    const weak = graph.registerApp({ roles: [] });
    const added = await cli(['sources', 'add', '--account', accountId, '--name', 'No consent', '--kind', 'entra', '--config-file', await configFile('weak.json', { clientId: weak.clientId, clientSecret: weak.clientSecret }), '--json']);
    expect(added.exitCode, added.err.join('\n')).to.equal(0);
    const check = await cli(['sources', 'check', JSON.parse(added.out.join('\n')).id, '--account', accountId]);
    expect(check.exitCode).to.equal(1);
    expect(check.err.join('\n')).to.match(/failed: auth: .*User\.Read\.All/);
  });

  it('when sync run --full --wait runs, then every Entra user is created; an incremental run then reads only the change', async () => {
    const run = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--full', '--wait', '--json']);
    expect(run.exitCode, run.err.join('\n')).to.equal(0);
    expect(JSON.parse(run.out.join('\n'))).to.deep.include({ status: 'succeeded', mode: 'full' });
    expect(JSON.parse(run.out.join('\n')).counts).to.include({ created: 15, quarantined: 0 });

    const [first] = graph.addUsers(1);
    const incremental = await cli(['sync', 'run', '--source', sourceId, '--account', accountId, '--wait', '--json']);
    expect(incremental.exitCode, incremental.err.join('\n')).to.equal(0);
    expect(JSON.parse(incremental.out.join('\n')).counts).to.include({ created: 1, updated: 0, unchanged: 0 });
    const filter = encodeURIComponent(`userName eq "${String(first!.userPrincipalName)}"`);
    const response = await fetch(`${sb.url}/accounts/${accountId}/scim/v2/Users?filter=${filter}`, { headers: { authorization: `Bearer ${sb.token}` } });
    const list = (await response.json()) as { totalResults: number; Resources: Array<Record<string, unknown>> };
    expect(list.totalResults).to.equal(1);
    expect(list.Resources[0]).to.deep.include({ displayName: first!.displayName, active: true });
  });
});
