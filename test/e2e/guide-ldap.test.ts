import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { serverCertificate } from '../../connectors/entra/testing/tls.js';
import type { RunningServer } from '../../src/server.js';
import { guideBlocks, printedLines, runBash, startGuideServer, withoutIds } from '../support/guide.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { testDatabaseKind } from '../support/test-database.js';

const BOOT = 'sb_guide_ldap_bootstrap_token_0123456789abcdef';

const people = (peopleDn: string) => `dn: uid=ada,${peopleDn}
objectClass: inetOrgPerson
uid: ada
cn: Ada Lovelace
givenName: Ada
sn: Lovelace
mail: ada@example.com
ou: Engineering
mobile: 0470 12 34 56

dn: uid=alan,${peopleDn}
objectClass: inetOrgPerson
uid: alan
cn: Alan Turing
givenName: Alan
sn: Turing
mail: alan@example.com
departmentNumber: Research

dn: uid=carl,${peopleDn}
objectClass: inetOrgPerson
uid: carl
cn: Carl Contractor
givenName: Carl
sn: Contractor
mail: carl@example.com
employeeType: contractor

`;

// docs/ldap.md followed literally against a real slapd offering StartTLS with a throwaway CA: the reader's own
// values (LDAP_URL, the bind DN and password, the CA file) are this slapd's; every other setting is the guide's.
describe(`docs/ldap.md, followed literally (${testDatabaseKind})`, function () {
  // Upper bounds for a loaded 2-core machine (servers, npx and slapd start in them), not timings.
  this.timeout(600_000);
  let server: RunningServer;
  let slapd: Slapd;
  let dir: string;
  let caPem: string;
  before(async () => {
    const certificate = await serverCertificate();
    caPem = certificate.certificatePem;
    slapd = await startSlapd({ tls: certificate });
    await slapd.add(people(slapd.peopleDn));
    const started = await startGuideServer('ldap', BOOT);
    ({ server, dir } = started);
    after(async () => {
      await started.close();
      await slapd.stop();
    });
  });

  it("when the guide's configuration is added as a source, then the check passes over StartTLS, the dry run and the full read count 2 users (the contractor filtered out) and the department comes from ou or departmentNumber", async () => {
    fs.writeFileSync(path.join(dir, 'ldap-ca.pem'), caPem);
    const result = await runBash(guideBlocks('docs/ldap.md'), {
      cwd: dir,
      env: { SWITCHBOARD_URL: server.url, SWITCHBOARD_TOKEN: BOOT, LDAP_URL: slapd.url.replace('127.0.0.1', 'localhost'), LDAP_BIND_DN: slapd.bindDn, LDAP_BIND_PASSWORD: slapd.bindPassword },
    });
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0);
    const lines = result.stdout.trim().split('\n').map((l) => l.replace(/source [0-9a-f-]{36}/, 'source …'));
    expect(withoutIds(lines)).to.deep.equal(printedLines('docs/ldap.md'));
  });

  it('when the stored source is read back, then it carries the guide\'s settings and no password', async () => {
    const account = await fetch(`${server.url}/scim/v2/Accounts?filter=${encodeURIComponent('name eq "Example Corp"')}`, { headers: { Authorization: `Bearer ${BOOT}` } }).then((r) => r.json()) as { Resources: Array<{ id: string }> };
    const sources = await fetch(`${server.url}/accounts/${account.Resources[0].id}/scim/v2/Sources`, { headers: { Authorization: `Bearer ${BOOT}` } }).then((r) => r.json()) as { Resources: Array<Record<string, unknown> & { config: Record<string, unknown> }> };
    const source = sources.Resources[0];
    expect(source).to.deep.include({ name: 'Corporate LDAP', kind: 'ldap', schedule: '*/15 * * * *', softMatch: true, gracePeriodDays: 30, deleteThreshold: { count: 50, percent: 10 } });
    expect(source.config).to.deep.include({ startTls: true, scope: 'sub', pageSize: 500, defaultCountry: 'BE', timeoutMs: 30000, connectTimeoutMs: 10000 });
    expect(source.config).not.to.have.property('bindPassword');
  });
});
