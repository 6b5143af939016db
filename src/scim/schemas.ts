/**
 * scimmy's schema definitions, for input coercion (README, design decisions: scimmy on the schema and input side). The schema
 * data itself lives in src/domain/scim-schemas.ts: our own schemas are built here from that data, the RFC 7643 core
 * ones are scimmy's (test/unit/scim-schemas.test.ts holds both equal to the data served).
 */
import SCIMMY from 'scimmy';
import type { AttributeDef, ResourceTypeDef, SchemaDef } from '../domain/scim-schema.js';
import { resourceTypes, schemaDefs } from '../domain/scim-schemas.js';

export { resourceTypes, schemaDefs } from '../domain/scim-schemas.js';

const { Attribute, SchemaDefinition } = SCIMMY.Types;
type ScimmyAttribute = InstanceType<typeof Attribute>;
type ScimmySchema = InstanceType<typeof SchemaDefinition>;
type AttributeConfig = NonNullable<ConstructorParameters<typeof Attribute>[2]>;

const mutable: Record<AttributeDef['mutability'], AttributeConfig['mutable']> = { readOnly: false, readWrite: true, immutable: 'immutable', writeOnly: 'writeOnly' };
const returned: Record<AttributeDef['returned'], AttributeConfig['returned']> = { always: true, never: false, default: 'default', request: 'request' };

/** scimmy's Attribute for an attribute described as data (round-trips: describe() gives the data back). */
function toScimmyAttribute(def: AttributeDef): ScimmyAttribute {
  const config: AttributeConfig = { multiValued: def.multiValued, description: def.description, required: def.required, mutable: mutable[def.mutability], returned: returned[def.returned] };
  if (def.caseExact !== undefined) config.caseExact = def.caseExact;
  if (def.canonicalValues) config.canonicalValues = def.canonicalValues;
  if (def.referenceTypes) config.referenceTypes = def.referenceTypes;
  if (def.uniqueness !== undefined) config.uniqueness = def.uniqueness as AttributeConfig['uniqueness'];
  return new Attribute(def.type as ConstructorParameters<typeof Attribute>[0], def.name, config, def.subAttributes?.map(toScimmyAttribute));
}

/**
 * scimmy only accepts schema ids under urn:ietf:params:scim:schemas:, but our schemas are ours to name
 * (RFC 7643 §10.3 reserves that namespace for registered schemas). Build with a placeholder, then rename;
 * test/unit/scimmy-behaviour.test.ts pins that coercion still works after the rename.
 */
function defineSchema(def: SchemaDef): ScimmySchema {
  const schema = new SchemaDefinition(def.name, `urn:ietf:params:scim:schemas:switchboard:${def.name}`, def.description, def.attributes.map(toScimmyAttribute));
  Object.defineProperty(schema, 'id', { value: def.id, enumerable: true });
  return schema;
}

export const scimmySchemas = {
  user: SCIMMY.Schemas.User.definition as ScimmySchema,
  enterpriseUser: SCIMMY.Schemas.EnterpriseUser.definition as ScimmySchema,
  group: SCIMMY.Schemas.Group.definition as ScimmySchema,
  switchboardUser: defineSchema(schemaDefs.switchboardUser),
  account: defineSchema(schemaDefs.account),
  token: defineSchema(schemaDefs.token),
};

/** A scimmy schema as plain data (what discovery serves). */
export function describeSchema(schema: ScimmySchema): SchemaDef {
  // describe() hands back Attribute instances whose characteristics appear only through toJSON().
  const described = JSON.parse(JSON.stringify(schema.describe())) as SchemaDef & { attributes: AttributeDef[] };
  return { id: described.id, name: described.name, description: described.description, attributes: described.attributes };
}

/** Every resource type served, in discovery order; later issues register theirs here. */
export const allResourceTypes: ResourceTypeDef[] = [resourceTypes.user, resourceTypes.group, resourceTypes.account, resourceTypes.token];
