import { expect } from 'chai';
import SCIMMY from 'scimmy';
import { DomainError } from '../../src/domain/errors.js';
import { applyPatch, parsePatchRequest, type JsonObject, type PatchOperation } from '../../src/scim/patch/index.js';
import { resourceTypes } from '../../src/scim/schemas.js';
import { URN } from '../../src/scim/urns.js';

const ENT = URN.enterpriseUser;
const SB = URN.switchboardUser;
const user = resourceTypes.user;

function baseUser(): JsonObject {
  return {
    schemas: [URN.user, ENT],
    userName: 'barbara@example.com',
    name: { givenName: 'Barbara', familyName: 'Jensen' },
    active: true,
    emails: [{ value: 'bjensen@home.example', type: 'home', primary: true }],
    [ENT]: { department: 'Sales', manager: { value: 'm-1' } },
  };
}

const msg = (...Operations: unknown[]) => ({ schemas: [URN.patchOp], Operations });
const patch = (resource: JsonObject, body: unknown, options = {}) => applyPatch(resource, parsePatchRequest(body), user, options);

function expectError(fn: () => unknown, kind: string, detail?: RegExp): DomainError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    const e = error as DomainError;
    expect(e.kind, e.detail).to.equal(kind);
    if (detail) expect(e.detail).to.match(detail);
    return e;
  }
  expect.fail(`expected a DomainError ${kind}`);
}

describe('SCIM PATCH: parsePatchRequest', () => {
  it('when the ops are capitalised (Entra "Add", "Replace", "Remove"), then they are read lower-case', () => {
    const ops = parsePatchRequest(msg({ op: 'Add', path: 'nickName', value: 'Babs' }, { op: 'Replace', path: 'title', value: 'x' }, { op: 'Remove', path: 'title' }));
    expect(ops.map((o) => o.op)).to.deep.equal(['add', 'replace', 'remove']);
  });

  it('when schemas lacks the PatchOp URN, then invalidSyntax names the URN', () => {
    expectError(() => parsePatchRequest({ schemas: [URN.user], Operations: [{ op: 'add', path: 'title', value: 'x' }] }), 'invalidSyntax', /PatchOp/);
  });

  it('when Operations is missing or empty, then invalidSyntax', () => {
    expectError(() => parsePatchRequest({ schemas: [URN.patchOp] }), 'invalidSyntax', /Operations/);
    expectError(() => parsePatchRequest(msg()), 'invalidSyntax', /non-empty/);
  });

  it('when an op is unknown, then invalidSyntax lists the allowed ops', () => {
    expectError(() => parsePatchRequest(msg({ op: 'move', path: 'title', value: 'x' })), 'invalidSyntax', /"add", "remove" or "replace"/);
  });

  it('when a remove has no path, then noTarget (RFC 7644 §3.5.2.2)', () => {
    expectError(() => parsePatchRequest(msg({ op: 'remove' })), 'noTarget', /path/);
  });

  it('when an add or replace has no value, then invalidSyntax', () => {
    expectError(() => parsePatchRequest(msg({ op: 'replace', path: 'title' })), 'invalidSyntax', /value/);
    expectError(() => parsePatchRequest(msg({ op: 'add', value: 'not an object' })), 'invalidSyntax', /object/);
  });

  it('when the body is not an object, then invalidSyntax', () => {
    expectError(() => parsePatchRequest('[]'), 'invalidSyntax');
  });
});

describe('SCIM PATCH: applyPatch on users', () => {
  it('when Entra replaces a single-valued attribute ("Update User [Single-valued properties]"), then it is set', () => {
    const { resource, changed, touched } = patch(baseUser(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'userName', value: '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com' }],
    });
    expect(resource.userName).to.equal('5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com');
    expect(changed).to.equal(true);
    expect(touched).to.deep.equal(['userName']);
  });

  it('when Entra replaces emails[type eq "work"].value and name.familyName ("Update User [Multi-valued properties]") on a user without a work email, then the work email is created', () => {
    const { resource, touched } = patch(baseUser(), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ],
    });
    expect(resource.emails).to.deep.equal([
      { value: 'bjensen@home.example', type: 'home', primary: true },
      { type: 'work', value: 'updatedEmail@microsoft.com' },
    ]);
    expect(resource.name).to.deep.equal({ givenName: 'Barbara', familyName: 'updatedFamilyName' });
    expect(touched).to.deep.equal(['emails.value', 'name.familyName']);
  });

  it('when the valuePath matches an element, then only its sub-attribute is replaced', () => {
    const start = baseUser();
    const { resource } = patch(start, msg({ op: 'replace', path: 'emails[type eq "home"].value', value: 'new@home.example' }));
    expect(resource.emails).to.deep.equal([{ value: 'new@home.example', type: 'home', primary: true }]);
  });

  it('when Entra adds phoneNumbers[type eq "mobile"].value and addresses[type eq "work"].streetAddress, then those elements are created', () => {
    const { resource } = patch(baseUser(), msg(
      { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+33 6 12 34 56 78' },
      { op: 'Add', path: 'addresses[type eq "work"].streetAddress', value: '1 rue de la Paix' },
      { op: 'Add', path: 'addresses[type eq "work"].locality', value: 'Paris' },
    ));
    expect(resource.phoneNumbers).to.deep.equal([{ type: 'mobile', value: '+33 6 12 34 56 78' }]);
    expect(resource.addresses).to.deep.equal([{ type: 'work', streetAddress: '1 rue de la Paix', locality: 'Paris' }]);
  });

  it('when a replace filter matching nothing is not an eq conjunction, then noTarget (RFC 7644 §3.5.2.3)', () => {
    expectError(() => patch(baseUser(), msg({ op: 'replace', path: 'emails[value co "nobody"].value', value: 'x@y' })), 'noTarget', /eq/);
  });

  it('when Entra disables a user ("Disable User"), then active is false', () => {
    const { resource } = patch(baseUser(), {
      Operations: [{ op: 'Replace', path: 'active', value: false }],
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    });
    expect(resource.active).to.equal(false);
  });

  it('when Entra sends booleans as "True"/"False" strings, then they are coerced by the attribute type', () => {
    const { resource } = patch(baseUser(), msg(
      { op: 'Replace', path: 'active', value: 'False' },
      { op: 'Add', path: 'emails[type eq "work"].primary', value: 'TRUE' },
      { op: 'Replace', path: `${SB}:voicemail`, value: 'true' },
    ));
    expect(resource.active).to.equal(false);
    expect(resource.emails).to.deep.equal([
      { value: 'bjensen@home.example', type: 'home', primary: false },
      { type: 'work', primary: true },
    ]);
    expect((resource[SB] as JsonObject).voicemail).to.equal(true);
  });

  it('when Okta deactivates with a no-path replace {"active": false}, then active is false', () => {
    const { resource, touched } = patch(baseUser(), { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(resource.active).to.equal(false);
    expect(touched).to.deep.equal(['active']);
  });

  it('when Entra replaces the manager with a bare id, then manager is {value: id}', () => {
    const { resource, touched } = patch(baseUser(), msg({ op: 'Replace', path: `${ENT}:manager`, value: 'm-2' }));
    expect((resource[ENT] as JsonObject).manager).to.deep.equal({ value: 'm-2' });
    expect(touched).to.deep.equal([`${ENT}:manager`]);
  });

  it('when Entra clears the manager with "" or null or a remove, then manager is gone', () => {
    for (const op of [{ op: 'Replace', path: `${ENT}:manager`, value: '' }, { op: 'Replace', path: `${ENT}:manager`, value: null }, { op: 'Remove', path: `${ENT}:manager` }]) {
      const { resource } = patch(baseUser(), msg(op));
      expect(resource[ENT], JSON.stringify(op)).to.deep.equal({ department: 'Sales' });
    }
  });

  it('when an extension loses its last attribute, then its object and its URN leave the resource', () => {
    const { resource } = patch(baseUser(), msg({ op: 'remove', path: `${ENT}:department` }, { op: 'remove', path: `${ENT}:manager` }));
    expect(resource).to.not.have.property(ENT);
    expect(resource.schemas).to.deep.equal([URN.user]);
  });

  it('when a path is URN-qualified with a sub-attribute, then it reaches inside the extension', () => {
    const { resource } = patch(baseUser(), msg({ op: 'replace', path: `${ENT}:manager.value`, value: 'm-3' }));
    expect((resource[ENT] as JsonObject).manager).to.deep.equal({ value: 'm-3' });
  });

  it('when a no-path value uses dotted, URN-qualified and URN-object keys, then each lands at its canonical place and schemas lists the extension', () => {
    const start: JsonObject = { schemas: [URN.user], userName: 'bjensen' };
    const { resource } = patch(start, msg({
      op: 'replace',
      value: {
        'name.givenName': 'X',
        [`${ENT}:department`]: 'Engineering',
        [SB]: { mobileNumber: '+33612345678' },
      },
    }));
    expect(resource).to.deep.equal({
      schemas: [URN.user, ENT, SB],
      userName: 'bjensen',
      name: { givenName: 'X' },
      [ENT]: { department: 'Engineering' },
      [SB]: { mobileNumber: '+33612345678' },
    });
  });

  it('when path and attribute names have another case, then they are stored with the canonical spelling', () => {
    const { resource, touched } = patch(baseUser(), msg(
      { op: 'add', path: 'NICKNAME', value: 'Babs' },
      { op: 'replace', path: 'Name.GivenName', value: 'Barb' },
      { op: 'replace', path: 'URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department', value: 'R&D' },
      { op: 'add', value: { Title: 'Boss' } },
    ));
    expect(resource.nickName).to.equal('Babs');
    expect((resource.name as JsonObject).givenName).to.equal('Barb');
    expect((resource[ENT] as JsonObject).department).to.equal('R&D');
    expect(resource.title).to.equal('Boss');
    expect(touched).to.deep.equal(['nickName', 'name.givenName', `${ENT}:department`, 'title']);
  });

  it('when a no-path add names a multi-valued attribute, then values are appended, skipping those already present', () => {
    const { resource } = patch(baseUser(), msg({
      op: 'add',
      value: { emails: [{ value: 'BJENSEN@home.example', type: 'home' }, { value: 'b@work.example', type: 'work' }], nickName: 'Babs' },
    }));
    expect(resource.emails).to.deep.equal([
      { value: 'BJENSEN@home.example', type: 'home', primary: true },
      { value: 'b@work.example', type: 'work' },
    ]);
    expect(resource.nickName).to.equal('Babs');
  });

  it('when a multi-valued attribute is replaced, then the whole array is replaced', () => {
    const { resource } = patch(baseUser(), msg({ op: 'replace', path: 'emails', value: [{ value: 'only@example.com', type: 'work' }] }));
    expect(resource.emails).to.deep.equal([{ value: 'only@example.com', type: 'work' }]);
  });

  it('when a replace targets a valuePath without a sub-attribute, then the matching elements get the given sub-attributes', () => {
    const { resource } = patch(baseUser(), msg({ op: 'replace', path: 'emails[type eq "home"]', value: { value: 'b@new.example', display: 'Home' } }));
    expect(resource.emails).to.deep.equal([{ value: 'b@new.example', type: 'home', primary: true, display: 'Home' }]);
  });

  it('when a remove has a valuePath, then only the matching elements go', () => {
    const start = baseUser();
    start.emails = [{ value: 'a@home', type: 'home' }, { value: 'b@work', type: 'work' }];
    const { resource } = patch(start, msg({ op: 'remove', path: 'emails[type eq "work"]' }));
    expect(resource.emails).to.deep.equal([{ value: 'a@home', type: 'home' }]);
  });

  it('when a remove valuePath matches nothing, then the patch succeeds without change', () => {
    const { resource, changed, touched } = patch(baseUser(), msg({ op: 'remove', path: 'emails[type eq "work"]' }));
    expect(changed).to.equal(false);
    expect(touched).to.deep.equal([]);
    expect(resource).to.deep.equal(baseUser());
  });

  it('when a whole attribute is removed, then it is gone', () => {
    const { resource } = patch(baseUser(), msg({ op: 'remove', path: 'emails' }, { op: 'remove', path: 'name' }));
    expect(resource).to.not.have.property('emails');
    expect(resource).to.not.have.property('name');
  });

  it('when a remove of a multi-valued attribute carries a value array, then only those values go', () => {
    const start = baseUser();
    start[SB] = { licenses: ['MiTeam Meetings', 'MiCollab', 'Voice'] };
    const { resource } = patch(start, msg({ op: 'Remove', path: `${SB}:licenses`, value: ['micollab'] }));
    expect((resource[SB] as JsonObject).licenses).to.deep.equal(['MiTeam Meetings', 'Voice']);
  });

  it('when a new primary is set, then the previous primary is cleared (RFC 7643 §2.4)', () => {
    const { resource } = patch(baseUser(), msg({ op: 'add', path: 'emails', value: [{ value: 'b@work.example', type: 'work', primary: true }] }));
    expect(resource.emails).to.deep.equal([
      { value: 'bjensen@home.example', type: 'home', primary: false },
      { value: 'b@work.example', type: 'work', primary: true },
    ]);
  });

  it('when a replaced array has two primaries, then invalidValue', () => {
    expectError(() => patch(baseUser(), msg({ op: 'replace', path: 'emails', value: [{ value: 'a@x', primary: true }, { value: 'b@x', primary: true }] })), 'invalidValue', /primary/);
  });

  it('when a value has the wrong type, then invalidValue names the attribute and the expected type', () => {
    expectError(() => patch(baseUser(), msg({ op: 'replace', path: 'active', value: 'yes' })), 'invalidValue', /"active" expects a boolean/);
    expectError(() => patch(baseUser(), msg({ op: 'replace', path: 'userName', value: 42 })), 'invalidValue', /"userName" expects a string/);
    expectError(() => patch(baseUser(), msg({ op: 'add', path: 'emails', value: [{ value: 'a@x', primary: 'maybe' }] })), 'invalidValue', /"emails.primary" expects a boolean/);
  });

  it('when a readOnly attribute is targeted, then mutability', () => {
    for (const path of ['id', 'meta', 'groups', `${SB}:registered`, `${SB}:source`, `${SB}:lockedAttributes`, `${SB}:modifiedBy`, `${SB}:connections`, `${SB}:contactCenter`, `${ENT}:manager.displayName`]) {
      expectError(() => patch(baseUser(), msg({ op: 'replace', path, value: 'x' })), 'mutability', /readOnly/);
    }
    expectError(() => patch(baseUser(), msg({ op: 'add', value: { groups: [{ value: 'g1' }] } })), 'mutability', /groups/);
  });

  it('when a no-path value repeats the resource own id, then it is ignored; another id is mutability', () => {
    const { changed } = patch(baseUser(), msg({ op: 'replace', value: { id: 'u-1', active: true } }), { id: 'u-1' });
    expect(changed).to.equal(false);
    expectError(() => patch(baseUser(), msg({ op: 'replace', value: { id: 'u-2' } }), { id: 'u-1' }), 'mutability', /id/);
  });

  it('when an immutable attribute is absent, then it may be added; once set, changing it is mutability', () => {
    const members = { ...resourceTypes.group.schema.attributes.find((a) => a.name === 'displayName')!, name: 'badge', mutability: 'immutable' as const, required: false };
    const withImmutable = { ...user, schema: { ...user.schema, attributes: [...user.schema.attributes, members] } };
    const added = applyPatch(baseUser(), parsePatchRequest(msg({ op: 'add', path: 'badge', value: 'B-1' })), withImmutable);
    expect(added.resource.badge).to.equal('B-1');
    const same = applyPatch(added.resource, parsePatchRequest(msg({ op: 'replace', path: 'badge', value: 'B-1' })), withImmutable);
    expect(same.changed).to.equal(false);
    expectError(() => applyPatch(added.resource, parsePatchRequest(msg({ op: 'replace', path: 'badge', value: 'B-2' })), withImmutable), 'mutability', /immutable/);
  });

  it('when an unknown attribute is named, then invalidPath', () => {
    expectError(() => patch(baseUser(), msg({ op: 'replace', path: 'shoeSize', value: '42' })), 'invalidPath', /shoeSize/);
    expectError(() => patch(baseUser(), msg({ op: 'replace', path: 'name.nickname', value: 'x' })), 'invalidPath', /name.nickname/);
    expectError(() => patch(baseUser(), msg({ op: 'add', value: { shoeSize: '42' } })), 'invalidPath', /shoeSize/);
    expectError(() => patch(baseUser(), msg({ op: 'add', path: 'emails', value: [{ value: 'a@x', colour: 'red' }] })), 'invalidPath', /colour/);
  });

  it('when the required userName is removed, then mutability (RFC 7644 §3.5.2.2)', () => {
    expectError(() => patch(baseUser(), msg({ op: 'remove', path: 'userName' })), 'mutability', /required/);
    expectError(() => patch(baseUser(), msg({ op: 'replace', path: 'userName', value: null })), 'mutability', /required/);
  });

  it('when a filter is put on a single-valued or simple attribute or names an unknown sub-attribute, then invalidPath or invalidFilter', () => {
    expectError(() => patch(baseUser(), msg({ op: 'remove', path: 'userName[value eq "x"]' })), 'invalidPath', /single-valued/);
    expectError(() => patch(baseUser(), msg({ op: 'remove', path: 'name[givenName eq "x"]' })), 'invalidPath', /single-valued/);
    expectError(() => patch(baseUser(), msg({ op: 'remove', path: `${SB}:licenses[type eq "x"]` })), 'invalidFilter', /type/);
    expectError(() => patch(baseUser(), msg({ op: 'remove', path: 'emails[colour eq "red"]' })), 'invalidFilter', /colour/);
    expectError(() => patch(baseUser(), msg({ op: 'remove', path: 'emails[type eq ]' })), 'invalidFilter');
    expectError(() => patch(baseUser(), msg({ op: 'replace', path: `${SB}:licenses[value eq "x"].sub`, value: 'y' })), 'invalidPath', /no sub-attributes/);
  });

  it('when the second operation fails, then the error names it and the original object is unchanged', () => {
    const start = baseUser();
    const snapshot = structuredClone(start);
    const error = expectError(() => patch(start, msg(
      { op: 'replace', path: 'name.givenName', value: 'Changed' },
      { op: 'replace', path: 'groups', value: [{ value: 'g1' }] },
    )), 'mutability');
    expect(error.detail).to.match(/Operations\[1\]/);
    expect(start).to.deep.equal(snapshot);
  });

  it('when nothing changes, then changed is false', () => {
    const { changed } = patch(baseUser(), msg({ op: 'replace', path: 'active', value: true }, { op: 'add', path: 'emails', value: [{ value: 'bjensen@home.example', type: 'home' }] }));
    expect(changed).to.equal(false);
  });
});

describe('SCIM PATCH: why not scimmy PatchOp (pinned)', () => {
  async function scimmyApply(ops: unknown[]): Promise<unknown> {
    const resource = new SCIMMY.Schemas.User({ id: 'u-1', userName: 'a', emails: [{ value: 'a@b', type: 'home', primary: true }] }, 'out');
    return new SCIMMY.Messages.PatchOp({ schemas: [URN.patchOp], Operations: ops as PatchOperation[] }).apply(resource);
  }

  it('when scimmy gets Entra\'s replace on a valuePath matching nothing, then it answers noTarget where Entra expects the element created', async () => {
    const error = await scimmyApply([{ op: 'replace', path: 'emails[type eq "work"].value', value: 'x@y' }]).then(() => undefined, (e: { scimType?: string }) => e);
    expect(error?.scimType).to.equal('noTarget');
  });

  it('when scimmy gets Entra\'s "False" string for active, then it rejects it with invalidValue', async () => {
    const error = await scimmyApply([{ op: 'replace', path: 'active', value: 'False' }]).then(() => undefined, (e: { scimType?: string }) => e);
    expect(error?.scimType).to.equal('invalidValue');
  });

  it('when scimmy adds a second primary email, then it keeps two primaries (RFC 7643 §2.4 says at most one)', async () => {
    const out = (await scimmyApply([{ op: 'add', path: 'emails', value: [{ value: 'c@d', primary: true }] }])) as { emails: { primary?: boolean }[] };
    expect(out.emails.filter((e) => e.primary === true)).to.have.length(2);
  });
});
