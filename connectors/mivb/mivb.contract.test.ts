import { putExport, startSshd } from '../../test/support/sshd.js';
import { describeConnectorContract } from '../testing/connector-contract.js';
import { mivbExport } from '../testing/pbx-fixtures.js';
import { mivbConnector } from './index.js';

describeConnectorContract('mivb (users export over SFTP, OpenSSH sshd)', async () => {
  const sshd = await startSshd();
  await putExport(sshd, 'mivb-users.csv', mivbExport(25));
  const rawConfig = { location: sshd.url(`${sshd.dir}/mivb-users.csv`), password: sshd.password, hostKeySha256: sshd.hostKeySha256, clusterId: 'cluster-a' };
  return {
    connector: mivbConnector,
    rawConfig,
    rawConfigRejectedByCheck: { ...rawConfig, password: 'wrong' },
    invalidRawConfigs: [
      { raw: { ...rawConfig, location: 'ftp://host/x.csv' }, message: /location: must match/ },
      { raw: { ...rawConfig, hostKeySha256: undefined }, message: /hostKeySha256: required for sftp/ },
      { raw: { ...rawConfig, hostKeySha256: 'MD5:aa:bb' }, message: /hostKeySha256: must match/ },
      { raw: { ...rawConfig, clusterId: undefined }, message: /clusterId: required/ },
      { raw: { ...rawConfig, encoding: 'cp1252' }, message: /encoding: must be one of "utf8", "latin1", "utf16le"/ },
      { raw: { ...rawConfig, columnMap: { 'Phone Extension': 'DN' } }, message: /columnMap.Phone Extension: not a column of this export/ },
      { raw: { ...rawConfig, writeBack: { location: 'https://x/y', role: 'UCC' } }, message: /writeBack.location: files are put into an sftp:\/\/ or file:\/\/ directory/ },
    ],
    teardown: () => sshd.stop(),
  };
});
