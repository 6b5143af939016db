import { expect } from 'chai';
import { ENTERPRISE_USER_URN, SWITCHBOARD_USER_URN, readCsv, type SourceRecord } from '../sdk/index.js';
import { Readable } from 'node:stream';
import { mapMivbRow, mivbAnchor, provisioningFile, PROVISIONING_COLUMNS } from './index.js';

const row = {
  'First Name': 'Zoë', 'Last Name': 'Müller', 'Login ID': 'ZMuller', 'Email Address': 'zoe@example.com', 'Directory Number': '4001',
  'Device Type': '6930', 'Voice Mailbox': 'Yes', Element: 'MIVB1', Role: 'UCC Premium', Department: 'Sales',
};

function record(outcome: ReturnType<typeof mapMivbRow>): SourceRecord {
  if (outcome.type !== 'record') throw new Error(`expected a record, got ${JSON.stringify(outcome)}`);
  return outcome.record;
}

describe('connectors/mivb mivb-mapper', () => {
  it('when a full row is mapped, then names, email, userName, extension, MiVB service, voicemail and department are written', () => {
    const r = record(mapMivbRow(row));
    expect(r.anchor).to.equal('login:zmuller');
    expect(r.attributes).to.deep.equal({
      userName: 'zoe@example.com',
      name: { givenName: 'Zoë', familyName: 'Müller' },
      displayName: 'Zoë Müller',
      emails: [{ value: 'zoe@example.com', type: 'work', primary: true }],
      [SWITCHBOARD_USER_URN]: { extensions: ['4001'], mivbService: true, voicemail: true },
      [ENTERPRISE_USER_URN]: { department: 'Sales' },
    });
    expect(r.raw).to.deep.equal(row);
  });

  it('when there is no email, then userName is the Login ID; without a Login ID the anchor is Element + Directory Number', () => {
    const noEmail = record(mapMivbRow({ ...row, 'Email Address': undefined }));
    expect(noEmail.attributes.userName).to.equal('ZMuller');
    expect(noEmail.attributes.emails).to.equal(undefined);
    const noLogin = { ...row, 'Login ID': undefined };
    expect(mivbAnchor(noLogin)).to.equal('dn:MIVB1:4001');
    expect(record(mapMivbRow(noLogin)).anchor).to.equal('dn:MIVB1:4001');
  });

  it('when the username would come from the PBX, then the mapper writes none (the seed applies it from Switchboard only)', () => {
    expect(JSON.stringify(record(mapMivbRow(row)).attributes)).to.not.include('"username"');
  });

  it('when Last Name or Directory Number is empty or the number is not one, then the row is rejected saying which', () => {
    expect(mapMivbRow({ ...row, 'Last Name': undefined })).to.deep.equal({ type: 'reject', anchor: 'login:zmuller', error: 'Last Name is empty' });
    expect(mapMivbRow({ ...row, 'Directory Number': undefined })).to.deep.include({ type: 'reject', error: 'Directory Number is empty' });
    expect(mapMivbRow({ ...row, 'Directory Number': '40-01' })).to.deep.include({ type: 'reject', error: 'Directory Number "40-01" is not a directory number (digits, at most 10)' });
  });

  it('when Voice Mailbox is No or unreadable, then voicemail is false or left out with a warning', () => {
    expect(record(mapMivbRow({ ...row, 'Voice Mailbox': 'No' })).attributes[SWITCHBOARD_USER_URN]?.voicemail).to.equal(false);
    const odd = record(mapMivbRow({ ...row, 'Voice Mailbox': 'maybe' }));
    expect(odd.attributes[SWITCHBOARD_USER_URN]).to.not.have.property('voicemail');
    expect(odd.warnings).to.deep.equal(['Voice Mailbox "maybe" is not Yes or No; left out']);
  });

  it('when the provisioning file is built, then it is the MiCollab bulk-provisioning CSV named after the user, read back by our own parser', async () => {
    const file = provisioningFile({ type: 'username', userId: 'u-1', username: 'zmuller', givenName: 'Zoë', familyName: 'Müller, Jr', email: 'zoe@example.com' }, 'UCC Premium');
    expect(file.name).to.equal('switchboard-username-u-1.csv');
    const rows = [];
    for await (const item of readCsv(Readable.from([file.content]), 'utf8', { known: PROVISIONING_COLUMNS, required: PROVISIONING_COLUMNS }, file.name)) rows.push(item);
    expect(rows).to.deep.equal([{ type: 'row', line: 2, values: { 'First Name': 'Zoë', 'Last Name': 'Müller, Jr', 'Login ID': 'zmuller', 'Email Address': 'zoe@example.com', Role: 'UCC Premium' } }]);
  });
});
