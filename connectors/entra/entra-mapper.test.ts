import { expect } from 'chai';
import { ENTERPRISE_USER_URN, SWITCHBOARD_USER_URN, guidBytes } from '../sdk/index.js';
import { DEFAULT_ATTRIBUTE_MAP } from './config.js';
import { mapGraphGroup, mapGraphUser, mapRemovedUser, objectGuidOfImmutableId } from './entra-mapper.js';

const full = { attributeMap: DEFAULT_ATTRIBUTE_MAP };
const ann = {
  id: '5c442efb-5e66-484a-936a-91b6810bed14',
  userPrincipalName: 'ann@contoso.example',
  givenName: 'Ann',
  surname: 'Peeters',
  displayName: 'Ann Peeters',
  mail: 'Ann.Peeters@contoso.example',
  businessPhones: ['+32 2 555 12 34'],
  mobilePhone: '0470 12 34 56',
  usageLocation: 'BE',
  jobTitle: 'Engineer',
  department: 'R&D',
  employeeId: 'E042',
  accountEnabled: true,
  'manager@delta': [{ '@odata.type': '#microsoft.graph.user', id: 'boss-id' }],
};

describe('entra mapper', () => {
  it('when a user of a first round is mapped, then the default map gives SCIM with an E.164 mobile from its usageLocation', () => {
    const record = mapGraphUser(ann, full);
    expect(record.anchor).to.equal(ann.id);
    expect(record.attributes).to.deep.equal({
      userName: 'ann@contoso.example',
      name: { givenName: 'Ann', familyName: 'Peeters' },
      displayName: 'Ann Peeters',
      title: 'Engineer',
      active: true,
      emails: [{ value: 'Ann.Peeters@contoso.example', type: 'work', primary: true }],
      phoneNumbers: [{ value: '+32 2 555 12 34', type: 'work' }],
      [ENTERPRISE_USER_URN]: { employeeNumber: 'E042', department: 'R&D', manager: { value: 'boss-id' } },
      [SWITCHBOARD_USER_URN]: { mobileNumber: '+32470123456' },
    });
    expect(record.hardKeys).to.deep.equal({ externalId: ann.id, employeeNumber: 'E042' });
    expect(record.raw).to.deep.equal(ann);
  });

  it('when the user has no usageLocation, then defaultCountry places a national mobile; without either it is left out with a warning', () => {
    const noLocation = { ...ann, usageLocation: null, mobilePhone: '06 12 34 56 78' };
    expect(mapGraphUser(noLocation, { ...full, defaultCountry: 'FR' }).attributes[SWITCHBOARD_USER_URN]).to.deep.equal({ mobileNumber: '+33612345678' });
    const record = mapGraphUser(noLocation, full);
    expect(record.attributes[SWITCHBOARD_USER_URN]).to.equal(undefined);
    expect(record.warnings).to.deep.equal(['mobilePhone "06 12 34 56 78" is not a valid phone number (no usageLocation nor defaultCountry); mobileNumber left out']);
  });

  it('when accountEnabled is false, then active is false', () => {
    expect(mapGraphUser({ ...ann, accountEnabled: false }, full).attributes.active).to.equal(false);
  });

  it('when attributeMap overrides a target, then that property is read (a nested one too) and an unmapped one is not', () => {
    const map = { ...DEFAULT_ATTRIBUTE_MAP, userName: 'mail', title: null, extensions: 'onPremisesExtensionAttributes.extensionAttribute1' };
    const record = mapGraphUser({ ...ann, onPremisesExtensionAttributes: { extensionAttribute1: '4021' } }, { ...full, attributeMap: map });
    expect(record.attributes.userName).to.equal('Ann.Peeters@contoso.example');
    expect(record.attributes.title).to.equal(undefined);
    expect(record.attributes[SWITCHBOARD_USER_URN]).to.deep.equal({ mobileNumber: '+32470123456', extensions: ['4021'] });
  });

  it('when manager@delta holds only a removed entry or is absent, then the user has no manager', () => {
    const removed = mapGraphUser({ ...ann, 'manager@delta': [{ id: 'boss-id', '@removed': { reason: 'deleted' } }] }, full);
    expect(removed.attributes[ENTERPRISE_USER_URN]).to.deep.equal({ employeeNumber: 'E042', department: 'R&D' });
    const { 'manager@delta': _m, ...noManager } = ann;
    expect(mapGraphUser(noManager, full).attributes[ENTERPRISE_USER_URN]).to.not.have.property('manager');
  });

  it('when onPremisesImmutableId holds an objectGUID, then it is a hybrid hard key in the AD anchor form', () => {
    const guid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    const immutableId = guidBytes(guid).toString('base64');
    expect(objectGuidOfImmutableId(immutableId)).to.equal(guid);
    expect(mapGraphUser({ ...ann, onPremisesImmutableId: immutableId }, full).hardKeys.onPremisesObjectGuid).to.equal(guid);
    const odd = mapGraphUser({ ...ann, onPremisesImmutableId: 'ann@contoso' }, full);
    expect(odd.hardKeys.onPremisesObjectGuid).to.equal(undefined);
    expect(odd.warnings).to.deep.equal(['onPremisesImmutableId "ann@contoso" is not the base64 of an objectGUID; no hybrid match']);
  });

  it('when a user is removed, then reason changed is a soft delete and deleted a delete', () => {
    expect(mapRemovedUser({ id: 'a', '@removed': { reason: 'changed' } })).to.deep.equal({ type: 'delete', anchor: 'a', soft: true });
    expect(mapRemovedUser({ id: 'b', '@removed': { reason: 'deleted' } })).to.deep.equal({ type: 'delete', anchor: 'b' });
  });

  it('when a group entry lists members@delta, then users and nested groups are members and removed ones are listed apart', () => {
    const group = mapGraphGroup(
      {
        id: 'g1',
        displayName: 'Sales',
        'members@delta': [
          { '@odata.type': '#microsoft.graph.user', id: 'u1' },
          { '@odata.type': '#microsoft.graph.group', id: 'g2' },
          { '@odata.type': '#microsoft.graph.device', id: 'd1' },
          { '@odata.type': '#microsoft.graph.user', id: 'u2', '@removed': { reason: 'deleted' } },
        ],
      },
      true,
    );
    expect(group).to.deep.equal({
      type: 'group',
      anchor: 'g1',
      displayName: 'Sales',
      members: [{ anchor: 'u1', type: 'User' }, { anchor: 'g2', type: 'Group' }],
      removedMembers: ['u2'],
      partial: true,
      raw: { id: 'g1', displayName: 'Sales' },
    });
    expect(mapGraphGroup({ id: 'g3', '@removed': { reason: 'deleted' } }, true)).to.deep.equal({ type: 'group-delete', anchor: 'g3' });
  });
});
