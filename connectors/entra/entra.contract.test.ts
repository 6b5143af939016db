import { describeConnectorContract } from '../testing/connector-contract.js';
import { entraConnector } from './index.js';
import { GraphTestServer } from './testing/graph-test-server.js';

describeConnectorContract('entra (Graph test server)', async () => {
  const graph = await GraphTestServer.start();
  const app = graph.registerApp();
  graph.addUsers(7);
  const rawConfig = {
    tenantId: graph.tenantId,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    authorityUrl: graph.url,
    graphUrl: graph.url,
    caCertPem: graph.caCertPem,
    pageSize: 3,
    defaultCountry: 'BE',
  };
  return {
    connector: entraConnector,
    rawConfig,
    rawConfigRejectedByCheck: { ...rawConfig, clientSecret: 'wrong' },
    invalidRawConfigs: [
      { raw: { ...rawConfig, graphUrl: 'http://graph.example.com' }, message: /graphUrl: must match \^https/ },
      { raw: { ...rawConfig, clientSecret: undefined }, message: /clientSecret: required \(or give clientCertificate\)/ },
      { raw: { ...rawConfig, pageSize: 1000 }, message: /pageSize: must be at most 999/ },
      { raw: { ...rawConfig, clientId: 'my-app' }, message: /clientId: must match/ },
      { raw: { ...rawConfig, cloud: 'germany' }, message: /cloud: must be one of "global", "usgov", "china"/ },
      { raw: { ...rawConfig, scope: 'some' }, message: /scope: must be "all" or \{"groups"/ },
      { raw: 'https://graph.microsoft.com', message: /configuration: must be an object/ },
    ],
    teardown: () => graph.stop(),
  };
});
