import { startSlapd, peopleLdif } from '../../test/support/slapd.js';
import { describeConnectorContract } from '../testing/connector-contract.js';
import { ldapConnector } from './index.js';

describeConnectorContract('ldap (OpenLDAP slapd)', async () => {
  const slapd = await startSlapd({ initialLdif: peopleLdif(7) });
  const rawConfig = {
    url: slapd.url,
    bindDn: slapd.bindDn,
    bindPassword: slapd.bindPassword,
    baseDn: slapd.baseDn,
    pageSize: 3,
    defaultCountry: 'BE',
  };
  return {
    connector: ldapConnector,
    rawConfig,
    rawConfigRejectedByCheck: { ...rawConfig, bindPassword: 'wrong' },
    invalidRawConfigs: [
      { raw: { ...rawConfig, url: 'http://example.com' }, message: /url: must match/ },
      { raw: { ...rawConfig, bindPassword: undefined }, message: /bindPassword: required/ },
      { raw: { ...rawConfig, pageSize: 0 }, message: /pageSize: must be at least 1/ },
      { raw: { ...rawConfig, filter: '(objectClass=inetOrgPerson' }, message: /filter: .* is not a valid LDAP filter/ },
      { raw: { ...rawConfig, flavor: 'novell' }, message: /flavor: must be one of "openldap", "ad"/ },
      { raw: 'ldap://x', message: /configuration: must be an object/ },
    ],
    teardown: () => slapd.stop(),
  };
});
