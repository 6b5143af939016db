/**
 * Source changes are audited (README › Audit events): creating, changing, enabling, disabling and deleting a source,
 * through the Sources API or the CLI's `sources …` commands (which use it), each write one audit_log entry in the
 * transaction of the change, read back from /AuditEvents; the details name what changed and never carry a secret.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { startCliServer, type CliServer } from '../support/cli-server.js';
import { testDatabaseKind } from '../support/test-database.js';

const SOURCE = 'urn:switchboard:scim:schemas:core:2.0:Source';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface AuditRow { actor: string; writer: string; action: string; target_type: string | null; target_id: string | null; details: Json }

const BIND_PASSWORD = 'Bind-Password-Never-Audited-1';
const NEW_BIND_PASSWORD = 'Bind-Password-Never-Audited-2';
const CLIENT_SECRET = 'Client-Secret-Never-Audited-3';
const NEW_CLIENT_SECRET = 'Client-Secret-Never-Audited-4';
const SECRETS = [BIND_PASSWORD, NEW_BIND_PASSWORD, CLIENT_SECRET, NEW_CLIENT_SECRET];

describe(`Sources: audit trail (${testDatabaseKind})`, () => {
  let sb: CliServer;
  let accountId: string;
  let operatorTokenId: string;
  before(async function () {
    this.timeout(180_000);
    sb = await startCliServer();
    const account = await sb.cli(['accounts', 'create', '--name', 'Audited Sources Co', '--type', 'customer', '--json']);
    expect(account.exitCode, account.err.join('\n')).to.equal(0);
    accountId = JSON.parse(account.out.join('\n')).id as string;
    operatorTokenId = ((await sb.db.knex('tokens').where({ role: 'operator' }).first('id')) as { id: string }).id;
  });
  after(async () => sb?.stop());

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${sb.url}/accounts/${accountId}/scim/v2${path}`, {
      method, headers: { Authorization: `Bearer ${sb.token}`, 'Content-Type': 'application/scim+json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: res.status === 204 ? {} : ((await res.json()) as Json) };
  };
  const rowsOf = async (sourceId: string): Promise<AuditRow[]> =>
    (await sb.db.knex('audit_log').where({ account_id: accountId, target_id: sourceId }).orderBy('id').select('actor', 'writer', 'action', 'target_type', 'target_id', 'details')) as AuditRow[];
  const expectNoSecret = async () => {
    const everything = JSON.stringify(await sb.db.knex('audit_log').where({ account_id: accountId }).select('*'));
    for (const secret of SECRETS) expect(everything, `the audit log of the account holds ${secret}`).to.not.contain(secret);
  };

  it('when a source is added, changed (its secret rotated), disabled, enabled and deleted with the CLI, then each step is one audit entry naming what changed, none holding the secret, and /AuditEvents lists them', async () => {
    const configFile = join(sb.dir, 'ldap.json');
    await writeFile(configFile, JSON.stringify({ url: 'ldap://ldap.internal.test:389', bindDn: 'cn=reader,dc=example,dc=com', bindPassword: BIND_PASSWORD, baseDn: 'dc=example,dc=com' }));
    const added = await sb.cli(['sources', 'add', '--account', accountId, '--name', 'Directory', '--kind', 'ldap', '--config-file', configFile, '--json']);
    expect(added.exitCode, added.err.join('\n')).to.equal(0);
    const sourceId = JSON.parse(added.out.join('\n')).id as string;

    const rotated = join(sb.dir, 'rotate.json');
    await writeFile(rotated, JSON.stringify({ bindPassword: NEW_BIND_PASSWORD }));
    for (const args of [
      ['update', sourceId, '--schedule', '*/15 * * * *', '--config-file', rotated],
      ['disable', sourceId],
      ['enable', sourceId],
      ['delete', sourceId],
    ]) {
      const run = await sb.cli(['sources', ...args, '--account', accountId]);
      expect(run.exitCode, `${args.join(' ')}: ${run.err.join('\n')}`).to.equal(0);
    }

    const actor = `operator:${operatorTokenId}`;
    expect(await rowsOf(sourceId)).to.deep.equal([
      { actor, writer: 'token', action: 'source.create', target_type: 'Source', target_id: sourceId, details: { name: 'Directory', kind: 'ldap' } },
      { actor, writer: 'token', action: 'source.update', target_type: 'Source', target_id: sourceId, details: { changed: ['schedule', 'config.bindPassword'] } },
      { actor, writer: 'token', action: 'source.disable', target_type: 'Source', target_id: sourceId, details: { changed: ['enabled'] } },
      { actor, writer: 'token', action: 'source.enable', target_type: 'Source', target_id: sourceId, details: { changed: ['enabled'] } },
      { actor, writer: 'token', action: 'source.delete', target_type: 'Source', target_id: sourceId, details: { name: 'Directory', kind: 'ldap' } },
    ]);
    await expectNoSecret();

    const listed = await api('GET', `/AuditEvents?filter=${encodeURIComponent(`targetType eq "Source" and targetId eq "${sourceId}"`)}`);
    expect(listed.status, JSON.stringify(listed.body)).to.equal(200);
    expect(listed.body.Resources.map((e: Json) => [e.action, e.changedAttributes])).to.deep.equal([
      ['source.create', []], ['source.update', ['schedule', 'config.bindPassword']], ['source.disable', ['enabled']], ['source.enable', ['enabled']], ['source.delete', []],
    ]);
    const disabled = await api('GET', `/AuditEvents?filter=${encodeURIComponent('action eq "source.disable"')}`);
    expect(disabled.body.Resources.map((e: Json) => e.targetId)).to.deep.equal([sourceId]);
    expect(disabled.body.Resources[0].details).to.equal(undefined);
  });

  it('when a source is replaced (PUT) or patched through the API, then the entry names the attributes changed, a nested or unchanged secret is no value, and a refused change leaves no entry', async () => {
    const config = { tenantId: '11111111-2222-3333-4444-555555555555', clientId: '66666666-7777-8888-9999-000000000000', clientSecret: CLIENT_SECRET };
    const created = await api('POST', '/Sources', { schemas: [SOURCE], name: 'Entra', kind: 'entra', config });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id as string;
    // Redacting the certificate's private key adds no empty clientCertificate (which a PATCH would send back, refused).
    expect(created.body.config).to.deep.equal({ tenantId: config.tenantId, clientId: config.clientId });
    // The same secret given again is no change; the new one is, by name.
    const put = await api('PUT', `/Sources/${id}`, { schemas: [SOURCE], name: 'Entra ID', kind: 'entra', config, gracePeriodDays: 7 });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    const patched = await api('PATCH', `/Sources/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'config.clientSecret', value: NEW_CLIENT_SECRET }, { op: 'replace', path: 'softMatch', value: false }] });
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    const nothing = await api('PATCH', `/Sources/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'softMatch', value: false }] });
    expect(nothing.status, JSON.stringify(nothing.body)).to.equal(200);
    // A refused change (the name of another source) writes neither the source nor its entry.
    const other = await api('POST', '/Sources', { schemas: [SOURCE], name: 'Other', kind: 'entra', config });
    expect(other.status, JSON.stringify(other.body)).to.equal(201);
    const clash = await api('PATCH', `/Sources/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'name', value: 'Other' }, { op: 'replace', path: 'enabled', value: false }] });
    expect(clash.status, JSON.stringify(clash.body)).to.equal(409);

    expect((await rowsOf(id)).map((r) => [r.action, r.details])).to.deep.equal([
      ['source.create', { name: 'Entra', kind: 'entra' }],
      ['source.update', { changed: ['name', 'gracePeriodDays'] }],
      ['source.update', { changed: ['softMatch', 'config.clientSecret'] }],
    ]);
    const stored = (await sb.db.knex('sources').where({ account_id: accountId, id }).first('name', 'enabled')) as { name: string; enabled: boolean };
    expect(stored).to.deep.equal({ name: 'Entra ID', enabled: true });
    await expectNoSecret();
  });
});
