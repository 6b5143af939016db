import { expect } from 'chai';
import { freePort, peopleLdif, startSlapd, type Slapd } from '../../test/support/slapd.js';
import { ConnectorError, ENTERPRISE_USER_URN, SWITCHBOARD_USER_URN, type SourceItem } from '../sdk/index.js';
import { collect, finalState, recordsOf, stored } from '../testing/connector-contract.js';
import { ldapConnector, type OpenLdapState } from './index.js';

describe('ldap connector on OpenLDAP slapd', () => {
  let slapd: Slapd;
  const people = (uid: string): string => `uid=${uid},ou=people,dc=example,dc=com`;
  const config = (overrides: Record<string, unknown> = {}) =>
    ldapConnector.parseConfig({ url: slapd.url, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.baseDn, defaultCountry: 'BE', ...overrides });

  beforeEach(async () => {
    slapd = await startSlapd({ initialLdif: peopleLdif(50) });
  });

  afterEach(async () => {
    await slapd.stop();
  });

  it('when the page size is smaller than the entry count, then a full read returns every entry exactly once', async () => {
    const items = await collect(ldapConnector.read(config({ pageSize: 7 }), { mode: 'full' }));
    const records = recordsOf(items);
    expect(records).to.have.length(50);
    expect(new Set(records.map((r) => r.anchor)).size).to.equal(50);
    expect(new Set(records.map((r) => r.attributes.userName))).to.have.length(50);
    expect(finalState(items).complete).to.equal(true);
  });

  it('when entries are read, then they map to SCIM with E.164 mobiles and the manager resolved to its anchor', async () => {
    await slapd.add(`dn: ${people('boss')}
objectClass: inetOrgPerson
uid: boss
cn: The Boss
sn: Boss
mail: boss@example.com

dn: ${people('ann')}
objectClass: inetOrgPerson
uid: ann
cn: Ann Peeters
sn: Peeters
givenName: Ann
mail: ann@example.com
mobile: 0470 12 34 56
manager: ${people('boss')}
employeeNumber: E042
`);
    const records = recordsOf(await collect(ldapConnector.read(config({ filter: '(|(uid=ann)(uid=boss))' }), { mode: 'full' })));
    const boss = records.find((r) => r.attributes.userName === 'boss@example.com')!;
    const ann = records.find((r) => r.attributes.userName === 'ann@example.com')!;
    expect(ann.anchor).to.match(/^[0-9a-f-]{36}$/);
    expect(ann.attributes).to.deep.include({ displayName: 'Ann Peeters', name: { givenName: 'Ann', familyName: 'Peeters' } });
    expect(ann.attributes[SWITCHBOARD_USER_URN]).to.deep.equal({ mobileNumber: '+32470123456' });
    expect(ann.attributes[ENTERPRISE_USER_URN]).to.deep.equal({ employeeNumber: 'E042', manager: { value: boss.anchor } });
    expect(ann.hardKeys).to.deep.equal({ externalId: ann.anchor, employeeNumber: 'E042' });
  });

  it('when 3 of 50 entries are modified after a full read, then an incremental read yields only those 3', async () => {
    const full = await collect(ldapConnector.read(config({ pageSize: 10 }), { mode: 'full' }));
    const state = stored(finalState(full).state);
    const byUid = new Map(recordsOf(full).map((r) => [String(r.raw.mail).split('@')[0], r.anchor]));
    // Modified within the same second as the load, or the next: either way inside the overlap window.
    await slapd.modify(people('user00003'), { title: 'Manager' });
    await slapd.modify(people('user00017'), { mobile: '0470 99 99 99' });
    await slapd.modify(people('user00042'), { mail: 'renamed@example.com' });

    const items = await collect(ldapConnector.read(config({ pageSize: 10 }), { mode: 'incremental', state }));
    const records = recordsOf(items);
    expect(records.map((r) => r.anchor).sort()).to.deep.equal([byUid.get('user00003'), byUid.get('user00017'), byUid.get('user00042')].sort());
    expect(records.find((r) => r.anchor === byUid.get('user00042'))!.attributes.userName).to.equal('renamed@example.com');
    const last = finalState(items);
    expect(last.complete).to.not.equal(true);

    // And from that state, nothing is left to read.
    const again = await collect(ldapConnector.read(config({ pageSize: 10 }), { mode: 'incremental', state: stored(last.state) }));
    expect(recordsOf(again)).to.deep.equal([]);
  });

  it('when an entry changes more than the overlap after the last read, then the next incremental read yields it', async function () {
    this.timeout(10_000);
    const full = await collect(ldapConnector.read(config(), { mode: 'full' }));
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await slapd.add(peopleLdif(1, 900));
    const items = await collect(ldapConnector.read(config(), { mode: 'incremental', state: stored(finalState(full).state) }));
    expect(recordsOf(items).map((r) => r.attributes.userName)).to.deep.equal(['user00900@example.com']);
    expect((finalState(items).state as unknown as OpenLdapState).seen).to.have.keys(recordsOf(items)[0]!.anchor);
  });

  it('when an entry is deleted, then an incremental read cannot see it and the next full read no longer yields it', async () => {
    const full = await collect(ldapConnector.read(config(), { mode: 'full' }));
    await slapd.delete(people('user00005'));
    const incremental = await collect(ldapConnector.read(config(), { mode: 'incremental', state: stored(finalState(full).state) }));
    expect(incremental.filter((i) => i.type !== 'state')).to.deep.equal([]);
    const again = await collect(ldapConnector.read(config(), { mode: 'full' }));
    expect(recordsOf(again)).to.have.length(49);
    expect(recordsOf(again).map((r) => r.attributes.userName)).to.not.include('user00005@example.com');
    expect(finalState(again).complete).to.equal(true);
  });

  it('when the filter changed since the state was written, then the incremental read is a complete full read', async () => {
    const full = await collect(ldapConnector.read(config(), { mode: 'full' }));
    const warnings: string[] = [];
    const logger = { info: () => undefined, warn: (fields: Record<string, unknown>) => void warnings.push(String(fields.reason)) };
    const items = await collect(ldapConnector.read(config({ filter: '(&(objectClass=inetOrgPerson)(uid=user0001*))' }), { mode: 'incremental', state: stored(finalState(full).state) }, { logger }));
    expect(recordsOf(items)).to.have.length(10);
    expect(finalState(items).complete).to.equal(true);
    expect(warnings).to.deep.equal(['baseDn, filter, scope or attributeMap changed since the state was written']);
  });

  it('when the password is wrong, then check and read fail with kind auth before yielding anything', async () => {
    const bad = config({ bindPassword: 'wrong' });
    const checkError = await ldapConnector.check(bad).then(() => null, (e: unknown) => e);
    expect(checkError).to.be.instanceOf(ConnectorError).with.property('kind', 'auth');
    expect((checkError as Error).message).to.match(/binding to ldap:\/\/127\.0\.0\.1:\d+ as "cn=admin,dc=example,dc=com": .*Invalid credentials/i);
    const yielded: SourceItem[] = [];
    const readError = await (async () => {
      for await (const item of ldapConnector.read(bad, { mode: 'full' })) yielded.push(item);
    })().then(() => null, (e: unknown) => e);
    expect(readError).to.be.instanceOf(ConnectorError).with.property('kind', 'auth');
    expect(yielded).to.deep.equal([]);
  });

  it('when nothing listens on the port, then check and read fail with kind network before yielding anything', async () => {
    const port = await freePort();
    const unreachable = config({ url: `ldap://127.0.0.1:${port}`, connectTimeoutMs: 2000 });
    const checkError = await ldapConnector.check(unreachable).then(() => null, (e: unknown) => e);
    expect(checkError).to.be.instanceOf(ConnectorError).with.property('kind', 'network');
    const yielded: SourceItem[] = [];
    const readError = await (async () => {
      for await (const item of ldapConnector.read(unreachable, { mode: 'full' })) yielded.push(item);
    })().then(() => null, (e: unknown) => e);
    expect(readError).to.be.instanceOf(ConnectorError).with.property('kind', 'network');
    expect((readError as Error).message).to.match(/ECONNREFUSED/);
    expect(yielded).to.deep.equal([]);
  });

  it('when the base DN does not exist, then check fails with kind config and read with a ConnectorError before any record', async () => {
    const missing = config({ baseDn: 'ou=nowhere,dc=example,dc=com' });
    const checkError = await ldapConnector.check(missing).then(() => null, (e: unknown) => e);
    expect(checkError).to.be.instanceOf(ConnectorError).with.property('kind', 'config');
    expect((checkError as Error).message).to.match(/baseDn "ou=nowhere,dc=example,dc=com" does not exist/);
    const readError = await collect(ldapConnector.read(missing, { mode: 'full' })).then(() => null, (e: unknown) => e);
    expect(readError).to.be.instanceOf(ConnectorError).with.property('kind', 'protocol');
  });

  it('when the read is aborted after the first page, then it stops with the abort reason and yields no checkpoint', async () => {
    const controller = new AbortController();
    const yielded: SourceItem[] = [];
    const error = await (async () => {
      for await (const item of ldapConnector.read(config({ pageSize: 5 }), { mode: 'full' }, { signal: controller.signal })) {
        yielded.push(item);
        if (yielded.length === 5) controller.abort(new Error('run cancelled'));
      }
    })().then(() => null, (e: unknown) => e);
    expect((error as Error).message).to.equal('run cancelled');
    expect(yielded.length).to.be.lessThan(50);
    expect(yielded.filter((i) => i.type === 'state')).to.deep.equal([]);
  });
});
