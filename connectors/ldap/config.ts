import { FilterParser } from 'ldapts';
import { isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import { attributeMapProperties as mapProperties, ConnectorConfigError, USER_MAP_TARGETS, validateConfig, type ConfigSchema } from '../sdk/index.js';

export type LdapFlavor = 'openldap' | 'ad';

/**
 * How an Active Directory source finds changes: `usn` (uSNChanged above the DC's highestCommittedUSN, tombstones
 * through Show Deleted) or `dirsync` (the DirSync control, for a bind account holding the Replicating Directory
 * Changes right: deletions and moves out of the base are reported without a full read).
 */
export type AdChangeTracking = 'usn' | 'dirsync';

/**
 * What an LDAP attribute can be mapped to: a SCIM attribute (enterprise and Switchboard extension
 * attributes by their short name) or the anchor. `emails.work` and `phoneNumbers.work` take every
 * value of the attribute; the others take the first value.
 */
export const MAP_TARGETS = ['anchor', ...USER_MAP_TARGETS, 'manager'] as const;
export type MapTarget = (typeof MAP_TARGETS)[number];

/** Target → LDAP attributes in fallback order (the first one present wins); `[]` means unmapped. */
export type AttributeMap = Record<MapTarget, readonly string[]>;

const COMMON_DEFAULTS: Omit<AttributeMap, 'anchor' | 'userName' | 'active'> = {
  'name.givenName': ['givenName'],
  'name.familyName': ['sn'],
  'name.formatted': [],
  displayName: ['displayName', 'cn'],
  title: ['title'],
  'emails.work': ['mail'],
  'phoneNumbers.work': ['telephoneNumber'],
  mobileNumber: ['mobile'],
  employeeNumber: ['employeeNumber'],
  department: ['departmentNumber'],
  manager: ['manager'],
  extensions: [],
};

export const DEFAULT_ATTRIBUTE_MAPS: Record<LdapFlavor, AttributeMap> = {
  openldap: { ...COMMON_DEFAULTS, anchor: ['entryUUID'], userName: ['mail'], active: [] },
  ad: { ...COMMON_DEFAULTS, anchor: ['objectGUID'], userName: ['userPrincipalName'], active: ['userAccountControl'] },
};

export const DEFAULT_FILTERS: Record<LdapFlavor, string> = {
  openldap: '(objectClass=inetOrgPerson)',
  ad: '(&(objectCategory=person)(objectClass=user))',
};

export interface LdapConfig {
  url: string;
  startTls: boolean;
  tls: { caCert?: string; rejectUnauthorized: boolean };
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  /** Always parenthesised. */
  filter: string;
  scope: 'sub' | 'one';
  pageSize: number;
  flavor: LdapFlavor;
  defaultCountry?: CountryCode;
  /** Resolved: flavor defaults overridden by the configured map. */
  attributeMap: AttributeMap;
  /** OpenLDAP incremental reads go back this far before the highest modifyTimestamp seen. */
  overlapSeconds: number;
  /** Active Directory only. */
  changeTracking: AdChangeTracking;
  timeoutMs: number;
  connectTimeoutMs: number;
}

const attributeMapProperties = mapProperties(MAP_TARGETS, (target) => `LDAP attribute for ${target}; several separated by commas are tried in order; empty to leave ${target} unmapped.`);

export const ldapConfigSchema: ConfigSchema = {
  type: 'object',
  title: 'LDAP / Active Directory',
  additionalProperties: false,
  required: ['url', 'bindDn', 'bindPassword', 'baseDn'],
  properties: {
    url: { type: 'string', format: 'uri', description: 'ldap://host:389 or ldaps://host:636', pattern: '^ldaps?://' },
    startTls: { type: 'boolean', default: false, description: 'Upgrade an ldap:// connection with StartTLS before binding.' },
    tls: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        caCert: { type: 'string', description: 'PEM CA certificate(s) to trust for ldaps:// or StartTLS.' },
        rejectUnauthorized: { type: 'boolean', default: true, description: 'Refuse a server certificate that does not verify.' },
      },
    },
    bindDn: { type: 'string', description: 'DN (or, for AD, user@domain) to bind as.' },
    bindPassword: { type: 'string', writeOnly: true, sentTo: ['url', 'bindDn', 'startTls', 'tls'], description: 'Password of the bind DN.' },
    baseDn: { type: 'string', description: 'Where users are searched, e.g. ou=people,dc=example,dc=com.' },
    filter: { type: 'string', description: 'LDAP filter; default (objectClass=inetOrgPerson), for AD (&(objectCategory=person)(objectClass=user)).' },
    scope: { type: 'string', enum: ['sub', 'one'], default: 'sub' },
    pageSize: { type: 'integer', minimum: 1, maximum: 5000, default: 500 },
    flavor: { type: 'string', enum: ['openldap', 'ad'], default: 'openldap' },
    defaultCountry: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO country for phone numbers written without +country code, e.g. BE.' },
    attributeMap: { type: 'object', additionalProperties: false, default: {}, properties: attributeMapProperties },
    overlapSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 1, description: 'OpenLDAP incremental reads re-read this many seconds before the last change seen.' },
    changeTracking: {
      type: 'string',
      enum: ['usn', 'dirsync'],
      default: 'usn',
      description:
        'Active Directory: how incremental reads find changes. usn: uSNChanged and tombstones (Show Deleted); dirsync: the DirSync control, ' +
        'which also reports users moved out of baseDn; it needs the Replicating Directory Changes right on the domain.',
    },
    timeoutMs: { type: 'integer', minimum: 1000, default: 30000 },
    connectTimeoutMs: { type: 'integer', minimum: 100, default: 10000 },
  },
};

interface ValidatedRaw extends Omit<LdapConfig, 'attributeMap' | 'filter' | 'flavor' | 'defaultCountry'> {
  filter?: string;
  flavor: LdapFlavor;
  defaultCountry?: string;
  attributeMap: Partial<Record<MapTarget, string>>;
}

export function parseLdapConfig(raw: unknown): LdapConfig {
  const value = validateConfig<ValidatedRaw>(ldapConfigSchema, raw, 'ldap');
  const issues: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(value.url);
    if (!url.hostname) issues.push('url: has no host');
  } catch {
    issues.push(`url: "${value.url}" is not a URL (expected ldap://host:389 or ldaps://host:636)`);
  }
  if (url?.protocol === 'ldaps:' && value.startTls) issues.push('startTls: cannot be used with ldaps:// (the connection is already TLS)');
  if (value.defaultCountry && !isSupportedCountry(value.defaultCountry)) issues.push(`defaultCountry: "${value.defaultCountry}" is not a known country code`);
  const filter = (value.filter ?? DEFAULT_FILTERS[value.flavor]).trim();
  const wrapped = filter.startsWith('(') ? filter : `(${filter})`;
  try {
    FilterParser.parseString(wrapped);
  } catch (error) {
    issues.push(`filter: "${filter}" is not a valid LDAP filter (${error instanceof Error ? error.message : String(error)})`);
  }
  const attributeMap: AttributeMap = { ...DEFAULT_ATTRIBUTE_MAPS[value.flavor] };
  for (const [target, attributes] of Object.entries(value.attributeMap) as Array<[MapTarget, string]>) {
    const list = attributes.split(',').map((a) => a.trim()).filter(Boolean);
    const bad = list.find((a) => !/^[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*$|^\d+(\.\d+)+$/.test(a));
    if (bad) issues.push(`attributeMap.${target}: "${bad}" is not an LDAP attribute name`);
    attributeMap[target] = list;
  }
  if (attributeMap.anchor.length !== 1) issues.push('attributeMap.anchor: exactly one attribute is required');
  if (value.changeTracking === 'dirsync' && value.flavor !== 'ad') issues.push('changeTracking: dirsync is an Active Directory control (set flavor "ad", or leave changeTracking out)');
  if (issues.length > 0) throw new ConnectorConfigError(issues, 'ldap');
  return {
    ...value,
    filter: wrapped,
    defaultCountry: value.defaultCountry as CountryCode | undefined,
    attributeMap,
  };
}

/** The LDAP attributes a read requests: derived from the map, plus what the flavor's cursor needs. */
export function requestedAttributes(config: Pick<LdapConfig, 'attributeMap' | 'flavor'> & { changeTracking?: AdChangeTracking }): string[] {
  // DirSync reports a move as a change of `name` (the RDN, replicated with its parent), so it is asked for.
  const cursor = config.flavor === 'openldap' ? ['modifyTimestamp', 'entryCSN'] : config.changeTracking === 'dirsync' ? ['uSNChanged', 'name'] : ['uSNChanged'];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const attribute of [...Object.values(config.attributeMap).flat(), ...cursor]) {
    if (seen.has(attribute.toLowerCase())) continue;
    seen.add(attribute.toLowerCase());
    out.push(attribute);
  }
  return out;
}
