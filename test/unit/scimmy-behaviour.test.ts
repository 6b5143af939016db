import { expect } from 'chai';
import SCIMMY from 'scimmy';
import { scimmySchemas } from '../../src/scim/schemas.js';

// What we rely on in scimmy, and what we replaced, pinned so an upgrade that changes either is noticed.
describe('scimmy behaviour we rely on or work around', () => {
  it('when a schema id is outside urn:ietf:params:scim:schemas:, then scimmy refuses it (why schemas.ts renames)', () => {
    expect(() => new SCIMMY.Types.SchemaDefinition('X', 'urn:switchboard:scim:schemas:core:2.0:X', '', [])).to.throw(TypeError, /Invalid SCIM schema URN/);
  });

  it('when our renamed extension is attached, then coercion validates its attributes under our URN but keeps readOnly ones', () => {
    const schema = scimmySchemas.user.extend(scimmySchemas.switchboardUser, false);
    const out = schema.coerce(
      { schemas: [scimmySchemas.user.id, 'urn:switchboard:scim:schemas:extension:2.0:User'], userName: 'a', 'urn:switchboard:scim:schemas:extension:2.0:User': { accountAdmin: true, registered: true } },
      'in',
    ) as Record<string, Record<string, unknown>>;
    // scimmy keeps readOnly attributes of an extension on input; UserService drops the computed ones itself.
    expect(out['urn:switchboard:scim:schemas:extension:2.0:User']).to.deep.equal({ accountAdmin: true, registered: true });
    expect(() => schema.coerce({ schemas: [scimmySchemas.user.id], userName: 'a', 'urn:switchboard:scim:schemas:extension:2.0:User': { accountAdmin: 'yes' } }, 'in')).to.throw(/boolean/);
  });

  it('when input has wrong-case names, readOnly or unknown attributes, then coercion canonicalises and drops them', () => {
    const out = scimmySchemas.user.coerce({ schemas: [scimmySchemas.user.id], USERNAME: 'a', Name: { GivenName: 'x' }, groups: [{ value: 'g' }], foo: 1 }, 'in') as Record<string, unknown>;
    expect(out.userName).to.equal('a');
    expect(JSON.parse(JSON.stringify(out.name))).to.deep.equal({ givenName: 'x' });
    expect(out).to.not.have.property('groups');
    expect(out).to.not.have.property('foo');
  });

  it('when booleans come as "True" strings (Entra), then scimmy rejects them (why resource-input normalises first)', () => {
    expect(() => scimmySchemas.user.coerce({ schemas: [scimmySchemas.user.id], userName: 'a', active: 'True' }, 'in')).to.throw(/boolean/);
  });

  it('when scimmy filters not (a or b), then it does not mean "neither" (why filters compile to SQL from our own AST)', () => {
    const items = [{ userName: 'a', title: 'x' }, { userName: 'b', title: 'y' }, { userName: 'c', title: 'z' }];
    const filter = new SCIMMY.Types.Filter('not (userName eq "a" or userName eq "b")');
    const kept = filter.match(items).map((i: { userName: string }) => i.userName);
    expect(kept).to.not.deep.equal(['c']);
  });
});
