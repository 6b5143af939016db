import { expect } from 'chai';
import { ConnectorError, ENTERPRISE_USER_URN, SWITCHBOARD_USER_URN } from '../sdk/index.js';
import { parseLdapConfig, requestedAttributes } from './config.js';
import { formatGeneralizedTime, parseGeneralizedTime } from './index.js';
import { formatGuid, guidBytes, mapLdapEntry, MANAGER_PATH, normaliseDn, type LdapEntry } from './ldap-mapper.js';

const base = { url: 'ldap://dc.example.com', bindDn: 'cn=sync', bindPassword: 's', baseDn: 'dc=example,dc=com', defaultCountry: 'BE' };
const openldap = parseLdapConfig(base);
const ad = parseLdapConfig({ ...base, flavor: 'ad' });

describe('ldap-mapper', () => {
  describe('openldap flavor', () => {
    const entry: LdapEntry = {
      dn: 'uid=ann,ou=people,dc=example,dc=com',
      entryUUID: '5f0c3a3e-1b1c-103f-8a54-0b7d4c1a2e11',
      mail: 'ann@example.com',
      givenName: 'Ann',
      sn: 'Peeters',
      cn: 'Ann Peeters',
      telephoneNumber: '+32 2 555 01 01',
      mobile: '0470 12 34 56',
      title: 'Engineer',
      employeeNumber: 'E042',
      departmentNumber: 'R&D',
      manager: 'uid=bob, ou=people, dc=example, dc=com',
      modifyTimestamp: '20240131120000Z',
    };

    it('when an inetOrgPerson is mapped, then SCIM attributes come from the default map, the mobile in E.164', () => {
      const record = mapLdapEntry(entry, openldap, (dn) => (normaliseDn(dn) === 'uid=bob,ou=people,dc=example,dc=com' ? 'bob-uuid' : undefined));
      expect(record.anchor).to.equal('5f0c3a3e-1b1c-103f-8a54-0b7d4c1a2e11');
      expect(record.attributes).to.deep.equal({
        userName: 'ann@example.com',
        name: { givenName: 'Ann', familyName: 'Peeters' },
        displayName: 'Ann Peeters',
        title: 'Engineer',
        emails: [{ value: 'ann@example.com', type: 'work', primary: true }],
        phoneNumbers: [{ value: '+32 2 555 01 01', type: 'work' }],
        [ENTERPRISE_USER_URN]: { employeeNumber: 'E042', department: 'R&D', manager: { value: 'bob-uuid' } },
        [SWITCHBOARD_USER_URN]: { mobileNumber: '+32470123456' },
      });
      expect(record.hardKeys).to.deep.equal({ externalId: record.anchor, employeeNumber: 'E042' });
      expect(record.referenceKeys).to.deep.equal({ dn: entry.dn });
      expect(record.references).to.equal(undefined);
      expect(record.warnings).to.equal(undefined);
      expect(record.raw).to.include({ dn: entry.dn, mail: 'ann@example.com' });
    });

    it('when the manager DN was not seen in the read, then the DN is emitted and listed as a reference', () => {
      const record = mapLdapEntry(entry, openldap);
      expect(record.attributes[ENTERPRISE_USER_URN]?.manager).to.deep.equal({ value: entry.manager });
      expect(record.references).to.deep.equal([{ path: MANAGER_PATH, by: 'dn', value: entry.manager }]);
    });

    it('when the mobile cannot be parsed, then it is left out with a warning on the record', () => {
      const record = mapLdapEntry({ ...entry, mobile: 'ask reception' }, openldap);
      expect(record.attributes[SWITCHBOARD_USER_URN]).to.equal(undefined);
      expect(record.warnings).to.have.length(1);
      expect(record.warnings![0]).to.match(/mobile "ask reception" is not a valid phone number \(default country BE\)/);
    });

    it('when a mobile has a country code, then it is kept in E.164 whatever the default country', () => {
      const record = mapLdapEntry({ ...entry, mobile: '+33 6 12 34 56 78' }, openldap);
      expect(record.attributes[SWITCHBOARD_USER_URN]?.mobileNumber).to.equal('+33612345678');
    });

    it('when there is neither displayName nor cn, then displayName is absent; when both are set, displayName wins', () => {
      const { cn: _cn, ...withoutCn } = entry;
      expect(mapLdapEntry(withoutCn as LdapEntry, openldap).attributes.displayName).to.equal(undefined);
      expect(mapLdapEntry({ ...entry, displayName: 'Annie' }, openldap).attributes.displayName).to.equal('Annie');
    });

    it('when mail has several values, then the first is primary and all are work emails', () => {
      const record = mapLdapEntry({ ...entry, mail: ['ann@example.com', 'a.peeters@example.com'] }, openldap);
      expect(record.attributes.emails).to.deep.equal([
        { value: 'ann@example.com', type: 'work', primary: true },
        { value: 'a.peeters@example.com', type: 'work' },
      ]);
    });

    it('when attribute names differ in case from the map, then they are still found', () => {
      const record = mapLdapEntry({ dn: entry.dn, entryuuid: 'x-1', MAIL: 'ann@example.com' }, openldap);
      expect(record.anchor).to.equal('x-1');
      expect(record.attributes.userName).to.equal('ann@example.com');
    });

    it('when the anchor attribute is missing, then mapping throws a protocol ConnectorError naming the entry', () => {
      const { entryUUID: _anchor, ...noAnchor } = entry;
      expect(() => mapLdapEntry(noAnchor as LdapEntry, openldap)).to.throw(ConnectorError, /uid=ann.*has no entryUUID/);
    });

    it('when the attribute map is overridden, then the mapping and the requested attribute list follow it', () => {
      const config = parseLdapConfig({ ...base, attributeMap: { userName: 'uid', displayName: '', extensions: 'pager, homePhone' } });
      const record = mapLdapEntry({ ...entry, uid: 'ann', pager: '1234' }, config);
      expect(record.attributes.userName).to.equal('ann');
      expect(record.attributes.displayName).to.equal(undefined);
      expect(record.attributes[SWITCHBOARD_USER_URN]).to.deep.equal({ mobileNumber: '+32470123456', extensions: ['1234'] });
      const attributes = requestedAttributes(config);
      expect(attributes).to.include.members(['uid', 'pager', 'homePhone', 'entryUUID', 'mail', 'modifyTimestamp', 'entryCSN']);
      expect(attributes).to.not.include('displayName');
      expect(attributes).to.not.include('cn');
    });
  });

  describe('ad flavor', () => {
    // 01020304-0506-0708-090a-0b0c0d0e0f10 as Windows stores it: the first three groups little-endian.
    const guid = Buffer.from([0x04, 0x03, 0x02, 0x01, 0x06, 0x05, 0x08, 0x07, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10]);
    const entry: LdapEntry = {
      dn: 'CN=Ann Peeters,OU=Staff,DC=corp,DC=example,DC=com',
      objectGUID: guid,
      userPrincipalName: 'ann@corp.example.com',
      mail: 'ann@example.com',
      givenName: 'Ann',
      sn: 'Peeters',
      displayName: 'Ann Peeters',
      userAccountControl: '514',
      mobile: '+32 470 12 34 56',
      manager: 'CN=Bob,OU=Staff,DC=corp,DC=example,DC=com',
    };

    it('when objectGUID bytes are mapped, then the anchor is the standard GUID string', () => {
      expect(formatGuid(guid)).to.equal('01020304-0506-0708-090a-0b0c0d0e0f10');
      expect(guidBytes('01020304-0506-0708-090a-0b0c0d0e0f10').equals(guid)).to.equal(true);
      const record = mapLdapEntry(entry, ad);
      expect(record.anchor).to.equal('01020304-0506-0708-090a-0b0c0d0e0f10');
      expect(record.hardKeys).to.deep.equal({ externalId: '01020304-0506-0708-090a-0b0c0d0e0f10', onPremisesObjectGuid: '01020304-0506-0708-090a-0b0c0d0e0f10' });
      expect(record.raw.objectGUID).to.equal('01020304-0506-0708-090a-0b0c0d0e0f10');
    });

    it('when userAccountControl is 514 (disabled), then active is false; 512, then true', () => {
      expect(mapLdapEntry(entry, ad).attributes.active).to.equal(false);
      expect(mapLdapEntry({ ...entry, userAccountControl: '512' }, ad).attributes.active).to.equal(true);
      expect(mapLdapEntry({ ...entry, userAccountControl: '66048' }, ad).attributes.active).to.equal(true);
    });

    it('when an AD user is mapped, then userName is the UPN and the manager is resolved like OpenLDAP', () => {
      const record = mapLdapEntry(entry, ad, (dn) => (normaliseDn(dn) === normaliseDn(entry.manager as string) ? 'bob-guid' : undefined));
      expect(record.attributes.userName).to.equal('ann@corp.example.com');
      expect(record.attributes[ENTERPRISE_USER_URN]).to.deep.equal({ manager: { value: 'bob-guid' } });
      expect(record.attributes[SWITCHBOARD_USER_URN]).to.deep.equal({ mobileNumber: '+32470123456' });
    });

    it('when the AD defaults are used, then objectGUID, userPrincipalName, userAccountControl and uSNChanged are requested', () => {
      expect(requestedAttributes(ad)).to.include.members(['objectGUID', 'userPrincipalName', 'userAccountControl', 'uSNChanged']);
      expect(ad.filter).to.equal('(&(objectCategory=person)(objectClass=user))');
    });
  });

  describe('generalized time', () => {
    it('when a GeneralizedTime is parsed and formatted, then it round-trips in whole seconds and honours offsets', () => {
      const ms = parseGeneralizedTime('20240131235959Z');
      expect(new Date(ms).toISOString()).to.equal('2024-01-31T23:59:59.000Z');
      expect(formatGeneralizedTime(ms - 1000)).to.equal('20240131235958Z');
      expect(parseGeneralizedTime('20240201005959+0100')).to.equal(ms);
      expect(parseGeneralizedTime('20240131235959.5Z')).to.equal(ms + 500);
      expect(parseGeneralizedTime('yesterday')).to.be.NaN;
    });
  });
});
