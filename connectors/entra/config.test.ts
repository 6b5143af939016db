import { expect } from 'chai';
import { ConnectorConfigError, redactSecrets } from '../sdk/index.js';
import { clientCertificate } from './testing/tls.js';
import { entraConfigSchema, parseEntraConfig, selectedProperties } from './config.js';

const base = { tenantId: '11111111-2222-3333-4444-555555555555', clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', clientSecret: 'Abc~secret' };

function configError(raw: unknown): ConnectorConfigError {
  try {
    parseEntraConfig(raw);
  } catch (error) {
    if (error instanceof ConnectorConfigError) return error;
    throw error;
  }
  throw new Error('parseEntraConfig accepted the configuration');
}

describe('entra config', () => {
  it('when only the required options are given, then the global cloud, scope all and the default map apply', () => {
    const config = parseEntraConfig(base);
    expect(config).to.deep.include({ cloud: 'global', authorityUrl: 'https://login.microsoftonline.com', graphUrl: 'https://graph.microsoft.com', scope: 'all', syncGroups: false, pageSize: 999 });
    expect(config.credential).to.deep.equal({ kind: 'secret', clientSecret: 'Abc~secret' });
    expect(config.attributeMap).to.deep.include({ userName: 'userPrincipalName', 'name.familyName': 'surname', mobileNumber: 'mobilePhone', employeeNumber: 'employeeId' });
  });

  it('when a national cloud is chosen, then its sign-in and Graph hosts are used unless overridden', () => {
    expect(parseEntraConfig({ ...base, cloud: 'usgov' })).to.deep.include({ authorityUrl: 'https://login.microsoftonline.us', graphUrl: 'https://graph.microsoft.us' });
    expect(parseEntraConfig({ ...base, cloud: 'china' })).to.deep.include({ authorityUrl: 'https://login.chinacloudapi.cn', graphUrl: 'https://microsoftgraph.chinacloudapi.cn' });
    expect(parseEntraConfig({ ...base, cloud: 'china', graphUrl: 'https://proxy.example.com:8443/' })).to.deep.include({ graphUrl: 'https://proxy.example.com:8443' });
  });

  it('when several options are wrong, then one ConnectorConfigError lists each of them by field', () => {
    const error = configError({ ...base, clientSecret: undefined, tenantId: 'not a tenant', pageSize: 0, scope: { groups: ['x'] }, defaultCountry: 'XX', attributeMap: { title: 'job title' }, extra: 1 });
    expect(error.issues).to.include.members([
      'pageSize: must be at least 1',
      'extra: unknown option',
      'scope.groups[0]: must match ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
    ]);
    expect(error.issues.some((i) => i.startsWith('tenantId: must match'))).to.equal(true);
    expect(error.message).to.match(/^invalid entra configuration: /);
    const semantic = configError({ ...base, clientSecret: undefined, defaultCountry: 'XX', attributeMap: { title: 'job title' }, scope: { groups: [] } });
    expect(semantic.issues).to.have.members([
      'clientSecret: required (or give clientCertificate)',
      'defaultCountry: "XX" is not a known country code',
      'attributeMap.title: "job title" is not a Graph property name',
      'scope.groups: list at least one group id (or use scope "all")',
    ]);
  });

  it('when both a secret and a certificate are given, or the key is not the certificate\'s, then it is refused', async () => {
    const one = await clientCertificate();
    const other = await clientCertificate();
    expect(configError({ ...base, clientCertificate: one }).issues).to.deep.equal(['clientSecret: give either clientSecret or clientCertificate, not both']);
    expect(configError({ ...base, clientSecret: undefined, clientCertificate: { certificatePem: one.certificatePem, privateKeyPem: other.privateKeyPem } }).issues).to.deep.equal([
      'clientCertificate.privateKeyPem: is not the key of clientCertificate.certificatePem',
    ]);
    const config = parseEntraConfig({ ...base, clientSecret: undefined, clientCertificate: one });
    expect(config.credential.kind).to.equal('certificate');
    expect(config.credential.kind === 'certificate' && config.credential.thumbprintSha256).to.match(/^[0-9A-F]{64}$/);
  });

  it('when an override is not https or the CA is not a certificate, then the field is named', () => {
    expect(configError({ ...base, authorityUrl: 'http://login.example.com' }).issues).to.deep.equal(['authorityUrl: must match ^https://']);
    expect(configError({ ...base, caCertPem: 'not a pem' }).issues).to.deep.equal(['caCertPem: is not a PEM certificate']);
  });

  it('when scope lists groups, then it is kept as lower-case unique ids; "all" is the default', () => {
    const id = 'AAAAAAAA-1111-2222-3333-444444444444';
    expect(parseEntraConfig({ ...base, scope: { groups: [id, id.toLowerCase()] } }).scope).to.deep.equal({ groups: [id.toLowerCase()] });
    expect(parseEntraConfig({ ...base, scope: 'all' }).scope).to.equal('all');
  });

  it('when the map is overridden, then $select follows it and an empty value unmaps the target', () => {
    const config = parseEntraConfig({ ...base, attributeMap: { userName: 'mail', title: '', extensions: 'onPremisesExtensionAttributes.extensionAttribute1' } });
    expect(config.attributeMap.title).to.equal(null);
    const select = selectedProperties(config);
    expect(select).to.include.members(['id', 'mail', 'manager', 'onPremisesImmutableId', 'usageLocation', 'onPremisesExtensionAttributes']);
    expect(select).to.not.include('jobTitle');
  });

  it('when the configuration is shown, then the secret and the private key are redacted', async () => {
    const cert = await clientCertificate();
    expect(redactSecrets(entraConfigSchema, base)).to.deep.include({ clientSecret: '********' });
    const shown = redactSecrets(entraConfigSchema, { ...base, clientSecret: undefined, clientCertificate: cert }) as { clientCertificate: Record<string, string> };
    expect(shown.clientCertificate).to.deep.equal({ certificatePem: cert.certificatePem, privateKeyPem: '********' });
  });
});
