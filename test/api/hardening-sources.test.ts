/**
 * Issue 13 items 2 and 3: a change of where a source's secret is sent requires the secret again, and secrets are
 * stored encrypted at rest.
 */
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const SOURCE = 'urn:switchboard:scim:schemas:core:2.0:Source';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe(`hardening: source secrets (${testDatabaseKind})`, () => {
  let t: TestApp;
  let admin: Record<string, string>;
  before(async () => {
    t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Secret Keeper', type: 'customer' });
    admin = { Authorization: `Bearer ${a.token}`, 'Content-Type': scimJson };
  });
  after(async () => t?.close());

  const config = { url: 'ldap://ldap.internal.test:389', bindDn: 'cn=reader,dc=example,dc=com', bindPassword: 'Secr3t-Bind-Password', baseDn: 'dc=example,dc=com' };

  it('when a source\'s url, StartTLS or trusted CA changes without the bind password, then 400 naming config.bindPassword and nothing changes; with it, the change is kept', async () => {
    const created = await t.request.post('/scim/v2/Sources').set(admin).send({ schemas: [SOURCE], name: 'Directory', kind: 'ldap', config });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id as string;
    for (const Operations of [
      [{ op: 'replace', path: 'config.url', value: 'ldap://listener.evil.test:389' }],
      [{ op: 'replace', path: 'config', value: { url: 'ldaps://listener.evil.test:636' } }],
      [{ op: 'replace', path: 'config.tls', value: { caCert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', rejectUnauthorized: false } }],
    ]) {
      const res = await t.request.patch(`/scim/v2/Sources/${id}`).set(admin).send({ schemas: [PATCH], Operations });
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.detail).to.contain('config.bindPassword');
    }
    const put = await t.request.put(`/scim/v2/Sources/${id}`).set(admin).send({ schemas: [SOURCE], name: 'Directory', kind: 'ldap', config: { ...config, url: 'ldap://listener.evil.test:389', bindPassword: undefined } });
    expect(put.status).to.equal(400);
    const unchanged = await t.request.get(`/scim/v2/Sources/${id}`).set(admin);
    expect(unchanged.body.config.url).to.equal(config.url);
    // Other changes keep the stored secret, as before.
    const rename = await t.request.patch(`/scim/v2/Sources/${id}`).set(admin).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'config.baseDn', value: 'ou=people,dc=example,dc=com' }] });
    expect(rename.status, JSON.stringify(rename.body)).to.equal(200);
    const moved = await t.request.patch(`/scim/v2/Sources/${id}`).set(admin).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'config', value: { url: 'ldap://ldap2.internal.test:389', bindPassword: 'New-Password-For-Ldap2' } }] });
    expect(moved.status, JSON.stringify(moved.body)).to.equal(200);
    expect(moved.body.config.url).to.equal('ldap://ldap2.internal.test:389');
    expect(JSON.stringify(moved.body)).to.not.contain('New-Password-For-Ldap2');
  });
});
