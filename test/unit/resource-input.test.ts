import { expect } from 'chai';
import { DomainError } from '../../src/domain/errors.js';
import { coerceResource } from '../../src/scim/resource-input.js';
import { coerceAttribute } from '../../src/scim/patch/patch-value.js';
import { resourceTypes } from '../../src/scim/schemas.js';
import { URN } from '../../src/scim/urns.js';

const USER = URN.user;
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';

const refusal = (run: () => unknown): DomainError => {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected a refusal');
};

// POST and PUT bodies go through the coercer PATCH values go through (src/scim/patch/patch-value.ts).
describe('coerceResource: the one coercer of incoming resources', () => {
  it('when names come in any case, then they come back in canonical case, in the schema, with unknown attributes dropped', () => {
    const out = coerceResource({ schemas: [USER], USERNAME: 'a@x.example', Name: { GivenName: 'Ada', Nickname: 'x' }, EMAILS: [{ VALUE: 'a@x.example', Type: 'work', PRIMARY: true }], shoeSize: 44 }, resourceTypes.user);
    expect(out).to.deep.equal({ schemas: [USER], userName: 'a@x.example', name: { givenName: 'Ada' }, emails: [{ value: 'a@x.example', type: 'work', primary: true }] });
  });

  it('when readOnly attributes are sent (id, meta, groups, computed extension attributes), then they are dropped', () => {
    const out = coerceResource(
      { schemas: [USER, SWITCHBOARD], id: 'mine', meta: { created: '2000-01-01T00:00:00Z' }, userName: 'a', groups: [{ value: 'g' }], [SWITCHBOARD]: { registered: true, accountAdmin: true } },
      resourceTypes.user,
    );
    expect(out).to.deep.equal({ schemas: [USER, SWITCHBOARD], userName: 'a', [SWITCHBOARD]: { accountAdmin: true } });
  });

  it('when a required attribute or sub-attribute is missing or null, then invalidValue names it', () => {
    expect(refusal(() => coerceResource({ schemas: [USER], displayName: 'No name' }, resourceTypes.user)).detail).to.match(/"userName" is required/);
    expect(refusal(() => coerceResource({ schemas: [USER], userName: null }, resourceTypes.user)).kind).to.equal('invalidValue');
    expect(refusal(() => coerceResource({ schemas: [URN.group], members: [] }, resourceTypes.group)).detail).to.match(/displayName/);
    const account = refusal(() => coerceResource({ schemas: [resourceTypes.account.schema.id], name: 'A', type: 'customer', subscriptions: [{ product: 'x' }] }, resourceTypes.account));
    expect(account.detail).to.match(/subscriptions\.seats/);
  });

  it('when a value has the wrong type, then invalidValue names the attribute and the type expected', () => {
    const error = refusal(() => coerceResource({ schemas: [USER], userName: 'a', active: 'yes' }, resourceTypes.user));
    expect(error.kind).to.equal('invalidValue');
    expect(error.detail).to.equal('Attribute "active" expects a boolean, got string "yes".');
    expect(refusal(() => coerceResource({ schemas: [USER], userName: ['a'] }, resourceTypes.user)).detail).to.match(/userName.*an array/);
  });

  it('when Entra sends booleans as "True"/"False" strings, then they are read as booleans, at any depth', () => {
    const out = coerceResource({ schemas: [USER], userName: 'a', active: 'False', emails: [{ value: 'a@x.example', primary: ' True ' }] }, resourceTypes.user);
    expect(out.active).to.equal(false);
    expect(out.emails).to.deep.equal([{ value: 'a@x.example', primary: true }]);
  });

  it('when values are null, then they are unassigned (RFC 7643 §2.5), as are null values of a multi-valued attribute', () => {
    const out = coerceResource({ schemas: [USER], userName: 'a', title: null, name: { givenName: null, familyName: 'F' }, emails: [null, { value: 'a@x.example', type: null }] }, resourceTypes.user);
    expect(out).to.deep.equal({ schemas: [USER], userName: 'a', name: { familyName: 'F' }, emails: [{ value: 'a@x.example' }] });
  });

  it('when a complex value states nothing (empty, or only unknown sub-attributes), then it is unassigned, as is an empty array', () => {
    const out = coerceResource({ schemas: [USER], userName: 'a', name: { shoeSize: 44 }, addresses: [], emails: [{}, { value: 'a@x.example' }, { label: 'x' }] }, resourceTypes.user);
    expect(out).to.deep.equal({ schemas: [USER], userName: 'a', emails: [{ value: 'a@x.example' }] });
    expect(coerceResource({ schemas: [USER], userName: 'a', emails: [{}] }, resourceTypes.user)).to.deep.equal({ schemas: [USER], userName: 'a' });
  });

  it('when a value is outside the canonical values, then the detail names the path, the values allowed and the value given', () => {
    expect(refusal(() => coerceResource({ schemas: [USER], userName: 'a', emails: [{ value: 'a@x.example', type: 'pager' }] }, resourceTypes.user)).detail).to.equal(
      'emails.type must be one of "work", "home", "other", not "pager"',
    );
    expect(refusal(() => coerceResource({ schemas: [USER], userName: 'a', roles: [{ value: 'r', type: 'x' }] }, resourceTypes.user)).detail).to.equal('roles.type must be left out (no value is allowed), not "x"');
    expect(refusal(() => coerceResource({ schemas: [resourceTypes.token.schema.id], role: 'root' }, resourceTypes.token)).detail).to.match(/^role must be one of "operator"/);
  });

  it('when a canonical value comes in another case, then it takes the canonical spelling, unless the attribute is caseExact', () => {
    expect(coerceResource({ schemas: [USER], userName: 'a', emails: [{ value: 'a@x.example', type: 'Work' }] }, resourceTypes.user).emails).to.deep.equal([{ value: 'a@x.example', type: 'work' }]);
    expect(refusal(() => coerceResource({ schemas: [resourceTypes.token.schema.id], role: 'Operator' }, resourceTypes.token)).detail).to.match(/not "Operator"$/);
  });

  it('when an extension comes as its block or as namespaced keys, then both are read by its URN and schemas names it', () => {
    const out = coerceResource(
      { schemas: [USER], userName: 'a', [ENTERPRISE.toUpperCase()]: { EmployeeNumber: '7' }, [`${ENTERPRISE}:department`]: 'Sales', [`${ENTERPRISE}:manager.value`]: 'm-1' },
      resourceTypes.user,
    );
    expect(out).to.deep.equal({ schemas: [USER, ENTERPRISE], userName: 'a', [ENTERPRISE]: { employeeNumber: '7', department: 'Sales', manager: { value: 'm-1' } } });
    expect(refusal(() => coerceResource({ schemas: [USER], userName: 'a', [ENTERPRISE]: 'x' }, resourceTypes.user)).kind).to.equal('invalidValue');
  });

  it('when an extension URN we do not define is listed (Entra adds Microsoft\'s), then it and its block are dropped; a malformed one is refused', () => {
    const microsoft = 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User';
    const out = coerceResource({ schemas: [USER, microsoft], userName: 'a', [microsoft]: { x: 1 } }, resourceTypes.user);
    expect(out).to.deep.equal({ schemas: [USER], userName: 'a' });
    expect(refusal(() => coerceResource({ schemas: [USER, 'not a urn'], userName: 'a' }, resourceTypes.user)).detail).to.match(/no schema URN/);
    expect(refusal(() => coerceResource({ schemas: [ENTERPRISE], userName: 'a' }, resourceTypes.user)).detail).to.equal(`schemas must include ${USER}`);
  });

  it('when a password (writeOnly) is sent, then it is kept for the write path to take', () => {
    expect(coerceResource({ schemas: [USER], userName: 'a', password: 's3cret' }, resourceTypes.user).password).to.equal('s3cret');
  });

  it('when a Group or Account value is too long, then checkResourceLimits refuses it here', () => {
    expect(refusal(() => coerceResource({ schemas: [URN.group], displayName: 'x'.repeat(100_000) }, resourceTypes.group)).detail).to.match(/displayName is 100000 characters long/);
  });

  it('when the same value is a PATCH value, then an unknown sub-attribute is refused rather than dropped, and nulls are kept to clear', () => {
    const name = resourceTypes.user.schema.attributes.find((a) => a.name === 'name')!;
    expect(() => coerceAttribute(name, { nickname: 'x' }, 'name')).to.throw(DomainError, /not a sub-attribute/);
    expect(coerceAttribute(name, { givenName: null }, 'name')).to.deep.equal({ givenName: null });
  });
});
