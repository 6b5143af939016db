import { expect } from 'chai';
import { ConnectorConfigError, redactSecrets } from '../sdk/index.js';
import { ldapConfigSchema, parseLdapConfig } from './config.js';

const base = { url: 'ldaps://dc.example.com', bindDn: 'cn=sync', bindPassword: 's3cret', baseDn: 'dc=example,dc=com' };

function configError(raw: unknown): ConnectorConfigError {
  try {
    parseLdapConfig(raw);
  } catch (error) {
    if (error instanceof ConnectorConfigError) return error;
    throw error;
  }
  throw new Error('parseLdapConfig accepted the configuration');
}

describe('ldap config', () => {
  it('when only the required options are given, then the defaults are applied', () => {
    const config = parseLdapConfig(base);
    expect(config).to.deep.include({ startTls: false, scope: 'sub', pageSize: 500, flavor: 'openldap', filter: '(objectClass=inetOrgPerson)', overlapSeconds: 1 });
    expect(config.tls).to.deep.equal({ rejectUnauthorized: true });
    expect(config.attributeMap.anchor).to.deep.equal(['entryUUID']);
  });

  it('when several options are wrong, then one ConnectorConfigError lists each of them', () => {
    const error = configError({ ...base, bindPassword: '', pageSize: 'big', scope: 'tree', extra: 1 });
    expect(error.issues).to.have.members(['bindPassword: required', 'pageSize: must be an integer', 'scope: must be one of "sub", "one"', 'extra: unknown option']);
    expect(error.message).to.match(/^invalid ldap configuration: /);
  });

  it('when StartTLS is asked on ldaps://, or the country is unknown, or an attribute name is invalid, then it is refused', () => {
    expect(configError({ ...base, startTls: true }).message).to.match(/startTls: cannot be used with ldaps:\/\//);
    expect(configError({ ...base, defaultCountry: 'XX' }).message).to.match(/defaultCountry: "XX" is not a known country code/);
    expect(configError({ ...base, attributeMap: { userName: 'user name' } }).message).to.match(/attributeMap.userName: "user name" is not an LDAP attribute name/);
    expect(configError({ ...base, attributeMap: { anchor: '' } }).message).to.match(/attributeMap.anchor: exactly one attribute/);
  });

  it('when changeTracking dirsync is asked of an OpenLDAP source, then it is refused; for AD it is kept, and usn is the default', () => {
    expect(configError({ ...base, changeTracking: 'dirsync' }).message).to.match(/changeTracking: dirsync is an Active Directory control/);
    expect(parseLdapConfig({ ...base, flavor: 'ad', changeTracking: 'dirsync' }).changeTracking).to.equal('dirsync');
    expect(parseLdapConfig({ ...base, flavor: 'ad' }).changeTracking).to.equal('usn');
    expect(configError({ ...base, flavor: 'ad', changeTracking: 'poll' }).message).to.match(/changeTracking: must be one of "usn", "dirsync"/);
  });

  it('when a filter has no outer parentheses, then they are added', () => {
    expect(parseLdapConfig({ ...base, filter: 'objectClass=person' }).filter).to.equal('(objectClass=person)');
  });

  it('when the configuration is redacted, then the bind password is masked and the rest kept', () => {
    expect(redactSecrets(ldapConfigSchema, base)).to.deep.equal({ ...base, bindPassword: '********' });
  });
});
