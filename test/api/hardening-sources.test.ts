/**
 * Issue 13 items 2 and 3: a change of where a source's secret is sent requires the secret again, and secrets are
 * stored encrypted at rest.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SecretBox, secretKeyFile } from '../../src/lib/secret-box.js';
import { startServer } from '../../src/server.js';
import { rotateSourceSecrets } from '../../src/services/sources-service.js';
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

  it('when a source is stored, then its secret is sealed at rest (AES-GCM, never the plain text); a wrong key stops the start with one clear message; a rotation re-seals it under the new key', async () => {
    const created = await t.request.post('/scim/v2/Sources').set(admin).send({ schemas: [SOURCE], name: 'Sealed', kind: 'ldap', config: { ...config, bindPassword: 'Plain-Text-Never-Stored' } });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const row = (await t.deps.db.knex('sources').where({ id: created.body.id }).first()) as { config: Record<string, string> };
    expect(JSON.stringify(row.config)).to.not.contain('Plain-Text-Never-Stored');
    expect(row.config.bindPassword).to.match(/^enc:v1:[0-9a-f]{8}:/);
    expect(t.deps.secrets.open(row.config.bindPassword!)).to.equal('Plain-Text-Never-Stored');
    // The embedded default's key was generated into DATA_DIR, 0600.
    expect(fs.statSync(secretKeyFile(t.deps.config.dataDir)).mode & 0o777).to.equal(0o600);

    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-key-'));
    const wrongKey = crypto.randomBytes(32).toString('base64');
    const env = { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', SWITCHBOARD_BOOTSTRAP_TOKEN: 'x'.repeat(40) };
    let failure: Error | undefined;
    await startServer(loadConfig({ ...env, SWITCHBOARD_SECRET_KEY: wrongKey }), { db: t.db, logger: silentLogger }, () => {}).then((s) => s.stop(), (e: Error) => (failure = e));
    expect(failure?.message).to.match(/cannot be opened with the configured SWITCHBOARD_SECRET_KEY/);

    const newKey = crypto.randomBytes(32);
    const rotated = await rotateSourceSecrets(t.deps.db.knex, new SecretBox(newKey, [fs.readFileSync(secretKeyFile(t.deps.config.dataDir), 'utf8').trim() ? Buffer.from(fs.readFileSync(secretKeyFile(t.deps.config.dataDir), 'utf8').trim(), 'base64') : newKey]));
    expect(rotated).to.be.at.least(1);
    const after = (await t.deps.db.knex('sources').where({ id: created.body.id }).first()) as { config: Record<string, string> };
    expect(new SecretBox(newKey).open(after.config.bindPassword!)).to.equal('Plain-Text-Never-Stored');
    const restarted = await startServer(loadConfig({ ...env, SWITCHBOARD_SECRET_KEY: newKey.toString('hex') }), { db: t.db, logger: silentLogger }, () => {});
    await restarted.stop();
  });
});
