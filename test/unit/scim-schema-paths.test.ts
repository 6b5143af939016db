import { expect } from 'chai';
import { resolveAttributePath, UnknownAttributeError, type ResourceTypeDef } from '../../src/domain/scim-schema.js';
import { resourceTypes } from '../../src/domain/scim-schemas.js';

const paths = [
  'userName',
  'USERNAME',
  'name.familyName',
  'emails.value',
  'meta.lastModified',
  'id',
  'urn:ietf:params:scim:schemas:core:2.0:User:userName',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
];
const unknown = ['shoeSize', 'name.middle.extra', 'emails.nothing', 'urn:ietf:params:scim:schemas:core:2.0:User', ''];

function outcome(resourceType: ResourceTypeDef, path: string): unknown {
  try {
    return { ...resolveAttributePath(resourceType, path) };
  } catch (error) {
    expect(error).to.be.instanceOf(UnknownAttributeError);
    return { unknown: (error as UnknownAttributeError).path };
  }
}

describe('resolveAttributePath (answers kept per resource type)', () => {
  it('when a path is resolved again, then the answer is the one a resource type never asked before gives', () => {
    const user = resourceTypes.user;
    for (const path of [...paths, ...unknown]) {
      const first = outcome(user, path);
      // A copy of the resource type is another key: its answers are computed afresh.
      const fresh = outcome({ ...user }, path);
      expect(outcome(user, path), path).to.deep.equal(first);
      expect(first, path).to.deep.equal(fresh);
    }
    expect(outcome(user, 'USERNAME')).to.deep.include({ canonical: 'userName' });
    expect(outcome(user, 'shoeSize')).to.deep.equal({ unknown: 'shoeSize' });
  });

  it('when a caller tries to change a kept answer, then it cannot, and the next caller reads it unchanged', () => {
    const resolved = resolveAttributePath(resourceTypes.user, 'name.givenName');
    expect(Object.isFrozen(resolved)).to.equal(true);
    try {
      (resolved as { canonical: string }).canonical = 'changed';
    } catch (error) {
      expect(error).to.be.instanceOf(TypeError); // strict-mode callers get a TypeError; others change nothing
    }
    expect(resolveAttributePath(resourceTypes.user, 'name.givenName').canonical).to.equal('name.givenName');
  });
});
