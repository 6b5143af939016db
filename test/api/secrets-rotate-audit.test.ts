/**
 * `switchboard secrets rotate` (src/db/secret-rotation.ts) is audited (README › Audit events): each source whose
 * secrets it re-seals gets one `source.secrets_rotate` entry in its account, in the rotation's transaction, by the
 * `system` writer, naming the new key's id and never a secret; a source already under the key gets none.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { expect } from 'chai';
import { rotateSourceSecrets } from '../../src/db/secret-rotation.js';
import { keyIdOf, SecretBox, secretKeyFile } from '../../src/lib/secret-box.js';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const SOURCE = 'urn:switchboard:scim:schemas:core:2.0:Source';
const BIND_PASSWORD = 'Rotated-Bind-Password-Never-Audited';

describe(`secrets rotate: audit trail (${testDatabaseKind})`, () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t?.close());

  it('when the secrets are rotated, then each re-sealed source has one system audit entry naming the new key, a second rotation under the same key adds none, and /AuditEvents lists it', async () => {
    const accounts = [await createAccountWithToken(t, { name: 'Rotated One', type: 'customer' }), await createAccountWithToken(t, { name: 'Rotated Two', type: 'customer' })];
    const sources: string[] = [];
    for (const a of accounts) {
      const created = await t.request.post('/scim/v2/Sources').set({ Authorization: `Bearer ${a.token}`, 'Content-Type': scimJson }).send({
        schemas: [SOURCE], name: 'Directory', kind: 'ldap', config: { url: 'ldap://ldap.internal.test:389', bindDn: 'cn=reader,dc=example,dc=com', bindPassword: BIND_PASSWORD, baseDn: 'dc=example,dc=com' },
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      sources.push(created.body.id as string);
    }
    const oldKey = Buffer.from(fs.readFileSync(secretKeyFile(t.deps.config.dataDir), 'utf8').trim(), 'base64');
    const newKey = crypto.randomBytes(32);
    const box = new SecretBox(newKey, [oldKey]);

    expect(await rotateSourceSecrets(t.deps.db.knex, box)).to.equal(2);
    const entries = async () =>
      (await t.db.knex('audit_log').where({ action: 'source.secrets_rotate' }).whereIn('target_id', sources).orderBy('target_id').select('account_id', 'actor', 'writer', 'target_type', 'target_id', 'details')) as Record<string, unknown>[];
    const expected = accounts.map((a, i) => ({ account_id: a.accountId, actor: 'system', writer: 'system', target_type: 'Source', target_id: sources[i], details: { keyId: keyIdOf(newKey) } })).sort((a, b) => (a.target_id! < b.target_id! ? -1 : 1));
    expect(await entries()).to.deep.equal(expected);
    expect(JSON.stringify(await t.db.knex('audit_log').select('*'))).to.not.contain(BIND_PASSWORD);

    // Everything is under the new key already: nothing re-sealed, nothing recorded.
    expect(await rotateSourceSecrets(t.deps.db.knex, box)).to.equal(0);
    expect(await entries()).to.deep.equal(expected);

    const listed = await t.request
      .get('/scim/v2/AuditEvents')
      .query({ filter: `action eq "source.secrets_rotate"` })
      .set({ Authorization: `Bearer ${accounts[0]!.token}` });
    expect(listed.status, JSON.stringify(listed.body)).to.equal(200);
    expect(listed.body.Resources.map((e: Record<string, unknown>) => [e.actor, e.writer, e.targetId])).to.deep.equal([['system', 'system', sources[0]]]);
  });
});
