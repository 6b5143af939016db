import { expect } from 'chai';
import { schemaDefs } from '../../src/domain/scim-schemas.js';
import { describeSchema, rfc7643Schemas } from '../../src/scim/schemas.js';

// The schema data served, read by db/ and used for coercion lives in src/domain/scim-schemas.ts; its RFC 7643 core
// schemas are copies of scimmy's definitions, held equal to them here.
describe('SCIM schemas as data', () => {
  for (const name of ['user', 'enterpriseUser', 'group'] as const) {
    it(`when scimmy's RFC 7643 ${name} schema is described, then it equals the copy in src/domain/scim-schemas.ts`, () => {
      expect(describeSchema(rfc7643Schemas[name])).to.deep.equal(schemaDefs[name]);
    });
  }
});
