import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { RunningServer } from '../../src/server.js';
import { guideBlocks, printedLines, runBash, startGuideServer, withoutIds } from '../support/guide.js';
import { testDatabaseKind } from '../support/test-database.js';

const BOOT = 'sb_guide_entra_bootstrap_token_0123456789abcdef';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';

// docs/entra-id.md followed literally: its tested blocks (the account and token of step 1, then the requests of an
// Entra provisioning cycle with the guide's attribute mappings) run against a real server.
describe(`docs/entra-id.md, followed literally (${testDatabaseKind})`, function () {
  // Upper bounds for a loaded 2-core machine (servers, npx and slapd start in them), not timings.
  this.timeout(600_000);
  let server: RunningServer;
  let dir: string;
  before(async () => {
    const started = await startGuideServer('entra', BOOT);
    ({ server, dir } = started);
    after(async () => {
      await started.close();
    });
  });

  const operator = (method: string, url: string, body?: unknown) =>
    fetch(`${server.url}${url}`, { method, headers: { Authorization: `Bearer ${BOOT}`, 'Content-Type': 'application/scim+json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  it("when the guide's steps and Entra's requests are run as written, then each answers as the guide prints, with the mobile in mobileNumber as E.164", async () => {
    const result = await runBash(guideBlocks('docs/entra-id.md'), { cwd: dir, env: { SWITCHBOARD_URL: server.url, SWITCHBOARD_TOKEN: BOOT } });
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^Tenant URL: {3}http:\/\/127\.0\.0\.1:\d+\/accounts\/[0-9a-f-]{36}\/scim\/v2$/);
    expect(lines[1]).to.match(/^Secret Token: sb_/);
    expect(withoutIds(lines.slice(2))).to.deep.equal(printedLines('docs/entra-id.md'));
  });

  it('when Entra updates an attribute another source owns (a MiCloud user\'s extension), then the answer is 200 with the owner\'s value, the other attributes are applied and the audit entry names the skipped one', async () => {
    // A MiCloud Connect export (a file source) owns the extension of the user Entra then updates: telephony
    // attributes go to the phone system first.
    const account = await (await operator('POST', '/scim/v2/Accounts', { schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Owned', type: 'customer' })).json() as { id: string };
    const token = await (await operator('POST', `/accounts/${account.id}/scim/v2/Tokens`, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role: 'provisioning' })).json() as { token: string };
    const csv = path.join(dir, 'micloud.csv');
    fs.writeFileSync(csv, 'FIRST NAME,LAST NAME,EMAIL,USERNAME,MOBILE PHONE,EXTENSION\nBritta,Simon,b.simon@owned.test,b.simon@owned.test,+32470111111,4001\n');
    const source = await (await operator('POST', `/accounts/${account.id}/scim/v2/Sources`, { schemas: ['urn:switchboard:scim:schemas:core:2.0:Source'], name: 'MiCloud', kind: 'micloud', config: { location: `file://${csv}` } })).json() as { id: string };
    const run = await (await operator('POST', `/accounts/${account.id}/scim/v2/SyncRuns`, { schemas: ['urn:switchboard:scim:schemas:core:2.0:SyncRun'], sourceId: source.id, mode: 'full' })).json() as { id: string };
    for (let status = 'running'; status === 'running'; ) {
      await new Promise((r) => setTimeout(r, 200));
      status = ((await (await operator('GET', `/accounts/${account.id}/scim/v2/SyncRuns/${run.id}`)).json()) as { status: string }).status;
      if (status !== 'running') expect(status).to.equal('succeeded');
    }

    const entra = (method: string, url: string, body?: unknown) =>
      fetch(`${server.url}/accounts/${account.id}/scim/v2${url}`, { method, headers: { Authorization: `Bearer ${token.token}`, 'Content-Type': 'application/scim+json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const found = (await (await entra('GET', `/Users?filter=${encodeURIComponent('userName eq "b.simon@owned.test"')}`)).json()) as { Resources: Array<{ id: string }> };
    const id = found.Resources[0].id;
    const res = await entra('PATCH', `/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: `${EXT}:extensions`, value: ['5001'] },
        { op: 'Replace', path: 'title', value: 'Sales Representative' },
      ],
    });
    const body = (await res.json()) as Record<string, unknown> & { [EXT]: { extensions: string[]; lockedAttributes: Array<{ attribute: string; source: string }> } };
    expect(res.status, JSON.stringify(body)).to.equal(200);
    expect(body.title).to.equal('Sales Representative');
    expect(body[EXT].extensions).to.deep.equal(['4001']);
    expect(body[EXT].lockedAttributes).to.deep.include({ attribute: `${EXT}:extensions`, source: 'micloud', sourceId: source.id });
    const audit = (await server.deps.db.knex('audit_log').where({ account_id: account.id, target_id: id }).orderBy('id', 'desc').first()) as { details: { ignored?: string[] } };
    expect(audit.details.ignored).to.deep.equal([`${EXT}:extensions`]);
  });
});
