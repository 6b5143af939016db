/**
 * The SCIM schemas of the edge. The schema data served, read by db/ and used for coercion lives in
 * src/domain/scim-schemas.ts; the RFC 7643 core schemas there are copies of scimmy's definitions, which stay
 * here as the reference they are held equal to (test/unit/scim-schemas.test.ts). Input is coerced by our own
 * coercer (resource-input.ts, patch/patch-value.ts), not by scimmy.
 */
import SCIMMY from 'scimmy';
import type { AttributeDef, ResourceTypeDef, SchemaDef } from '../domain/scim-schema.js';
import { resourceTypes } from '../domain/scim-schemas.js';

export { resourceTypes, schemaDefs } from '../domain/scim-schemas.js';

type ScimmySchema = InstanceType<typeof SCIMMY.Types.SchemaDefinition>;

/** scimmy's definitions of the RFC 7643 core schemas. */
export const rfc7643Schemas = {
  user: SCIMMY.Schemas.User.definition as ScimmySchema,
  enterpriseUser: SCIMMY.Schemas.EnterpriseUser.definition as ScimmySchema,
  group: SCIMMY.Schemas.Group.definition as ScimmySchema,
};

/** A scimmy schema as plain data (the form of src/domain/scim-schemas.ts and of discovery). */
export function describeSchema(schema: ScimmySchema): SchemaDef {
  // describe() hands back Attribute instances whose characteristics appear only through toJSON().
  const described = JSON.parse(JSON.stringify(schema.describe())) as SchemaDef & { attributes: AttributeDef[] };
  return { id: described.id, name: described.name, description: described.description, attributes: described.attributes };
}

/** Every resource type served, in discovery order; later issues register theirs here. */
export const allResourceTypes: ResourceTypeDef[] = [resourceTypes.user, resourceTypes.group, resourceTypes.account, resourceTypes.token];
