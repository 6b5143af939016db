/**
 * The SCIM schemas served, as plain data (RFC 7643 §7): what db/, services/ and the pure code read, with no scimmy
 * below scim/. Our own schemas (switchboardUser, account, token) are defined here and scim/schemas.ts builds scimmy's
 * definitions from them; the RFC 7643 core schemas (User, EnterpriseUser, Group) are scimmy's own, copied here and
 * held equal to scimmy's by test/unit/scim-schemas.test.ts.
 */
import type { ResourceTypeDef, SchemaDef } from './scim-schema.js';

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

/** RFC 7643 §4.1 User, as scimmy defines it. */
export const userSchemaDef: SchemaDef = {
  id: URN.user,
  name: "User",
  description: "User Account",
  attributes: [
    {
      name: "userName",
      type: "string",
      multiValued: false,
      description: "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. Each User MUST include a non-empty userName value. This identifier MUST be unique across the service provider's entire set of Users. REQUIRED.",
      required: true,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "server"
    },
    {
      name: "name",
      type: "complex",
      multiValued: false,
      description: "The components of the user's real name. Providers MAY return just the full name as a single string in the formatted sub-attribute, or they MAY return just the individual component attributes using the other sub-attributes, or they MAY return both. If both variants are returned, they SHOULD be describing the same name, with the formatted name indicating how the component attributes should be combined.",
      required: false,
      subAttributes: [
        {
          name: "formatted",
          type: "string",
          multiValued: false,
          description: "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display (e.g. 'Ms. Barbara J Jensen, III').",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "familyName",
          type: "string",
          multiValued: false,
          description: "The family name of the User, or last name in most Western languages (e.g. 'Jensen' given the full name 'Ms. Barbara J Jensen, III').",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "givenName",
          type: "string",
          multiValued: false,
          description: "The given name of the User, or first name in most Western languages (e.g. 'Barbara' given the full name 'Ms. Barbara J Jensen, III').",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "middleName",
          type: "string",
          multiValued: false,
          description: "The middle name(s) of the User (e.g. 'Jane' given the full name 'Ms. Barbara J Jensen, III').",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "honorificPrefix",
          type: "string",
          multiValued: false,
          description: "The honorific prefix(es) of the User, or title in most Western languages (e.g. 'Ms.' given the full name 'Ms. Barbara J Jensen, III').",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "honorificSuffix",
          type: "string",
          multiValued: false,
          description: "The honorific suffix(es) of the User, or suffix in most Western languages (e.g. 'III' given the full name 'Ms. Barbara J Jensen, III').",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        }
      ],
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "displayName",
      type: "string",
      multiValued: false,
      description: "The name of the User, suitable for display to end-users. The name SHOULD be the full name of the User being described, if known.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "nickName",
      type: "string",
      multiValued: false,
      description: "The casual way to address the user in real life, e.g. 'Bob' or 'Bobby' instead of 'Robert'. This attribute SHOULD NOT be used to represent a User's username (e.g. 'bjensen' or 'mpepperidge').",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "profileUrl",
      type: "reference",
      referenceTypes: [
        "external"
      ],
      multiValued: false,
      description: "A fully qualified URL pointing to a page representing the User's online profile.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "title",
      type: "string",
      multiValued: false,
      description: "The user's title, such as 'Vice President'.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "userType",
      type: "string",
      multiValued: false,
      description: "Used to identify the relationship between the organization and the user. Typical values used might be 'Contractor', 'Employee', 'Intern', 'Temp', 'External', and 'Unknown', but any value may be used.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "preferredLanguage",
      type: "string",
      multiValued: false,
      description: "Indicates the User's preferred written or spoken language. Generally used for selecting a localized user interface; e.g. 'en_US' specifies the language English and country US.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "locale",
      type: "string",
      multiValued: false,
      description: "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "timezone",
      type: "string",
      multiValued: false,
      description: "The User's time zone in the 'Olson' time zone database format, e.g. 'America/Los_Angeles'.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "active",
      type: "boolean",
      multiValued: false,
      description: "A Boolean value indicating the User's administrative status.",
      required: false,
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "password",
      type: "string",
      multiValued: false,
      description: "The User's cleartext password. This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password.",
      required: false,
      caseExact: false,
      mutability: "writeOnly",
      returned: "never",
      uniqueness: "none"
    },
    {
      name: "emails",
      type: "complex",
      multiValued: true,
      description: "Email addresses for the user. The value SHOULD be canonicalized by the service provider, e.g. 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'. Canonical type values of 'work', 'home', and 'other'.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "string",
          multiValued: false,
          description: "Email addresses for the user. The value SHOULD be canonicalized by the service provider, e.g. 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'. Canonical type values of 'work', 'home', and 'other'.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "A human-readable name, primarily used for display purposes. READ-ONLY.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function, e.g. 'work' or 'home'.",
          required: false,
          caseExact: false,
          canonicalValues: [
            "work",
            "home",
            "other"
          ],
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "primary",
          type: "boolean",
          multiValued: false,
          description: "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred mailing address or primary email address. The primary attribute value 'true' MUST appear no more than once.",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "phoneNumbers",
      type: "complex",
      multiValued: true,
      description: "Phone numbers for the User. The value SHOULD be canonicalized by the service provider according to the format specified in RFC 3966, e.g. 'tel:+1-201-555-0123'. Canonical type values of 'work', 'home', 'mobile', 'fax', 'pager', and 'other'.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "string",
          multiValued: false,
          description: "Phone number of the User.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "A human-readable name, primarily used for display purposes. READ-ONLY.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function, e.g. 'work', 'home', 'mobile'.",
          required: false,
          caseExact: false,
          canonicalValues: [
            "work",
            "home",
            "mobile",
            "fax",
            "pager",
            "other"
          ],
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "primary",
          type: "boolean",
          multiValued: false,
          description: "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred phone number or primary phone number. The primary attribute value 'true' MUST appear no more than once.",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "ims",
      type: "complex",
      multiValued: true,
      description: "Instant messaging addresses for the User.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "string",
          multiValued: false,
          description: "Instant messaging address for the User.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "A human-readable name, primarily used for display purposes. READ-ONLY.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function, e.g. 'aim', 'gtalk', 'xmpp'.",
          required: false,
          caseExact: false,
          canonicalValues: [
            "aim",
            "gtalk",
            "icq",
            "xmpp",
            "msn",
            "skype",
            "qq",
            "yahoo"
          ],
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "primary",
          type: "boolean",
          multiValued: false,
          description: "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred messenger or primary messenger. The primary attribute value 'true' MUST appear no more than once.",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "photos",
      type: "complex",
      multiValued: true,
      description: "URLs of photos of the User.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "reference",
          referenceTypes: [
            "external"
          ],
          multiValued: false,
          description: "URL of a photo of the User.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "A human-readable name, primarily used for display purposes. READ-ONLY.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'.",
          required: false,
          caseExact: false,
          canonicalValues: [
            "photo",
            "thumbnail"
          ],
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "primary",
          type: "boolean",
          multiValued: false,
          description: "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred photo or thumbnail. The primary attribute value 'true' MUST appear no more than once.",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "addresses",
      type: "complex",
      multiValued: true,
      description: "A physical mailing address for this User. Canonical type values of 'work', 'home', and 'other'. This attribute is a complex type with the following sub-attributes.",
      required: false,
      subAttributes: [
        {
          name: "formatted",
          type: "string",
          multiValued: false,
          description: "The full mailing address, formatted for display or use with a mailing label. This attribute MAY contain newlines.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "streetAddress",
          type: "string",
          multiValued: false,
          description: "The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information. This attribute MAY contain newlines.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "locality",
          type: "string",
          multiValued: false,
          description: "The city or locality component.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "region",
          type: "string",
          multiValued: false,
          description: "The state or region component.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "postalCode",
          type: "string",
          multiValued: false,
          description: "The zip code or postal code component.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "country",
          type: "string",
          multiValued: false,
          description: "The country name component.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function, e.g. 'work' or 'home'.",
          required: false,
          caseExact: false,
          canonicalValues: [
            "work",
            "home",
            "other"
          ],
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "primary",
          type: "boolean",
          multiValued: false,
          description: "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g. the preferred mailing address or primary email address. The primary attribute value 'true' MUST appear no more than once.",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "groups",
      type: "complex",
      multiValued: true,
      description: "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "string",
          multiValued: false,
          description: "The identifier of the User's group.",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "$ref",
          type: "reference",
          referenceTypes: [
            "User",
            "Group"
          ],
          multiValued: false,
          description: "The URI of the corresponding 'Group' resource to which the user belongs.",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "A human-readable name, primarily used for display purposes. READ-ONLY.",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function, e.g. 'direct' or 'indirect'.",
          required: false,
          caseExact: false,
          canonicalValues: [
            "direct",
            "indirect"
          ],
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        }
      ],
      mutability: "readOnly",
      returned: "default"
    },
    {
      name: "entitlements",
      type: "complex",
      multiValued: true,
      description: "A list of entitlements for the User that represent a thing the User has.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "string",
          multiValued: false,
          description: "The value of an entitlement.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "A human-readable name, primarily used for display purposes. READ-ONLY.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "primary",
          type: "boolean",
          multiValued: false,
          description: "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once.",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "roles",
      type: "complex",
      multiValued: true,
      description: "A list of roles for the User that collectively represent who the User is, e.g. 'Student', 'Faculty'.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "string",
          multiValued: false,
          description: "The value of a role.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "A human-readable name, primarily used for display purposes. READ-ONLY.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function.",
          required: false,
          caseExact: false,
          canonicalValues: [],
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "primary",
          type: "boolean",
          multiValued: false,
          description: "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once.",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "x509Certificates",
      type: "complex",
      multiValued: true,
      description: "A list of certificates issued to the User.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "binary",
          multiValued: false,
          description: "The value of an X.509 certificate.",
          required: false,
          caseExact: true,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "A human-readable name, primarily used for display purposes. READ-ONLY.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the attribute's function.",
          required: false,
          caseExact: false,
          canonicalValues: [],
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "primary",
          type: "boolean",
          multiValued: false,
          description: "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. The primary attribute value 'true' MUST appear no more than once.",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default"
    }
  ]
};

/** RFC 7643 §4.3 Enterprise User extension, as scimmy defines it. */
export const enterpriseUserSchemaDef: SchemaDef = {
  id: URN.enterpriseUser,
  name: "EnterpriseUser",
  description: "Enterprise User",
  attributes: [
    {
      name: "employeeNumber",
      type: "string",
      multiValued: false,
      description: "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "costCenter",
      type: "string",
      multiValued: false,
      description: "Identifies the name of a cost center.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "organization",
      type: "string",
      multiValued: false,
      description: "Identifies the name of an organization.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "division",
      type: "string",
      multiValued: false,
      description: "Identifies the name of a division.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "department",
      type: "string",
      multiValued: false,
      description: "Identifies the name of a department.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "manager",
      type: "complex",
      multiValued: false,
      description: "The User's manager.  A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "string",
          multiValued: false,
          description: "The id of the SCIM resource representing the User's manager.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "$ref",
          type: "reference",
          referenceTypes: [
            "User"
          ],
          multiValued: false,
          description: "The URI of the SCIM resource representing the User's manager.",
          required: false,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "displayName",
          type: "string",
          multiValued: false,
          description: "The displayName of the User's manager.",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        }
      ],
      mutability: "readWrite",
      returned: "default"
    }
  ]
};

/** RFC 7643 §4.2 Group, as scimmy defines it. */
export const groupSchemaDef: SchemaDef = {
  id: URN.group,
  name: "Group",
  description: "Group",
  attributes: [
    {
      name: "displayName",
      type: "string",
      multiValued: false,
      description: "A human-readable name for the Group. REQUIRED.",
      required: true,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "members",
      type: "complex",
      multiValued: true,
      description: "A list of members of the Group.",
      required: false,
      subAttributes: [
        {
          name: "value",
          type: "string",
          multiValued: false,
          description: "Identifier of the member of this Group.",
          required: false,
          caseExact: false,
          mutability: "immutable",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "display",
          type: "string",
          multiValued: false,
          description: "Human-readable name of the member of this Group.",
          required: false,
          caseExact: false,
          mutability: "immutable",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "$ref",
          type: "reference",
          referenceTypes: [
            "User",
            "Group"
          ],
          multiValued: false,
          description: "The URI corresponding to a SCIM resource that is a member of this Group.",
          required: false,
          caseExact: false,
          mutability: "immutable",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "type",
          type: "string",
          multiValued: false,
          description: "A label indicating the type of resource, e.g., 'User' or 'Group'.",
          required: false,
          caseExact: false,
          canonicalValues: [
            "User",
            "Group"
          ],
          mutability: "immutable",
          returned: "default",
          uniqueness: "none"
        }
      ],
      mutability: "readWrite",
      returned: "default"
    }
  ]
};

/** Our User extension: the fields of the seed's Users page (managing-users.txt). */
export const switchboardUserSchemaDef: SchemaDef = {
  id: URN.switchboardUser,
  name: "SwitchboardUser",
  description: "Unified-communications fields of a user.",
  attributes: [
    {
      name: "accountAdmin",
      type: "boolean",
      multiValued: false,
      description: "The Account Admin toggle: administrative rights on the account (Role Account Admin, else User).",
      required: false,
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "mobileNumber",
      type: "string",
      multiValued: false,
      description: "Mobile number in E.164 form; a national number is read with mobileCountry.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "mobileCountry",
      type: "string",
      multiValued: false,
      description: "ISO 3166-1 alpha-2 country of the mobile number.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "smsNumber",
      type: "string",
      multiValued: false,
      description: "SMS number from the account's Twilio pool. Not sortable.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "extensions",
      type: "string",
      multiValued: true,
      description: "PBX extension numbers, unique within the account.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "licenses",
      type: "string",
      multiValued: true,
      description: "Products licensed to the user, e.g. \"MiTeam Meetings\".",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "contactCenter",
      type: "string",
      multiValued: true,
      description: "Mitel CX contact-centre modalities configured for the user.",
      required: false,
      caseExact: false,
      mutability: "readOnly",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "username",
      type: "string",
      multiValued: false,
      description: "MiVoice Business user name.",
      required: false,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "mivbService",
      type: "boolean",
      multiValued: false,
      description: "The MiVoice Business service is applied to the user.",
      required: false,
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "voicemail",
      type: "boolean",
      multiValued: false,
      description: "The user has a voicemail box.",
      required: false,
      mutability: "readWrite",
      returned: "default"
    },
    {
      name: "registered",
      type: "boolean",
      multiValued: false,
      description: "The user has registered a platform account.",
      required: false,
      mutability: "readOnly",
      returned: "default"
    },
    {
      name: "connections",
      type: "complex",
      multiValued: false,
      description: "How the user is connected.",
      required: false,
      subAttributes: [
        {
          name: "pbx",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readOnly",
          returned: "default"
        },
        {
          name: "micloud",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readOnly",
          returned: "default"
        },
        {
          name: "iot",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readOnly",
          returned: "default"
        }
      ],
      mutability: "readOnly",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "source",
      type: "string",
      multiValued: false,
      description: "Kind of the source that created the user.",
      required: false,
      caseExact: false,
      mutability: "readOnly",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "lockedAttributes",
      type: "complex",
      multiValued: true,
      description: "Attributes owned by a source: not editable here, overwritten on its next sync.",
      required: false,
      subAttributes: [
        {
          name: "attribute",
          type: "string",
          multiValued: false,
          description: "",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "source",
          type: "string",
          multiValued: false,
          description: "The kind of the owning source (ldap, scim, mivb, …).",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "sourceId",
          type: "string",
          multiValued: false,
          description: "The owning source: GET /Sources/{sourceId} (the scim source is the identity provider push).",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        }
      ],
      mutability: "readOnly",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "modifiedBy",
      type: "string",
      multiValued: false,
      description: "Who last changed the user.",
      required: false,
      caseExact: false,
      mutability: "readOnly",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "advanced",
      type: "complex",
      multiValued: true,
      description: "The last record each linked source gave for the user (the Advance section), as JSON text.",
      required: false,
      subAttributes: [
        {
          name: "source",
          type: "string",
          multiValued: false,
          description: "",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "sourceId",
          type: "string",
          multiValued: false,
          description: "",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "anchor",
          type: "string",
          multiValued: false,
          description: "",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "data",
          type: "string",
          multiValued: false,
          description: "",
          required: false,
          caseExact: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        }
      ],
      mutability: "readOnly",
      returned: "request",
      uniqueness: "none"
    }
  ]
};

/** A partner or customer account. */
export const accountSchemaDef: SchemaDef = {
  id: URN.account,
  name: "Account",
  description: "A partner or customer account.",
  attributes: [
    {
      name: "name",
      type: "string",
      multiValued: false,
      description: "Account name.",
      required: true,
      caseExact: false,
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "type",
      type: "string",
      multiValued: false,
      description: "partner or customer.",
      required: true,
      caseExact: true,
      canonicalValues: [
        "operator",
        "partner",
        "customer"
      ],
      mutability: "immutable",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "parentId",
      type: "string",
      multiValued: false,
      description: "The owning account.",
      required: false,
      caseExact: true,
      mutability: "immutable",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "userCount",
      type: "integer",
      multiValued: false,
      description: "Number of users.",
      required: false,
      mutability: "readOnly",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "settings",
      type: "complex",
      multiValued: false,
      description: "Integrations and options of the account.",
      required: false,
      subAttributes: [
        {
          name: "sso",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readWrite",
          returned: "default"
        },
        {
          name: "twilio",
          type: "complex",
          multiValued: false,
          description: "",
          required: false,
          subAttributes: [
            {
              name: "enabled",
              type: "boolean",
              multiValued: false,
              description: "",
              required: false,
              mutability: "readWrite",
              returned: "default"
            },
            {
              name: "userNumbers",
              type: "boolean",
              multiValued: false,
              description: "",
              required: false,
              mutability: "readWrite",
              returned: "default"
            },
            {
              name: "smsPool",
              type: "string",
              multiValued: true,
              description: "",
              required: false,
              caseExact: false,
              mutability: "readWrite",
              returned: "default",
              uniqueness: "none"
            }
          ],
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "miTeamMeetings",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readWrite",
          returned: "default"
        },
        {
          name: "miCollab",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readWrite",
          returned: "default"
        },
        {
          name: "mivb",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readWrite",
          returned: "default"
        },
        {
          name: "oigInCluster",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readWrite",
          returned: "default"
        },
        {
          name: "contactCenter",
          type: "boolean",
          multiValued: false,
          description: "",
          required: false,
          mutability: "readWrite",
          returned: "default"
        }
      ],
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "subscriptions",
      type: "complex",
      multiValued: true,
      description: "Products ordered, with seats and the licences assigned against them.",
      required: false,
      subAttributes: [
        {
          name: "product",
          type: "string",
          multiValued: false,
          description: "",
          required: true,
          caseExact: false,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "seats",
          type: "integer",
          multiValued: false,
          description: "",
          required: true,
          mutability: "readWrite",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "assigned",
          type: "integer",
          multiValued: false,
          description: "Users of the account holding a licence for the product (product names compared case-insensitively).",
          required: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        },
        {
          name: "available",
          type: "integer",
          multiValued: false,
          description: "Seats left: seats minus assigned, never below 0 (the Manage panel's count of licences available).",
          required: false,
          mutability: "readOnly",
          returned: "default",
          uniqueness: "none"
        }
      ],
      mutability: "readWrite",
      returned: "default",
      uniqueness: "none"
    }
  ]
};

/** A bearer token for the API. */
export const tokenSchemaDef: SchemaDef = {
  id: URN.token,
  name: "Token",
  description: "A bearer token for the API.",
  attributes: [
    {
      name: "role",
      type: "string",
      multiValued: false,
      description: "",
      required: true,
      caseExact: true,
      canonicalValues: [
        "operator",
        "partner-admin",
        "account-admin",
        "provisioning",
        "user"
      ],
      mutability: "immutable",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "description",
      type: "string",
      multiValued: false,
      description: "",
      required: false,
      caseExact: false,
      mutability: "immutable",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "userId",
      type: "string",
      multiValued: false,
      description: "For role user: the user this token acts as.",
      required: false,
      caseExact: true,
      mutability: "immutable",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "expiresAt",
      type: "dateTime",
      multiValued: false,
      description: "",
      required: false,
      mutability: "immutable",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "lastUsedAt",
      type: "dateTime",
      multiValued: false,
      description: "",
      required: false,
      mutability: "readOnly",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "revokedAt",
      type: "dateTime",
      multiValued: false,
      description: "",
      required: false,
      mutability: "readOnly",
      returned: "default",
      uniqueness: "none"
    },
    {
      name: "token",
      type: "string",
      multiValued: false,
      description: "The secret; present only in the response that created the token.",
      required: false,
      caseExact: false,
      mutability: "readOnly",
      returned: "request",
      uniqueness: "none"
    }
  ]
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
