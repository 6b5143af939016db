import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import { attributeMapProperties as mapProperties, ConnectorConfigError, USER_MAP_TARGETS, validateConfig, type ConfigSchema } from '../sdk/index.js';

export type EntraCloud = 'global' | 'usgov' | 'china';

/** Sign-in and Graph host roots of each national cloud (Microsoft's published endpoints). */
export const CLOUD_HOSTS: Record<EntraCloud, { authorityUrl: string; graphUrl: string }> = {
  global: { authorityUrl: 'https://login.microsoftonline.com', graphUrl: 'https://graph.microsoft.com' },
  usgov: { authorityUrl: 'https://login.microsoftonline.us', graphUrl: 'https://graph.microsoft.us' },
  china: { authorityUrl: 'https://login.chinacloudapi.cn', graphUrl: 'https://microsoftgraph.chinacloudapi.cn' },
};

/**
 * SCIM attributes the map can fill from a Graph user property. `emails.work` and `phoneNumbers.work` take
 * every value of a multi-valued property (`businessPhones`), the others the first. The anchor is always `id`
 * and the manager always the `manager` navigation property: neither is configurable.
 */
export const MAP_TARGETS = USER_MAP_TARGETS;
export type MapTarget = (typeof MAP_TARGETS)[number];

/** Target → Graph property (`onPremisesExtensionAttributes.extensionAttribute1` for a nested one), or null when unmapped. */
export type AttributeMap = Record<MapTarget, string | null>;

export const DEFAULT_ATTRIBUTE_MAP: AttributeMap = {
  userName: 'userPrincipalName',
  'name.givenName': 'givenName',
  'name.familyName': 'surname',
  'name.formatted': null,
  displayName: 'displayName',
  title: 'jobTitle',
  active: 'accountEnabled',
  'emails.work': 'mail',
  'phoneNumbers.work': 'businessPhones',
  mobileNumber: 'mobilePhone',
  employeeNumber: 'employeeId',
  department: 'department',
  extensions: null,
};

export type EntraCredential =
  | { kind: 'secret'; clientSecret: string }
  | { kind: 'certificate'; certificatePem: string; privateKeyPem: string; thumbprintSha256: string };

export interface EntraConfig {
  tenantId: string;
  clientId: string;
  credential: EntraCredential;
  cloud: EntraCloud;
  /** Resolved host root, no trailing slash: the cloud's, or the `authorityUrl` override. */
  authorityUrl: string;
  /** Resolved host root, no trailing slash: the cloud's, or the `graphUrl` override. */
  graphUrl: string;
  caCertPem?: string;
  scope: 'all' | { groups: string[] };
  syncGroups: boolean;
  pageSize: number;
  defaultCountry?: CountryCode;
  /** Resolved: defaults overridden by the configured map. */
  attributeMap: AttributeMap;
  timeoutMs: number;
  /** Retries of one request answered 429/503/504 (or not at all) before the run fails. */
  maxRetries: number;
}

const GUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
/** A tenant is a GUID or a verified domain name (contoso.onmicrosoft.com). */
const TENANT = '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+)$';
const GRAPH_PROPERTY = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$/;

/** Where the credential goes: the sign-in host (a cloud or an override) for a tenant and an application. */
const SECRET_SENT_TO = ['cloud', 'authorityUrl', 'tenantId', 'clientId', 'caCertPem'] as const;

const attributeMapProperties = mapProperties(MAP_TARGETS, (target) => `Graph user property for ${target} (a.b for a property of a complex one); empty to leave ${target} unmapped.`);

export const entraConfigSchema: ConfigSchema = {
  type: 'object',
  title: 'Microsoft Entra ID (Microsoft Graph)',
  additionalProperties: false,
  required: ['tenantId', 'clientId'],
  properties: {
    tenantId: { type: 'string', pattern: TENANT, description: 'Directory (tenant) ID of the Entra tenant, or one of its verified domains.' },
    clientId: { type: 'string', pattern: GUID, description: 'Application (client) ID of the app registration.' },
    clientSecret: { type: 'string', writeOnly: true, sentTo: SECRET_SENT_TO, description: 'A client secret of the app registration (or give clientCertificate).' },
    clientCertificate: {
      type: 'object',
      additionalProperties: false,
      required: ['certificatePem', 'privateKeyPem'],
      description: 'A certificate uploaded to the app registration, with its private key (instead of clientSecret).',
      properties: {
        certificatePem: { type: 'string', description: 'The PEM certificate uploaded to the app registration.' },
        privateKeyPem: { type: 'string', writeOnly: true, sentTo: SECRET_SENT_TO, description: 'Its PEM private key (PKCS#8 or PKCS#1).' },
      },
    },
    cloud: { type: 'string', enum: ['global', 'usgov', 'china'], default: 'global', description: 'National cloud: picks the sign-in and Graph hosts.' },
    authorityUrl: { type: 'string', pattern: '^https://', description: 'Sign-in host root overriding the cloud\'s (https://login.microsoftonline.com); the tenant is appended.' },
    graphUrl: { type: 'string', pattern: '^https://', description: 'Graph host root overriding the cloud\'s (https://graph.microsoft.com); /v1.0 is appended.' },
    caCertPem: { type: 'string', description: 'PEM CA certificate(s) to trust for both hosts (a TLS-inspecting proxy, a private endpoint).' },
    scope: {
      type: 'object',
      additionalProperties: false,
      required: ['groups'],
      description: '"all" (default), or {"groups": [groupId, …]}: only the members of those groups, nested membership included.',
      properties: { groups: { type: 'array', items: { type: 'string', pattern: GUID } } },
    },
    syncGroups: { type: 'boolean', default: false, description: 'Also read groups and their members (SCIM Groups owned by this source).' },
    pageSize: { type: 'integer', minimum: 1, maximum: 999, default: 999, description: 'Users per Graph page ($top / Prefer: odata.maxpagesize).' },
    defaultCountry: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO country for phone numbers without +country code when the user has no usageLocation, e.g. BE.' },
    attributeMap: { type: 'object', additionalProperties: false, default: {}, properties: attributeMapProperties },
    timeoutMs: { type: 'integer', minimum: 1000, default: 30000 },
    maxRetries: { type: 'integer', minimum: 0, maximum: 10, default: 5 },
  },
};

interface ValidatedRaw {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  clientCertificate?: { certificatePem: string; privateKeyPem: string };
  cloud: EntraCloud;
  authorityUrl?: string;
  graphUrl?: string;
  caCertPem?: string;
  scope?: { groups: string[] };
  syncGroups: boolean;
  pageSize: number;
  defaultCountry?: string;
  attributeMap: Partial<Record<MapTarget, string>>;
  timeoutMs: number;
  maxRetries: number;
}

export function parseEntraConfig(raw: unknown): EntraConfig {
  // `scope` is "all" or an object: the schema describes the object, the string is taken here.
  let input = raw;
  const scopeIssues: string[] = [];
  if (isRecord(raw) && 'scope' in raw) {
    const { scope, ...rest } = raw;
    if (scope === 'all' || scope === undefined) input = rest;
    else if (!isRecord(scope)) {
      scopeIssues.push('scope: must be "all" or {"groups": [groupId, …]}');
      input = rest;
    }
  }
  let value: ValidatedRaw;
  try {
    value = validateConfig<ValidatedRaw>(entraConfigSchema, input, 'entra');
  } catch (error) {
    if (error instanceof ConnectorConfigError && scopeIssues.length > 0) throw new ConnectorConfigError([...scopeIssues, ...error.issues], 'entra');
    throw error;
  }
  const issues = [...scopeIssues];

  let credential: EntraCredential | undefined;
  if (value.clientSecret && value.clientCertificate) issues.push('clientSecret: give either clientSecret or clientCertificate, not both');
  else if (value.clientSecret) credential = { kind: 'secret', clientSecret: value.clientSecret };
  else if (value.clientCertificate) {
    const { certificatePem, privateKeyPem } = value.clientCertificate;
    try {
      const certificate = new X509Certificate(certificatePem);
      try {
        if (!certificate.checkPrivateKey(createPrivateKey(privateKeyPem))) issues.push('clientCertificate.privateKeyPem: is not the key of clientCertificate.certificatePem');
      } catch {
        issues.push('clientCertificate.privateKeyPem: is not a PEM private key');
      }
      credential = { kind: 'certificate', certificatePem, privateKeyPem, thumbprintSha256: certificate.fingerprint256.replace(/:/g, '') };
    } catch {
      issues.push('clientCertificate.certificatePem: is not a PEM certificate');
    }
  } else issues.push('clientSecret: required (or give clientCertificate)');

  const hosts = CLOUD_HOSTS[value.cloud];
  const authorityUrl = hostRoot('authorityUrl', value.authorityUrl ?? hosts.authorityUrl, issues);
  const graphUrl = hostRoot('graphUrl', value.graphUrl ?? hosts.graphUrl, issues);
  if (value.caCertPem !== undefined) {
    try {
      new X509Certificate(value.caCertPem);
    } catch {
      issues.push('caCertPem: is not a PEM certificate');
    }
  }
  if (value.scope && value.scope.groups.length === 0) issues.push('scope.groups: list at least one group id (or use scope "all")');
  if (value.defaultCountry && !isSupportedCountry(value.defaultCountry)) issues.push(`defaultCountry: "${value.defaultCountry}" is not a known country code`);

  const attributeMap: AttributeMap = { ...DEFAULT_ATTRIBUTE_MAP };
  for (const [target, property] of Object.entries(value.attributeMap) as Array<[MapTarget, string]>) {
    const trimmed = property.trim();
    if (trimmed !== '' && !GRAPH_PROPERTY.test(trimmed)) issues.push(`attributeMap.${target}: "${property}" is not a Graph property name`);
    attributeMap[target] = trimmed === '' ? null : trimmed;
  }
  if (issues.length > 0 || !credential) throw new ConnectorConfigError(issues, 'entra');
  return {
    tenantId: value.tenantId,
    clientId: value.clientId,
    credential,
    cloud: value.cloud,
    authorityUrl,
    graphUrl,
    ...(value.caCertPem === undefined ? {} : { caCertPem: value.caCertPem }),
    scope: value.scope ? { groups: [...new Set(value.scope.groups.map((g) => g.toLowerCase()))] } : 'all',
    syncGroups: value.syncGroups,
    pageSize: value.pageSize,
    ...(value.defaultCountry === undefined ? {} : { defaultCountry: value.defaultCountry as CountryCode }),
    attributeMap,
    timeoutMs: value.timeoutMs,
    maxRetries: value.maxRetries,
  };
}

/** An https host root (`https://host[:port]`, an optional path prefix kept), without a trailing slash. */
function hostRoot(field: string, value: string, issues: string[]): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:') issues.push(`${field}: must be https`);
    if (url.search || url.hash) issues.push(`${field}: must be a host root without query or fragment`);
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    issues.push(`${field}: "${value}" is not a URL`);
    return value;
  }
}

/** The Graph properties a user read selects: derived from the map, plus what the engine and mapper need. */
export function selectedProperties(config: Pick<EntraConfig, 'attributeMap'>): string[] {
  const out = new Set(['id', 'accountEnabled', 'onPremisesImmutableId', 'usageLocation', 'manager']);
  for (const property of Object.values(config.attributeMap)) if (property) out.add(property.split('.')[0]!);
  return [...out];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
