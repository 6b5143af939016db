import { expect } from 'chai';
import { schemaDefs } from '../../src/domain/scim-schemas.js';
import { describeSchema, scimmySchemas } from '../../src/scim/schemas.js';

// The schema data served and read by db/ lives in src/domain/scim-schemas.ts; scimmy coerces input. These hold the two equal.
describe('SCIM schemas as data', () => {
  for (const name of ['user', 'enterpriseUser', 'group'] as const) {
    it(`when scimmy's RFC 7643 ${name} schema is described, then it equals the copy in src/domain/scim-schemas.ts`, () => {
      expect(describeSchema(scimmySchemas[name])).to.deep.equal(schemaDefs[name]);
    });
  }

  for (const name of ['switchboardUser', 'account', 'token'] as const) {
    it(`when our ${name} schema is built for scimmy from its data, then scimmy describes the same data back`, () => {
      expect(describeSchema(scimmySchemas[name])).to.deep.equal(schemaDefs[name]);
    });
  }

  it('when a required attribute is missing from an Account, then scimmy built from the data refuses it', () => {
    expect(() => scimmySchemas.account.coerce({ schemas: [schemaDefs.account.id], type: 'customer' }, 'in')).to.throw(/name/);
  });
});
