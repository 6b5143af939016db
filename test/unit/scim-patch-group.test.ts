import { expect } from 'chai';
import { DomainError } from '../../src/domain/errors.js';
import { parsePatchRequest, planGroupPatch, type GroupPatchTarget } from '../../src/scim/patch/index.js';
import { URN } from '../../src/scim/urns.js';

const group = (): GroupPatchTarget => ({ id: 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b', displayName: 'Sales', externalId: 'ext-1', data: {} });
const msg = (...Operations: unknown[]) => ({ schemas: [URN.patchOp], Operations });
const plan = (body: unknown, target = group()) => planGroupPatch(parsePatchRequest(body), target);

function expectError(fn: () => unknown, kind: string, detail?: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    expect((error as DomainError).kind, (error as DomainError).detail).to.equal(kind);
    if (detail) expect((error as DomainError).detail).to.match(detail);
    return;
  }
  expect.fail(`expected a DomainError ${kind}`);
}

describe('SCIM PATCH: planGroupPatch', () => {
  it('when Entra adds members ("Update Group [Add Members]", "$ref": null), then they are planned as adds', () => {
    const result = plan({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: 'f648f8d5ea4e4cd38e9c' }] }],
    });
    expect(result.members).to.deep.equal({ add: [{ value: 'f648f8d5ea4e4cd38e9c' }], remove: [], removeAll: false });
    expect(result.attributesChanged).to.equal(false);
  });

  it('when Entra removes members with a value array ("Update Group [Remove Members]"), then only those are removed', () => {
    const result = plan({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: 'f648f8d5ea4e4cd38e9c' }] }],
    });
    expect(result.members).to.deep.equal({ add: [], remove: ['f648f8d5ea4e4cd38e9c'], removeAll: false });
  });

  it('when Okta removes members[value eq "id"], then that member is removed', () => {
    const result = plan(msg({ op: 'remove', path: 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]' }));
    expect(result.members.remove).to.deep.equal(['89bb1940-b905-4575-9e7f-6f887cfb368e']);
  });

  it('when a members filter joins value eq with or, then each id is removed; any other filter is invalidFilter', () => {
    expect(plan(msg({ op: 'remove', path: 'members[value eq "a" or value eq "b"]' })).members.remove).to.deep.equal(['a', 'b']);
    expectError(() => plan(msg({ op: 'remove', path: 'members[display co "Sales"]' })), 'invalidFilter', /value eq/);
  });

  it('when Okta removes then adds members in one PATCH, then both apply in order', () => {
    const result = plan(msg(
      { op: 'remove', path: 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]' },
      { op: 'add', path: 'members', value: [{ value: '23a35c27-23d3-4c03-b4c5-6443c09e7173', display: 'test.user@okta.local' }] },
    ));
    expect(result.members).to.deep.equal({
      add: [{ value: '23a35c27-23d3-4c03-b4c5-6443c09e7173' }],
      remove: ['89bb1940-b905-4575-9e7f-6f887cfb368e'],
      removeAll: false,
    });
  });

  it('when a member is removed then added again, then the later add wins', () => {
    const result = plan(msg({ op: 'remove', path: 'members[value eq "u1"]' }, { op: 'add', path: 'members', value: [{ value: 'u1' }] }));
    expect(result.members).to.deep.equal({ add: [{ value: 'u1' }], remove: [], removeAll: false });
  });

  it('when members is removed without a value, then all members are removed', () => {
    expect(plan(msg({ op: 'remove', path: 'members' })).members).to.deep.equal({ add: [], remove: [], removeAll: true });
  });

  it('when all members are removed then X is added, then the plan is replaceAll [X]', () => {
    const result = plan(msg({ op: 'remove', path: 'members' }, { op: 'add', path: 'members', value: [{ value: 'x', type: 'user' }] }));
    expect(result.members).to.deep.equal({ replaceAll: [{ value: 'x', type: 'User' }], add: [], remove: [], removeAll: false });
  });

  it('when members are replaced with a list or with [], then replaceAll or removeAll', () => {
    expect(plan(msg({ op: 'replace', path: 'members', value: [{ value: 'a' }, { value: 'b', type: 'Group' }] })).members)
      .to.deep.equal({ replaceAll: [{ value: 'a' }, { value: 'b', type: 'Group' }], add: [], remove: [], removeAll: false });
    expect(plan(msg({ op: 'replace', path: 'members', value: [] })).members).to.deep.equal({ add: [], remove: [], removeAll: true });
  });

  it('when a replace is followed by add and remove, then they fold into replaceAll', () => {
    const result = plan(msg(
      { op: 'replace', path: 'members', value: [{ value: 'a' }, { value: 'b' }] },
      { op: 'remove', path: 'members[value eq "a"]' },
      { op: 'add', path: 'members', value: [{ value: 'c' }] },
    ));
    expect(result.members.replaceAll).to.deep.equal([{ value: 'b' }, { value: 'c' }]);
  });

  it('when a no-path value carries members, then add adds them and replace replaces them', () => {
    expect(plan(msg({ op: 'add', value: { members: [{ value: 'a' }] } })).members.add).to.deep.equal([{ value: 'a' }]);
    const replaced = plan(msg({ op: 'replace', value: { displayName: 'New', members: [{ value: 'b' }] } }));
    expect(replaced.members.replaceAll).to.deep.equal([{ value: 'b' }]);
    expect(replaced.attributes.displayName).to.equal('New');
  });

  it('when Okta renames with {"id": own id, "displayName": ...}, then the id is ignored and displayName changes', () => {
    const result = plan({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { id: 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b', displayName: 'Test SCIMv2' } }],
    });
    expect(result.attributes).to.deep.equal({ displayName: 'Test SCIMv2', externalId: 'ext-1' });
    expect(result.attributesChanged).to.equal(true);
    expect(result.touched).to.deep.equal(['displayName']);
    expect(result.members).to.deep.equal({ add: [], remove: [], removeAll: false });
  });

  it('when a no-path value carries another id, then mutability', () => {
    expectError(() => plan(msg({ op: 'replace', value: { id: 'someone-else', displayName: 'X' } })), 'mutability', /id/);
  });

  it('when Entra replaces displayName and externalId by path, then the attributes change', () => {
    const result = plan(msg({ op: 'Replace', path: 'displayName', value: 'Renamed' }, { op: 'Replace', path: 'externalId', value: 'ext-2' }));
    expect(result.attributes).to.deep.equal({ displayName: 'Renamed', externalId: 'ext-2' });
  });

  it('when displayName is removed, then mutability (required; RFC 7644 §3.5.2.2)', () => {
    expectError(() => plan(msg({ op: 'remove', path: 'displayName' })), 'mutability', /required/);
  });

  it('when a member has no value or a bad type, then invalidValue', () => {
    expectError(() => plan(msg({ op: 'add', path: 'members', value: [{ display: 'nobody' }] })), 'invalidValue', /value/);
    expectError(() => plan(msg({ op: 'add', path: 'members', value: [{ value: 'a', type: 'Robot' }] })), 'invalidValue', /User.*Group/);
  });

  it("when a member's sub-attribute is targeted, then mutability", () => {
    expectError(() => plan(msg({ op: 'replace', path: 'members[value eq "a"].display', value: 'x' })), 'mutability', /immutable/);
  });

  it('when a later operation fails, then nothing is planned and the group is unchanged', () => {
    const target = group();
    const snapshot = structuredClone(target);
    expectError(() => plan(msg({ op: 'replace', path: 'displayName', value: 'X' }, { op: 'add', path: 'members', value: [{ value: 42 }] }), target), 'invalidValue', /Operations\[1\]/);
    expect(target).to.deep.equal(snapshot);
  });
});
