import { startExportServer } from '../../test/support/https-export-server.js';
import { describeConnectorContract } from '../testing/connector-contract.js';
import { micloudPortalExport } from '../testing/pbx-fixtures.js';
import { micloudConnector } from './index.js';

describeConnectorContract('micloud (Account Portal export over HTTPS, self-signed)', async () => {
  const server = await startExportServer({ basic: { user: 'portal', password: 'export-pw' } });
  server.put('/micloud/users.csv', micloudPortalExport(20, 5), new Date(Date.now() - 3600_000));
  const rawConfig = { location: server.url('/micloud/users.csv').replace('https://', 'https://portal@'), password: 'export-pw', caCertPem: server.caCertPem, defaultCountry: 'US' };
  return {
    connector: micloudConnector,
    rawConfig,
    rawConfigRejectedByCheck: { ...rawConfig, password: 'wrong' },
    invalidRawConfigs: [
      { raw: { ...rawConfig, pattern: '*.csv' }, message: /pattern: an https:\/\/ location names one file/ },
      { raw: { ...rawConfig, hostKeySha256: `SHA256:${'A'.repeat(43)}` }, message: /hostKeySha256: only for sftp:\/\/ locations/ },
      { raw: { ...rawConfig, defaultCountry: 'XX' }, message: /defaultCountry: "XX" is not a known country code/ },
      { raw: { ...rawConfig, location: undefined }, message: /location: required/ },
    ],
    teardown: () => server.stop(),
  };
});
