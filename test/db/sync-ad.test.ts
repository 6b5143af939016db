import { expect } from 'chai';
import { ldapConnector } from '../../connectors/ldap/index.js';
import type { Connector } from '../../connectors/sdk/index.js';
import { silentLogger } from '../../src/lib/logger.js';
import { UserService } from '../../src/services/user-service.js';
import { SyncEngine } from '../../src/sync/sync-engine.js';
import { startSambaAd, UAC_DISABLED, type SambaAd } from '../support/samba-ad.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

/** The sync engine over a real Samba Active Directory DC, in both ways of tracking changes. */
describe('sync engine: Active Directory into the database', () => {
  let t: TestApp;
  let ad: SambaAd;
  let ous = 0;

  before(async function () {
    this.timeout(120_000); // the domain is provisioned once per test run
    t = await createTestApp();
    ad = await startSambaAd();
  });

  after(async () => {
    await ad?.stop();
    await t?.close();
  });

  for (const changeTracking of ['usn', 'dirsync'] as const) {
    it(`when users are disabled, deleted and (${changeTracking}) changed in AD, then incremental runs update, deactivate and keep the rest as they are`, async () => {
      const ou = await ad.addOu(`Engine${changeTracking}${++ous}`);
      const elsewhere = await ad.addOu(`Away${changeTracking}${ous}`);
      const dns = new Map<string, string>();
      for (const name of ['ea', 'eb', 'ec', 'ed', 'ee']) dns.set(name, await ad.addUser(ou, { name: `${changeTracking}${name}`, givenName: name, sn: 'Engine', mail: `${changeTracking}${name}@example.com` }));
      const { accountId } = await createAccountWithToken(t, { name: `AD ${changeTracking} ${Math.random()}`, type: 'customer' });
      const knex = t.deps.db.knex;
      const [row] = await knex('sources')
        .insert({
          account_id: accountId, name: `ad ${changeTracking}`, kind: 'ldap', delete_threshold_percent: 50, // 2 of 5 leave in the DirSync case
          config: JSON.stringify({ url: ad.url, bindDn: ad.bindDn, bindPassword: ad.bindPassword, baseDn: ou, flavor: 'ad', changeTracking }),
        })
        .returning('id');
      const sourceId = (row as { id: string }).id;
      const engine = new SyncEngine({
        db: t.deps.db, users: new UserService(knex, t.clock), clock: t.clock, logger: silentLogger, connectors: new Map([['ldap', ldapConnector as Connector]]),
      });
      const user = async (name: string) =>
        (await knex('users').where({ account_id: accountId, user_name: `${changeTracking}${name}@sb.test` }).first()) as { id: string; active: boolean; version: number; data: Record<string, unknown> };

      const full = await engine.run(accountId, sourceId, { mode: 'full' });
      expect(full.status).to.equal('succeeded');
      expect(full.counts).to.include({ created: 5, quarantined: 0 });
      const untouched = await user('ee');

      await ad.modify(dns.get('ea')!, { title: 'Head of Sales' });
      await ad.modify(dns.get('eb')!, { userAccountControl: String(UAC_DISABLED) });
      await ad.delete(dns.get('ec')!);
      if (changeTracking === 'dirsync') await ad.move(dns.get('ed')!, elsewhere);

      const incremental = await engine.run(accountId, sourceId, { mode: 'incremental' });
      expect(incremental.status).to.equal('succeeded');
      expect((await user('ea')).data.title).to.equal('Head of Sales');
      expect((await user('eb')).active).to.equal(false);
      expect((await user('ec')).active).to.equal(false);
      // Only DirSync sees a move out of the base without a full read.
      expect((await user('ed')).active).to.equal(changeTracking !== 'dirsync');
      expect(incremental.counts).to.include({ updated: 2, deactivated: changeTracking === 'dirsync' ? 2 : 1, created: 0, quarantined: 0 });
      expect((await user('ee')).version).to.equal(untouched.version);

      const idle = await engine.run(accountId, sourceId, { mode: 'incremental' });
      expect(idle.counts).to.include({ created: 0, updated: 0, deactivated: 0, quarantined: 0 });
    });
  }
});
