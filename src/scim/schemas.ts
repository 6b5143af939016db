import SCIMMY from 'scimmy';
import type { AttributeDef, ResourceTypeDef, SchemaDef } from '../domain/scim-schema.js';
import { URN } from './urns.js';

const { Attribute, SchemaDefinition } = SCIMMY.Types;
type ScimmyAttribute = InstanceType<typeof Attribute>;
type ScimmySchema = InstanceType<typeof SchemaDefinition>;
type Config = ConstructorParameters<typeof Attribute>[2];

const str = (name: string, config: Config = {}, subs?: ScimmyAttribute[]) => new Attribute('string', name, config, subs);
const bool = (name: string, config: Config = {}) => new Attribute('boolean', name, config);
const int = (name: string, config: Config = {}) => new Attribute('integer', name, config);
const date = (name: string, config: Config = {}) => new Attribute('dateTime', name, config);
const complex = (name: string, config: Config, subs: ScimmyAttribute[]) => new Attribute('complex', name, config, subs);
const readOnly = { mutable: false } as const;

/**
 * scimmy only accepts schema ids under urn:ietf:params:scim:schemas:, but our schemas are ours to name
 * (RFC 7643 §10.3 reserves that namespace for registered schemas). Build with a placeholder, then rename;
 * test/unit/scimmy-behaviour.test.ts pins that coercion still works after the rename.
 */
function defineSchema(name: string, id: string, description: string, attributes: ScimmyAttribute[]): ScimmySchema {
  const schema = new SchemaDefinition(name, `urn:ietf:params:scim:schemas:switchboard:${name}`, description, attributes);
  Object.defineProperty(schema, 'id', { value: id, enumerable: true });
  return schema;
}

/** Our User extension: the fields of the seed's Users page (managing-users.txt). */
export const switchboardUserSchema: ScimmySchema = defineSchema('SwitchboardUser', URN.switchboardUser, 'Unified-communications fields of a user.', [
  bool('accountAdmin', { description: 'The Account Admin toggle: administrative rights on the account (Role Account Admin, else User).' }),
  str('mobileNumber', { description: 'Mobile number in E.164 form; a national number is read with mobileCountry.' }),
  str('mobileCountry', { description: 'ISO 3166-1 alpha-2 country of the mobile number.' }),
  str('smsNumber', { description: "SMS number from the account's Twilio pool. Not sortable." }),
  str('extensions', { multiValued: true, description: 'PBX extension numbers, unique within the account.' }),
  str('licenses', { multiValued: true, description: 'Products licensed to the user, e.g. "MiTeam Meetings".' }),
  str('contactCenter', { multiValued: true, ...readOnly, description: 'Mitel CX contact-centre modalities configured for the user.' }),
  str('username', { description: 'MiVoice Business user name.' }),
  bool('mivbService', { description: 'The MiVoice Business service is applied to the user.' }),
  bool('voicemail', { description: 'The user has a voicemail box.' }),
  bool('registered', { ...readOnly, description: 'The user has registered a platform account.' }),
  complex('connections', { ...readOnly, description: 'How the user is connected.' }, [
    bool('pbx', readOnly),
    bool('micloud', readOnly),
    bool('iot', readOnly),
  ]),
  str('source', { ...readOnly, description: 'Kind of the source that created the user.' }),
  complex('lockedAttributes', { ...readOnly, multiValued: true, description: 'Attributes owned by a source: not editable here, overwritten on its next sync.' }, [
    str('attribute', readOnly),
    str('source', { ...readOnly, description: 'The kind of the owning source (ldap, scim, mivb, …).' }),
    str('sourceId', { ...readOnly, description: 'The owning source: GET /Sources/{sourceId} (the scim source is the identity provider push).' }),
  ]),
  str('modifiedBy', { ...readOnly, description: 'Who last changed the user.' }),
  complex('advanced', { ...readOnly, multiValued: true, returned: 'request', description: 'The last record each linked source gave for the user (the Advance section), as JSON text.' }, [
    str('source', readOnly),
    str('sourceId', readOnly),
    str('anchor', readOnly),
    str('data', readOnly),
  ]),
]);

export const accountSchema: ScimmySchema = defineSchema('Account', URN.account, 'A partner or customer account.', [
  str('name', { required: true, description: 'Account name.' }),
  str('type', { required: true, mutable: 'immutable', canonicalValues: ['operator', 'partner', 'customer'], caseExact: true, description: 'partner or customer.' }),
  str('parentId', { mutable: 'immutable', caseExact: true, description: 'The owning account.' }),
  int('userCount', { ...readOnly, description: 'Number of users.' }),
  complex('settings', { description: 'Integrations and options of the account.' }, [
    bool('sso'),
    complex('twilio', {}, [bool('enabled'), bool('userNumbers'), str('smsPool', { multiValued: true })]),
    bool('miTeamMeetings'),
    bool('miCollab'),
    bool('mivb'),
    bool('oigInCluster'),
    bool('contactCenter'),
  ]),
  complex('subscriptions', { multiValued: true, description: 'Products ordered, with seats and the licences assigned against them.' }, [
    str('product', { required: true }),
    int('seats', { required: true }),
    int('assigned', { ...readOnly, description: "Users of the account holding a licence for the product (product names compared case-insensitively)." }),
    int('available', { ...readOnly, description: 'Seats left: seats minus assigned, never below 0 (the Manage panel\'s count of licences available).' }),
  ]),
]);

export const tokenSchema: ScimmySchema = defineSchema('Token', URN.token, 'A bearer token for the API.', [
  str('role', { required: true, mutable: 'immutable', caseExact: true, canonicalValues: ['operator', 'partner-admin', 'account-admin', 'provisioning', 'user'] }),
  str('description', { mutable: 'immutable' }),
  str('userId', { mutable: 'immutable', caseExact: true, description: 'For role user: the user this token acts as.' }),
  date('expiresAt', { mutable: 'immutable' }),
  date('lastUsedAt', readOnly),
  date('revokedAt', readOnly),
  str('token', { mutable: false, returned: 'request', description: 'The secret; present only in the response that created the token.' }),
]);

function toSchemaDef(schema: ScimmySchema): SchemaDef {
  // describe() hands back Attribute instances whose characteristics appear only through toJSON().
  const described = JSON.parse(JSON.stringify(schema.describe())) as SchemaDef & { attributes: AttributeDef[] };
  return { id: described.id, name: described.name, description: described.description, attributes: described.attributes };
}

export const scimmySchemas = {
  user: SCIMMY.Schemas.User.definition as ScimmySchema,
  enterpriseUser: SCIMMY.Schemas.EnterpriseUser.definition as ScimmySchema,
  group: SCIMMY.Schemas.Group.definition as ScimmySchema,
  switchboardUser: switchboardUserSchema,
  account: accountSchema,
  token: tokenSchema,
};

export const schemaDefs = {
  user: toSchemaDef(scimmySchemas.user),
  enterpriseUser: toSchemaDef(scimmySchemas.enterpriseUser),
  switchboardUser: toSchemaDef(switchboardUserSchema),
  group: toSchemaDef(scimmySchemas.group),
  account: toSchemaDef(accountSchema),
  token: toSchemaDef(tokenSchema),
};

export const resourceTypes = {
  user: {
    id: 'User', name: 'User', endpoint: '/Users', description: 'User Account',
    schema: schemaDefs.user,
    extensions: [
      { schema: schemaDefs.enterpriseUser, required: false },
      { schema: schemaDefs.switchboardUser, required: false },
    ],
  },
  group: { id: 'Group', name: 'Group', endpoint: '/Groups', description: 'Group', schema: schemaDefs.group, extensions: [] },
  account: { id: 'Account', name: 'Account', endpoint: '/Accounts', description: 'Partner and customer accounts', schema: schemaDefs.account, extensions: [] },
  token: { id: 'Token', name: 'Token', endpoint: '/Tokens', description: 'API bearer tokens', schema: schemaDefs.token, extensions: [] },
} satisfies Record<string, ResourceTypeDef>;

/** Every resource type served, in discovery order; later issues register theirs here. */
export const allResourceTypes: ResourceTypeDef[] = [resourceTypes.user, resourceTypes.group, resourceTypes.account, resourceTypes.token];
