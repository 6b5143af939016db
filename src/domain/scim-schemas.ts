/**
 * The SCIM schemas served, as plain data (RFC 7643 §7): what db/, services/ and the pure code read, with no scimmy
 * below scim/; input is coerced against them too (scim/resource-input.ts). Each attribute is one `attr()` call
 * naming only what differs from RFC 7643's defaults. Our own schemas (switchboardUser, account, token) are defined
 * here; the RFC 7643 core schemas (User, EnterpriseUser, Group) are scimmy's, written down here with their texts
 * and held equal to scimmy's by test/unit/scim-schemas.test.ts.
 */
import { attr, type AttributeDef, type AttributeOptions, type ResourceTypeDef, type SchemaDef } from './scim-schema.js';

/** Schema and message URNs (RFC 7643, RFC 7644, and ours). */
export const URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  enterpriseUser: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  switchboardUser: 'urn:switchboard:scim:schemas:extension:2.0:User',
  account: 'urn:switchboard:scim:schemas:core:2.0:Account',
  token: 'urn:switchboard:scim:schemas:core:2.0:Token',
  source: 'urn:switchboard:scim:schemas:core:2.0:Source',
  syncRun: 'urn:switchboard:scim:schemas:core:2.0:SyncRun',
  action: 'urn:switchboard:scim:schemas:core:2.0:Action',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  searchRequest: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  bulkRequest: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
  bulkResponse: 'urn:ietf:params:scim:api:messages:2.0:BulkResponse',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
} as const;

/** RFC 7643 §2.4's multi-valued attribute: a complex of value, display, type and primary (scimmy's texts). */
function plural(name: string, description: string, value: AttributeDef, type: AttributeDef, primary: string, options: AttributeOptions = {}): AttributeDef {
  const display = attr('display', 'string', 'A human-readable name, primarily used for display purposes. READ-ONLY.');
  return attr(name, 'complex', description, { multiValued: true, ...options, subAttributes: [value, display, type, attr('primary', 'boolean', primary)] });
}

/** RFC 7643 §4.1 User, as scimmy defines it. */
export const userSchemaDef: SchemaDef = {
  id: URN.user,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'string', "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. Each User MUST include a non-empty userName value. This identifier MUST be unique across the service provider's entire set of Users. REQUIRED.", { required: true, uniqueness: 'server' }),
    attr('name', 'complex', "The components of the user's real name. Providers MAY return just the full name as a single string in the formatted sub-attribute, or they MAY return just the individual component attributes using the other sub-attributes, or they MAY return both. If both variants are returned, they SHOULD be describing the same name, with the formatted name indicating how the component attributes should be combined.", { uniqueness: 'none', subAttributes: [
      attr('formatted', 'string', "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display (e.g. 'Ms. Barbara J Jensen, III')."),
      attr('familyName', 'string', "The family name of the User, or last name in most Western languages (e.g. 'Jensen' given the full name 'Ms. Barbara J Jensen, III')."),
      attr('givenName', 'string', "The given name of the User, or first name in most Western languages (e.g. 'Barbara' given the full name 'Ms. Barbara J Jensen, III')."),
      attr('middleName', 'string', "The middle name(s) of the User (e.g. 'Jane' given the full name 'Ms. Barbara J Jensen, III')."),
      attr('honorificPrefix', 'string', "The honorific prefix(es) of the User, or title in most Western languages (e.g. 'Ms.' given the full name 'Ms. Barbara J Jensen, III')."),
      attr('honorificSuffix', 'string', "The honorific suffix(es) of the User, or suffix in most Western languages (e.g. 'III' given the full name 'Ms. Barbara J Jensen, III')."),
    ] }),
    attr('displayName', 'string', 'The name of the User, suitable for display to end-users. The name SHOULD be the full name of the User being described, if known.'),
    attr('nickName', 'string', "The casual way to address the user in real life, e.g. 'Bob' or 'Bobby' instead of 'Robert'. This attribute SHOULD NOT be used to represent a User's username (e.g. 'bjensen' or 'mpepperidge')."),
    attr('profileUrl', 'reference', "A fully qualified URL pointing to a page representing the User's online profile.", { referenceTypes: ['external'] }),
    attr('title', 'string', "The user's title, such as 'Vice President'."),
    attr('userType', 'string', "Used to identify the relationship between the organization and the user. Typical values used might be 'Contractor', 'Employee', 'Intern', 'Temp', 'External', and 'Unknown', but any value may be used."),
    attr('preferredLanguage', 'string', "Indicates the User's preferred written or spoken language. Generally used for selecting a localized user interface; e.g. 'en_US' specifies the language English and country US."),
    attr('locale', 'string', "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations."),
    attr('timezone', 'string', "The User's time zone in the 'Olson' time zone database format, e.g. 'America/Los_Angeles'."),
    attr('active', 'boolean', "A Boolean value indicating the User's administrative status."),
    attr('password', 'string', "The User's cleartext password. This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password.", { mutability: 'writeOnly', returned: 'never' }),
    plural('emails', "Email addresses for the user. The value SHOULD be canonicalized by the service provider, e.g. 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'. Canonical type values of 'work', 'home', and 'other'.",
      attr('value', 'string', "Email addresses for the user. The value SHOULD be canonicalized by the service provider, e.g. 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'. Canonical type values of 'work', 'home', and 'other'."),
      attr('type', 'string', "A label indicating the attribute's function, e.g. 'work' or 'home'.", { canonicalValues: ['work', 'home', 'other'] }),
      "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred mailing address or primary email address. The primary attribute value 'true' MUST appear no more than once.", { uniqueness: 'none' }),
    plural('phoneNumbers', "Phone numbers for the User. The value SHOULD be canonicalized by the service provider according to the format specified in RFC 3966, e.g. 'tel:+1-201-555-0123'. Canonical type values of 'work', 'home', 'mobile', 'fax', 'pager', and 'other'.",
      attr('value', 'string', 'Phone number of the User.'),
      attr('type', 'string', "A label indicating the attribute's function, e.g. 'work', 'home', 'mobile'.", { canonicalValues: ['work', 'home', 'mobile', 'fax', 'pager', 'other'] }),
      "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred phone number or primary phone number. The primary attribute value 'true' MUST appear no more than once."),
    plural('ims', 'Instant messaging addresses for the User.',
      attr('value', 'string', 'Instant messaging address for the User.'),
      attr('type', 'string', "A label indicating the attribute's function, e.g. 'aim', 'gtalk', 'xmpp'.", { canonicalValues: ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo'] }),
      "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred messenger or primary messenger. The primary attribute value 'true' MUST appear no more than once."),
    plural('photos', 'URLs of photos of the User.',
      attr('value', 'reference', 'URL of a photo of the User.', { referenceTypes: ['external'] }),
      attr('type', 'string', "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'.", { canonicalValues: ['photo', 'thumbnail'] }),
      "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred photo or thumbnail. The primary attribute value 'true' MUST appear no more than once."),
    attr('addresses', 'complex', "A physical mailing address for this User. Canonical type values of 'work', 'home', and 'other'. This attribute is a complex type with the following sub-attributes.", { multiValued: true, uniqueness: 'none', subAttributes: [
      attr('formatted', 'string', 'The full mailing address, formatted for display or use with a mailing label. This attribute MAY contain newlines.'),
      attr('streetAddress', 'string', 'The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information. This attribute MAY contain newlines.'),
      attr('locality', 'string', 'The city or locality component.'),
      attr('region', 'string', 'The state or region component.'),
      attr('postalCode', 'string', 'The zip code or postal code component.'),
      attr('country', 'string', 'The country name component.'),
      attr('type', 'string', "A label indicating the attribute's function, e.g. 'work' or 'home'.", { canonicalValues: ['work', 'home', 'other'] }),
      attr('primary', 'boolean', "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred mailing address or primary email address. The primary attribute value 'true' MUST appear no more than once."),
    ] }),
    attr('groups', 'complex', 'A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.', { multiValued: true, mutability: 'readOnly', subAttributes: [
      attr('value', 'string', "The identifier of the User's group.", { mutability: 'readOnly' }),
      attr('$ref', 'reference', "The URI of the corresponding 'Group' resource to which the user belongs.", { referenceTypes: ['User', 'Group'], mutability: 'readOnly' }),
      attr('display', 'string', 'A human-readable name, primarily used for display purposes. READ-ONLY.', { mutability: 'readOnly' }),
      attr('type', 'string', "A label indicating the attribute's function, e.g. 'direct' or 'indirect'.", { canonicalValues: ['direct', 'indirect'], mutability: 'readOnly' }),
    ] }),
    plural('entitlements', 'A list of entitlements for the User that represent a thing the User has.',
      attr('value', 'string', 'The value of an entitlement.'),
      attr('type', 'string', "A label indicating the attribute's function."),
      "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once."),
    plural('roles', "A list of roles for the User that collectively represent who the User is, e.g. 'Student', 'Faculty'.",
      attr('value', 'string', 'The value of a role.'),
      attr('type', 'string', "A label indicating the attribute's function.", { canonicalValues: [] }),
      "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once."),
    plural('x509Certificates', 'A list of certificates issued to the User.',
      attr('value', 'binary', 'The value of an X.509 certificate.', { caseExact: true }),
      attr('type', 'string', "A label indicating the attribute's function.", { canonicalValues: [] }),
      "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once."),
  ],
};

/** RFC 7643 §4.3 Enterprise User extension, as scimmy defines it. */
export const enterpriseUserSchemaDef: SchemaDef = {
  id: URN.enterpriseUser,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('employeeNumber', 'string', 'Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.'),
    attr('costCenter', 'string', 'Identifies the name of a cost center.'),
    attr('organization', 'string', 'Identifies the name of an organization.'),
    attr('division', 'string', 'Identifies the name of a division.'),
    attr('department', 'string', 'Identifies the name of a department.'),
    attr('manager', 'complex', "The User's manager.  A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.", { subAttributes: [
      attr('value', 'string', "The id of the SCIM resource representing the User's manager."),
      attr('$ref', 'reference', "The URI of the SCIM resource representing the User's manager.", { referenceTypes: ['User'] }),
      attr('displayName', 'string', "The displayName of the User's manager.", { mutability: 'readOnly' }),
    ] }),
  ],
};

/** RFC 7643 §4.2 Group, as scimmy defines it. */
export const groupSchemaDef: SchemaDef = {
  id: URN.group,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'string', 'A human-readable name for the Group. REQUIRED.', { required: true }),
    attr('members', 'complex', 'A list of members of the Group.', { multiValued: true, subAttributes: [
      attr('value', 'string', 'Identifier of the member of this Group.', { mutability: 'immutable' }),
      attr('display', 'string', 'Human-readable name of the member of this Group.', { mutability: 'immutable' }),
      attr('$ref', 'reference', 'The URI corresponding to a SCIM resource that is a member of this Group.', { referenceTypes: ['User', 'Group'], mutability: 'immutable' }),
      attr('type', 'string', "A label indicating the type of resource, e.g., 'User' or 'Group'.", { canonicalValues: ['User', 'Group'], mutability: 'immutable' }),
    ] }),
  ],
};

/** Our User extension: the fields of the seed's Users page (managing-users.txt). */
export const switchboardUserSchemaDef: SchemaDef = {
  id: URN.switchboardUser,
  name: 'SwitchboardUser',
  description: 'Unified-communications fields of a user.',
  attributes: [
    attr('accountAdmin', 'boolean', 'The Account Admin toggle: administrative rights on the account (Role Account Admin, else User).'),
    attr('mobileNumber', 'string', 'Mobile number in E.164 form; a national number is read with mobileCountry.'),
    attr('mobileCountry', 'string', 'ISO 3166-1 alpha-2 country of the mobile number.'),
    attr('smsNumber', 'string', "SMS number from the account's Twilio pool. Not sortable."),
    attr('extensions', 'string', 'PBX extension numbers, unique within the account.', { multiValued: true }),
    attr('licenses', 'string', 'Products licensed to the user, e.g. "MiTeam Meetings".', { multiValued: true }),
    attr('contactCenter', 'string', 'Mitel CX contact-centre modalities configured for the user.', { multiValued: true, mutability: 'readOnly' }),
    attr('username', 'string', 'MiVoice Business user name.'),
    attr('mivbService', 'boolean', 'The MiVoice Business service is applied to the user.'),
    attr('voicemail', 'boolean', 'The user has a voicemail box.'),
    attr('registered', 'boolean', 'The user has registered a platform account.', { mutability: 'readOnly' }),
    attr('connections', 'complex', 'How the user is connected.', { mutability: 'readOnly', uniqueness: 'none', subAttributes: [
      attr('pbx', 'boolean', '', { mutability: 'readOnly' }),
      attr('micloud', 'boolean', '', { mutability: 'readOnly' }),
      attr('iot', 'boolean', '', { mutability: 'readOnly' }),
    ] }),
    attr('source', 'string', 'Kind of the source that created the user.', { mutability: 'readOnly' }),
    attr('lockedAttributes', 'complex', 'Attributes owned by a source: not editable here, overwritten on its next sync.', { multiValued: true, mutability: 'readOnly', uniqueness: 'none', subAttributes: [
      attr('attribute', 'string', '', { mutability: 'readOnly' }),
      attr('source', 'string', 'The kind of the owning source (ldap, scim, mivb, …).', { mutability: 'readOnly' }),
      attr('sourceId', 'string', 'The owning source: GET /Sources/{sourceId} (the scim source is the identity provider push).', { mutability: 'readOnly' }),
    ] }),
    attr('modifiedBy', 'string', 'Who last changed the user.', { mutability: 'readOnly' }),
    attr('advanced', 'complex', 'The last record each linked source gave for the user (the Advance section), as JSON text.', { multiValued: true, mutability: 'readOnly', returned: 'request', uniqueness: 'none', subAttributes: [
      attr('source', 'string', '', { mutability: 'readOnly' }),
      attr('sourceId', 'string', '', { mutability: 'readOnly' }),
      attr('anchor', 'string', '', { mutability: 'readOnly' }),
      attr('data', 'string', '', { mutability: 'readOnly' }),
    ] }),
  ],
};

/** A partner or customer account. */
export const accountSchemaDef: SchemaDef = {
  id: URN.account,
  name: 'Account',
  description: 'A partner or customer account.',
  attributes: [
    attr('name', 'string', 'Account name.', { required: true }),
    attr('type', 'string', 'partner or customer.', { required: true, caseExact: true, canonicalValues: ['operator', 'partner', 'customer'], mutability: 'immutable' }),
    attr('parentId', 'string', 'The owning account.', { caseExact: true, mutability: 'immutable' }),
    attr('userCount', 'integer', 'Number of users.', { mutability: 'readOnly' }),
    attr('settings', 'complex', 'Integrations and options of the account.', { uniqueness: 'none', subAttributes: [
      attr('sso', 'boolean', ''),
      attr('twilio', 'complex', '', { uniqueness: 'none', subAttributes: [
        attr('enabled', 'boolean', ''),
        attr('userNumbers', 'boolean', ''),
        attr('smsPool', 'string', '', { multiValued: true }),
      ] }),
      attr('miTeamMeetings', 'boolean', ''),
      attr('miCollab', 'boolean', ''),
      attr('mivb', 'boolean', ''),
      attr('oigInCluster', 'boolean', ''),
      attr('contactCenter', 'boolean', ''),
    ] }),
    attr('subscriptions', 'complex', 'Products ordered, with seats and the licences assigned against them.', { multiValued: true, uniqueness: 'none', subAttributes: [
      attr('product', 'string', '', { required: true }),
      attr('seats', 'integer', '', { required: true }),
      attr('assigned', 'integer', 'Users of the account holding a licence for the product (product names compared case-insensitively).', { mutability: 'readOnly' }),
      attr('available', 'integer', "Seats left: seats minus assigned, never below 0 (the Manage panel's count of licences available).", { mutability: 'readOnly' }),
    ] }),
  ],
};

/** A bearer token for the API. */
export const tokenSchemaDef: SchemaDef = {
  id: URN.token,
  name: 'Token',
  description: 'A bearer token for the API.',
  attributes: [
    attr('role', 'string', '', { required: true, caseExact: true, canonicalValues: ['operator', 'partner-admin', 'account-admin', 'provisioning', 'user'], mutability: 'immutable' }),
    attr('description', 'string', '', { mutability: 'immutable' }),
    attr('userId', 'string', 'For role user: the user this token acts as.', { caseExact: true, mutability: 'immutable' }),
    attr('expiresAt', 'dateTime', '', { mutability: 'immutable' }),
    attr('lastUsedAt', 'dateTime', '', { mutability: 'readOnly' }),
    attr('revokedAt', 'dateTime', '', { mutability: 'readOnly' }),
    attr('token', 'string', 'The secret; present only in the response that created the token.', { mutability: 'readOnly', returned: 'request' }),
  ],
};

export const schemaDefs = {
  user: userSchemaDef,
  enterpriseUser: enterpriseUserSchemaDef,
  switchboardUser: switchboardUserSchemaDef,
  group: groupSchemaDef,
  account: accountSchemaDef,
  token: tokenSchemaDef,
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
