import { expect } from 'chai';
import { startSambaAd, UAC_DISABLED, type SambaAd } from '../../test/support/samba-ad.js';
import { ENTERPRISE_USER_URN, type JsonValue, type SourceItem, type SourceRecord } from '../sdk/index.js';
import { collect, finalState, recordsOf, stored } from '../testing/connector-contract.js';
import { ldapConnector, type AdDirSyncState, type AdState } from './index.js';
import { MANAGER_PATH } from './ldap-mapper.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('ldap connector (flavor ad) on a Samba Active Directory DC', () => {
  let ad: SambaAd;
  let ous = 0;
  const config = (baseDn: string, overrides: Record<string, unknown> = {}) =>
    ldapConnector.parseConfig({ url: ad.url, bindDn: ad.bindDn, bindPassword: ad.bindPassword, baseDn, flavor: 'ad', ...overrides });
  /** Each test works in its own OU, so the tests share one DC. */
  const newOu = (): Promise<string> => ad.addOu(`Test${++ous}`);
  const full = async (baseDn: string, overrides: Record<string, unknown> = {}): Promise<SourceItem[]> =>
    collect(ldapConnector.read(config(baseDn, overrides), { mode: 'full' }));
  const incremental = (baseDn: string, state: JsonValue, overrides: Record<string, unknown> = {}): Promise<SourceItem[]> =>
    collect(ldapConnector.read(config(baseDn, overrides), { mode: 'incremental', state: stored(state) }));
  const byUserName = (records: SourceRecord[], name: string): SourceRecord => {
    const record = records.find((r) => r.attributes.userName === `${name}@sb.test`);
    if (!record) throw new Error(`no record for ${name}@sb.test among ${records.map((r) => String(r.attributes.userName)).join(', ')}`);
    return record;
  };

  before(async function () {
    this.timeout(120_000); // the domain is provisioned once per test run (~7 s)
    ad = await startSambaAd();
  });

  after(async () => {
    await ad?.stop();
  });

  it('when users are read, then their anchors are the objectGUIDs as GUID strings the DC itself resolves', async () => {
    const ou = await newOu();
    const names = ['ann', 'bob', 'cem', 'dirk', 'eva'];
    for (const name of names) await ad.addUser(ou, { name, givenName: name.toUpperCase(), sn: 'Test', mail: `${name}@example.com` });
    await ad.modify(`CN=ANN Test,${ou}`, { manager: `CN=BOB Test,${ou}` });

    const items = await full(ou, { pageSize: 2 });
    const records = recordsOf(items);
    expect(records.map((r) => r.attributes.userName).sort()).to.deep.equal(names.map((n) => `${n}@sb.test`));
    expect(new Set(records.map((r) => r.anchor)).size).to.equal(names.length);
    for (const record of records) {
      expect(record.anchor).to.match(GUID);
      expect(record.hardKeys).to.deep.equal({ externalId: record.anchor, onPremisesObjectGuid: record.anchor });
      expect(record.raw.objectGUID).to.equal(record.anchor);
      // AD parses <GUID=…> in the standard string form: the anchor names exactly this entry.
      const [found] = await ad.search(`<GUID=${record.anchor}>`, '(objectClass=*)', ['userPrincipalName'], 'base');
      expect(found?.userPrincipalName).to.equal(record.attributes.userName);
    }
    const ann = byUserName(records, 'ann');
    expect(ann.attributes).to.deep.include({ name: { givenName: 'ANN', familyName: 'Test' }, active: true, emails: [{ value: 'ann@example.com', type: 'work', primary: true }] });
    // The manager link: bob's anchor when bob came first in the read, else his DN left as a reference.
    const manager = (ann.attributes[ENTERPRISE_USER_URN] as { manager: { value: string } }).manager.value;
    if (manager !== byUserName(records, 'bob').anchor) {
      expect(manager).to.equal(`CN=BOB Test,${ou}`);
      expect(ann.references).to.deep.equal([{ path: MANAGER_PATH, by: 'dn', value: manager }]);
    }
    expect(finalState(items).complete).to.equal(true);
  });

  it('when 2 of 6 users change and 1 is added after a full read, then an incremental read (uSNChanged) yields only those 3', async () => {
    const ou = await newOu();
    for (const name of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) await ad.addUser(ou, { name, sn: name });
    const first = await full(ou, { pageSize: 4 });
    expect(recordsOf(first)).to.have.length(6);
    const state = finalState(first).state as unknown as AdState;
    expect(state).to.include({ v: 1, flavor: 'ad' });
    expect(state.highestCommittedUSN).to.match(/^\d+$/);
    expect(state.invocationId).to.match(GUID);

    await ad.modify(`CN=u2,${ou}`, { title: 'Manager' });
    await ad.modify(`CN=u5,${ou}`, { mail: 'u5@example.com' });
    await ad.addUser(ou, { name: 'u7', sn: 'u7' });

    const items = await incremental(ou, state as unknown as JsonValue, { pageSize: 4 });
    const records = recordsOf(items);
    expect(records.map((r) => r.attributes.userName).sort()).to.deep.equal(['u2@sb.test', 'u5@sb.test', 'u7@sb.test']);
    expect(byUserName(records, 'u2').attributes.title).to.equal('Manager');
    expect(byUserName(records, 'u2').anchor).to.equal(byUserName(recordsOf(first), 'u2').anchor);
    expect(byUserName(records, 'u5').attributes.emails).to.deep.equal([{ value: 'u5@example.com', type: 'work', primary: true }]);
    expect(items.filter((i) => i.type === 'delete')).to.deep.equal([]);
    const next = finalState(items);
    expect(next.complete).to.not.equal(true);
    expect(BigInt((next.state as unknown as AdState).highestCommittedUSN) > BigInt(state.highestCommittedUSN)).to.equal(true);

    // From that state nothing is left to read.
    const again = await incremental(ou, next.state);
    expect(again.filter((i) => i.type !== 'state')).to.deep.equal([]);
  });

  it('when a user in the base is deleted, then the incremental read finds its tombstone (Show Deleted) and yields a delete for its anchor', async () => {
    const ou = await newOu();
    const elsewhere = await newOu();
    for (const name of ['keep', 'gone']) await ad.addUser(ou, { name, sn: name });
    await ad.addUser(elsewhere, { name: 'outsider', sn: 'outsider' });
    const first = await full(ou);
    const gone = byUserName(recordsOf(first), 'gone');

    await ad.delete(`CN=gone,${ou}`);
    await ad.delete(`CN=outsider,${elsewhere}`); // outside the base: not this source's delete
    const [tombstone] = await ad.search(`CN=Deleted Objects,${ad.baseDn}`, '(&(isDeleted=TRUE)(sAMAccountName=gone))', ['objectGUID'], 'one').catch(() => []);
    // Without the control the tombstone is invisible to an ordinary search (so the connector must send it).
    expect(tombstone).to.equal(undefined);

    const items = await incremental(ou, finalState(first).state);
    expect(recordsOf(items)).to.deep.equal([]);
    expect(items.filter((i) => i.type === 'delete')).to.deep.equal([{ type: 'delete', anchor: gone.anchor }]);
    expect(finalState(items).complete).to.not.equal(true);

    // A full read afterwards simply no longer contains it.
    expect(recordsOf(await full(ou)).map((r) => r.attributes.userName)).to.deep.equal(['keep@sb.test']);
  });

  it('when an account is disabled (userAccountControl ACCOUNTDISABLE), then it is a record with active false, not a delete', async () => {
    const ou = await newOu();
    await ad.addUser(ou, { name: 'on', sn: 'on' });
    await ad.addUser(ou, { name: 'off', sn: 'off', disabled: true });
    await ad.addUser(ou, { name: 'later', sn: 'later' });
    const first = await full(ou);
    const records = recordsOf(first);
    expect(byUserName(records, 'on').attributes.active).to.equal(true);
    expect(byUserName(records, 'off').attributes.active).to.equal(false);
    expect(byUserName(records, 'off').raw.userAccountControl).to.equal(String(UAC_DISABLED));
    expect(byUserName(records, 'later').attributes.active).to.equal(true);

    await ad.modify(`CN=later,${ou}`, { userAccountControl: String(UAC_DISABLED) });
    const items = await incremental(ou, finalState(first).state);
    expect(items.filter((i) => i.type === 'delete')).to.deep.equal([]);
    const changed = recordsOf(items);
    expect(changed.map((r) => [r.attributes.userName, r.attributes.active])).to.deep.equal([['later@sb.test', false]]);
    expect(changed[0]!.anchor).to.equal(byUserName(records, 'later').anchor);
  });

  it('when the state was written against another DC (invocationId), then the incremental read is a full one', async () => {
    const ou = await newOu();
    await ad.addUser(ou, { name: 'solo', sn: 'solo' });
    const first = await full(ou);
    const state = finalState(first).state as unknown as AdState;
    const otherDc = { ...state, invocationId: '00000000-0000-0000-0000-000000000001' };
    const items = await incremental(ou, otherDc as unknown as JsonValue);
    expect(recordsOf(items).map((r) => r.attributes.userName)).to.deep.equal(['solo@sb.test']);
    expect(finalState(items).complete).to.equal(true);
    expect((finalState(items).state as unknown as AdState).invocationId).to.equal(state.invocationId);
  });

  describe('with changeTracking "dirsync" (the DirSync control)', () => {
    const dirsync = { changeTracking: 'dirsync' };

    it('when the base is read in full, then only the users under it are records, and the state holds a DirSync cookie', async () => {
      const ou = await newOu();
      const elsewhere = await newOu();
      for (const name of ['ds1', 'ds2']) await ad.addUser(ou, { name, givenName: name, sn: 'Sync', mail: `${name}@example.com` });
      await ad.addUser(elsewhere, { name: 'dsout', sn: 'Out' });
      const items = await full(ou, dirsync);
      const records = recordsOf(items);
      expect(records.map((r) => r.attributes.userName).sort()).to.deep.equal(['ds1@sb.test', 'ds2@sb.test']);
      expect(byUserName(records, 'ds1').anchor).to.match(GUID);
      expect(byUserName(records, 'ds1').attributes).to.deep.include({ name: { givenName: 'ds1', familyName: 'Sync' }, active: true });
      expect(items.filter((i) => i.type === 'delete')).to.deep.equal([]);
      const last = finalState(items);
      expect(last.complete).to.equal(true);
      const state = last.state as unknown as AdDirSyncState;
      expect(state).to.include({ v: 1, flavor: 'ad', method: 'dirsync' });
      expect(Buffer.from(state.cookie, 'base64').length).to.be.greaterThan(0);
    });

    it('when users change, are added, deleted and moved out after a full read, then the incremental read yields whole records for the changed and new ones and deletes for the others', async () => {
      const ou = await newOu();
      const elsewhere = await newOu();
      const dns: string[] = [];
      for (const name of ['dk1', 'dk2', 'dk3', 'dk4', 'dk5']) dns.push(await ad.addUser(ou, { name, givenName: name, sn: 'Kept', mail: `${name}@example.com` }));
      const first = await full(ou, dirsync);
      const before = recordsOf(first);
      expect(before).to.have.length(5);

      await ad.modify(dns[0]!, { title: 'Director' });
      await ad.addUser(ou, { name: 'dk6', sn: 'New' });
      await ad.delete(dns[1]!);
      await ad.move(dns[2]!, elsewhere);
      await ad.addUser(elsewhere, { name: 'dkx', sn: 'Elsewhere' }); // never under the base

      const items = await incremental(ou, finalState(first).state, dirsync);
      const records = recordsOf(items);
      expect(records.map((r) => r.attributes.userName).sort()).to.deep.equal(['dk1@sb.test', 'dk6@sb.test']);
      // DirSync hands over only the changed title; the record is the whole entry, read again.
      expect(byUserName(records, 'dk1').attributes).to.deep.include({
        title: 'Director', name: { givenName: 'dk1', familyName: 'Kept' }, emails: [{ value: 'dk1@example.com', type: 'work', primary: true }],
      });
      expect(byUserName(records, 'dk1').anchor).to.equal(byUserName(before, 'dk1').anchor);
      const deletes = items.filter((i) => i.type === 'delete').map((i) => (i as { anchor: string }).anchor);
      expect(deletes).to.include.members([byUserName(before, 'dk2').anchor, byUserName(before, 'dk3').anchor]);
      expect(deletes).to.not.include(byUserName(before, 'dk4').anchor);
      expect(deletes).to.not.include(byUserName(before, 'dk5').anchor);
      const next = finalState(items);
      expect(next.complete).to.not.equal(true);
      expect((next.state as unknown as AdDirSyncState).cookie).to.not.equal((finalState(first).state as unknown as AdDirSyncState).cookie);

      // From that cookie nothing is left to read.
      const again = await incremental(ou, next.state, dirsync);
      expect(again.filter((i) => i.type !== 'state')).to.deep.equal([]);
    });

    it('when an account is disabled, then the DirSync incremental read yields it whole with active false, not a delete', async () => {
      const ou = await newOu();
      const dn = await ad.addUser(ou, { name: 'dsoff', sn: 'Off', mail: 'dsoff@example.com' });
      const first = await full(ou, dirsync);
      await ad.modify(dn, { userAccountControl: String(UAC_DISABLED) });
      const items = await incremental(ou, finalState(first).state, dirsync);
      expect(items.filter((i) => i.type === 'delete')).to.deep.equal([]);
      expect(recordsOf(items).map((r) => [r.attributes.userName, r.attributes.active, r.attributes.emails])).to.deep.equal([
        ['dsoff@sb.test', false, [{ value: 'dsoff@example.com', type: 'work', primary: true }]],
      ]);
    });

    it('when the state was written by a uSNChanged read, then a DirSync read is a full one', async () => {
      const ou = await newOu();
      await ad.addUser(ou, { name: 'dsswitch', sn: 'Switch' });
      const usn = await full(ou);
      const items = await incremental(ou, finalState(usn).state, dirsync);
      expect(recordsOf(items).map((r) => r.attributes.userName)).to.deep.equal(['dsswitch@sb.test']);
      expect(finalState(items).complete).to.equal(true);
    });

    it('when the bind is not allowed to use DirSync, then the read fails as an auth error naming the right it needs', async () => {
      const ou = await newOu();
      const plain = await ad.addPlainUser('dsplain', 'Plain!Passw0rd1');
      const error = await collect(ldapConnector.read(config(ou, { ...dirsync, bindDn: plain, bindPassword: 'Plain!Passw0rd1' }), { mode: 'full' })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.have.property('kind', 'auth');
      expect((error as Error).message).to.match(/Replicating Directory Changes/);
    });

    it('when the source is checked, then a bind without the replication right is refused before any run, and one with it passes', async () => {
      const ou = await newOu();
      const plain = await ad.addPlainUser('dscheck', 'Check!Passw0rd1');
      const refused = await ldapConnector.check(config(ou, { ...dirsync, bindDn: plain, bindPassword: 'Check!Passw0rd1' })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).to.have.property('kind', 'auth');
      expect((refused as Error).message).to.match(/Replicating Directory Changes/);
      // The same account passes the check without DirSync, and the administrator passes it with.
      await ldapConnector.check(config(ou, { bindDn: plain, bindPassword: 'Check!Passw0rd1' }));
      await ldapConnector.check(config(ou, dirsync));
    });
  });
});
