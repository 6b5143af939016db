import { expect } from 'chai';
import { SWITCHBOARD_USER_URN, type SourceRecord } from '../sdk/index.js';
import { mapMicloudRow, splitContactName } from './index.js';

function record(outcome: ReturnType<typeof mapMicloudRow>): SourceRecord {
  if (outcome.type !== 'record') throw new Error(`expected a record, got ${JSON.stringify(outcome)}`);
  return outcome.record;
}

describe('connectors/micloud micloud-mapper', () => {
  it('when Contact Name holds a comma, then it is "Family, Given"; else it splits at the last space', () => {
    expect(splitContactName('Van der Berg, Anna Maria')).to.deep.equal({ givenName: 'Anna Maria', familyName: 'Van der Berg' });
    expect(splitContactName('Anna Maria Berg')).to.deep.equal({ givenName: 'Anna Maria', familyName: 'Berg' });
    expect(splitContactName('Cher')).to.deep.equal({ familyName: 'Cher' });
  });

  it('when a portal row has a phone number and an extension, then names, email, extension and the E.164 number are written, anchored by email', () => {
    const r = record(mapMicloudRow({ 'Contact Name': 'Smith, Jane', 'Phone Number': '(415) 555-0101', Extension: '2001', Email: 'Jane.Smith@Example.com', DM: 'X' }, 'US'));
    expect(r.anchor).to.equal('jane.smith@example.com');
    expect(r.attributes).to.deep.equal({
      userName: 'Jane.Smith@Example.com',
      name: { givenName: 'Jane', familyName: 'Smith' },
      displayName: 'Jane Smith',
      emails: [{ value: 'Jane.Smith@Example.com', type: 'work', primary: true }],
      phoneNumbers: [{ value: '+14155550101', type: 'work' }],
      [SWITCHBOARD_USER_URN]: { extensions: ['2001'] },
    });
  });

  it('when a template row has USERNAME and MOBILE PHONE, then the anchor is the username and mobileNumber is E.164', () => {
    const r = record(mapMicloudRow({ 'First Name': 'Li', 'Last Name': 'Wei', Email: 'li@example.com', Username: 'LWei', 'Mobile Phone': '+32 470 12 34 56', Extension: '3001' }));
    expect(r.anchor).to.equal('lwei');
    expect(r.attributes.userName).to.equal('LWei');
    expect(r.attributes[SWITCHBOARD_USER_URN]).to.deep.equal({ extensions: ['3001'], mobileNumber: '+32470123456' });
  });

  it('when a row has neither phone number nor extension, then it is a contact: skipped', () => {
    expect(mapMicloudRow({ 'Contact Name': 'Outside, Bob', Email: 'bob@partner.example' })).to.deep.equal({ type: 'skip', reason: 'a contact: no phone number and no extension' });
  });

  it('when a row is extension-only, then it is a user without phone numbers', () => {
    const r = record(mapMicloudRow({ 'Contact Name': 'Ann Lee', Extension: '2002', Email: 'ann@example.com' }));
    expect(r.attributes.phoneNumbers).to.equal(undefined);
    expect(r.attributes[SWITCHBOARD_USER_URN]).to.deep.equal({ extensions: ['2002'] });
  });

  it('when a number cannot be read, then it is left out with a warning naming it', () => {
    const r = record(mapMicloudRow({ 'Contact Name': 'Ann Lee', Extension: '2002', Email: 'ann@example.com', 'Mobile Phone': '555' }));
    expect(r.warnings).to.deep.equal(['Mobile Phone "555" is not a valid phone number (set defaultCountry for numbers without +country code); left out']);
  });

  it('when a user row has neither Username nor Email, then it is rejected', () => {
    expect(mapMicloudRow({ 'Contact Name': 'Ann Lee', Extension: '2002' })).to.deep.equal({ type: 'reject', error: 'neither Username nor Email is filled in' });
  });
});
