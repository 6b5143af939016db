import { expect } from 'chai';
import { entraConnector } from '../../connectors/entra/index.js';
import { GraphTestServer } from '../../connectors/entra/testing/graph-test-server.js';
import { ldapConnector } from '../../connectors/ldap/index.js';
import { formatGuid, type Connector } from '../../connectors/sdk/index.js';
import { silentLogger } from '../../src/lib/logger.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { startSambaAd, type SambaAd } from '../support/samba-ad.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

/**
 * A hybrid tenant: people in an on-premises Active Directory (a real Samba DC) synced to Entra ID by Entra Connect,
 * which stamps each cloud user with onPremisesImmutableId = base64(objectGUID). Both are sources of one account.
 */
describe('sync engine: a hybrid Entra tenant matched to its Active Directory source (issue 11)', () => {
  let t: TestApp;
  let ad: SambaAd;
  let graph: GraphTestServer;

  before(async function () {
    this.timeout(120_000); // the domain is provisioned once per test run
    [t, ad, graph] = await Promise.all([createTestApp(), startSambaAd(), GraphTestServer.start()]);
  });
  after(async () => {
    await graph?.stop();
    await ad?.stop();
    await t?.close();
  });

  it('when a user synced from AD comes from Entra with its onPremisesImmutableId, then it is the same user, attributes by precedence', async () => {
    const ou = await ad.addOu(`Hybrid${Date.now() % 100000}`);
    const dn = await ad.addUser(ou, { name: 'hyb.ann', givenName: 'Ann', sn: 'Hybrid', mail: 'ann.hybrid@example.com' });
    await ad.addUser(ou, { name: 'hyb.bob', givenName: 'Bob', sn: 'Onprem', mail: 'bob.onprem@example.com' });
    const [entry] = await ad.search(dn, '(objectClass=user)', ['objectGUID'], 'base');
    const objectGuid = entry!.objectGUID as Buffer;

    const { accountId } = await createAccountWithToken(t, { name: `Hybrid ${Math.random()}`, type: 'customer' });
    const knex = t.deps.db.knex;
    const source = async (kind: string, name: string, config: Record<string, unknown>) =>
      ((await knex('sources').insert({ account_id: accountId, name, kind, config: JSON.stringify(config) }).returning('id')) as { id: string }[])[0]!.id;
    const adSource = await source('ldap', 'Corporate AD', { url: ad.url, bindDn: ad.bindDn, bindPassword: ad.bindPassword, baseDn: ou, flavor: 'ad' });
    const app = graph.registerApp();
    const entraSource = await source('entra', 'Entra ID', { tenantId: graph.tenantId, clientId: app.clientId, clientSecret: app.clientSecret, authorityUrl: graph.url, graphUrl: graph.url, caCertPem: graph.caCertPem });
    // The cloud side of Ann, as Entra Connect writes it: another UPN and mail, the immutable id, a job title AD lacks.
    graph.addUser({
      userPrincipalName: 'ann@contoso.example', mail: 'ann@contoso.example', givenName: 'Ann', surname: 'Hybrid', displayName: 'Ann Hybrid (cloud)',
      jobTitle: 'Cloud Architect', onPremisesImmutableId: objectGuid.toString('base64'),
    });
    graph.addUser({ userPrincipalName: 'carol@contoso.example', mail: 'carol@contoso.example', displayName: 'Carol Cloudonly' });

    const engine = new SyncEngine({
      db: t.deps.db, users: new UserService(knex, t.clock), clock: t.clock, logger: silentLogger,
      connectors: new Map<string, Connector>([['ldap', ldapConnector as Connector], ['entra', entraConnector as Connector]]),
    });
    const adRun = await engine.run(accountId, adSource, { mode: 'full' });
    expect(adRun.status, adRun.error ?? '').to.equal('succeeded');
    expect(adRun.counts).to.include({ created: 2 });
    const entraRun = await engine.run(accountId, entraSource, { mode: 'full' });
    expect(entraRun.status, entraRun.error ?? '').to.equal('succeeded');
    expect(entraRun.counts).to.include({ created: 1, updated: 1, quarantined: 0 });

    const adLink = (await knex('user_source_links').where({ account_id: accountId, source_id: adSource, anchor: formatGuid(objectGuid) }).first('user_id')) as { user_id: string };
    const entraLinks = (await knex('user_source_links').where({ account_id: accountId, source_id: entraSource }).pluck('user_id')) as string[];
    expect(entraLinks).to.have.length(2);
    expect(entraLinks).to.include(adLink.user_id);
    expect(Number(((await knex('users').where({ account_id: accountId }).count({ n: '*' }).first()) as { n: string | number }).n)).to.equal(3);
    const ann = (await knex('users').where({ account_id: accountId, id: adLink.user_id }).first('data')) as { data: Record<string, unknown> };
    // Identity precedence (scim, entra, ldap): Entra's values for what both state; the title only Entra has.
    expect(ann.data).to.deep.include({ userName: 'ann@contoso.example', displayName: 'Ann Hybrid (cloud)', title: 'Cloud Architect' });
  });

  it('when Entra linked the person first, then the Active Directory source record joins that user by its objectGUID', async () => {
    const ou = await ad.addOu(`HybridLate${Date.now() % 100000}`);
    const dn = await ad.addUser(ou, { name: 'hyb.dan', givenName: 'Dan', sn: 'Later', mail: 'dan.later@example.com' });
    const [entry] = await ad.search(dn, '(objectClass=user)', ['objectGUID'], 'base');
    const objectGuid = entry!.objectGUID as Buffer;
    const { accountId } = await createAccountWithToken(t, { name: `Hybrid late ${Math.random()}`, type: 'customer' });
    const knex = t.deps.db.knex;
    const source = async (kind: string, name: string, config: Record<string, unknown>) =>
      ((await knex('sources').insert({ account_id: accountId, name, kind, config: JSON.stringify(config) }).returning('id')) as { id: string }[])[0]!.id;
    const app = graph.registerApp();
    const entraSource = await source('entra', 'Entra ID', { tenantId: graph.tenantId, clientId: app.clientId, clientSecret: app.clientSecret, authorityUrl: graph.url, graphUrl: graph.url, caCertPem: graph.caCertPem });
    const adSource = await source('ldap', 'Corporate AD', { url: ad.url, bindDn: ad.bindDn, bindPassword: ad.bindPassword, baseDn: ou, flavor: 'ad' });
    const dan = graph.addUser({ userPrincipalName: 'dan@contoso.example', mail: 'dan@contoso.example', displayName: 'Dan Later', onPremisesImmutableId: objectGuid.toString('base64') });
    const engine = new SyncEngine({
      db: t.deps.db, users: new UserService(knex, t.clock), clock: t.clock, logger: silentLogger,
      connectors: new Map<string, Connector>([['ldap', ldapConnector as Connector], ['entra', entraConnector as Connector]]),
    });
    const entraRun = await engine.run(accountId, entraSource, { mode: 'full' });
    expect(entraRun.status, entraRun.error ?? '').to.equal('succeeded');
    const adRun = await engine.run(accountId, adSource, { mode: 'full' });
    expect(adRun.status, adRun.error ?? '').to.equal('succeeded');
    expect(adRun.counts).to.include({ created: 0, quarantined: 0 });
    const entraLink = (await knex('user_source_links').where({ account_id: accountId, source_id: entraSource, anchor: dan.id }).first('user_id')) as { user_id: string };
    const adLink = (await knex('user_source_links').where({ account_id: accountId, source_id: adSource, anchor: formatGuid(objectGuid) }).first('user_id')) as { user_id: string };
    expect(adLink.user_id).to.equal(entraLink.user_id);
    // The tenant's users (this test's Dan, and the earlier test's two), none added by the AD source.
    expect(Number(((await knex('users').where({ account_id: accountId }).count({ n: '*' }).first()) as { n: string | number }).n)).to.equal(entraRun.counts.created);
  });
});
