import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { csvLine, SWITCHBOARD_USER_URN } from '../sdk/index.js';
import { collect, finalState, recordsOf } from '../testing/connector-contract.js';
import { MICLOUD_TEMPLATE_HEADER, micloudPortalExport } from '../testing/pbx-fixtures.js';
import { micloudConnector, parseMicloudConfig } from './index.js';

describe('connectors/micloud (file:// exports)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchboard-micloud-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('when the portal export holds contacts and extension-only rows, then contacts are skipped and extension-only users are records', async () => {
    await writeFile(join(dir, 'portal.csv'), micloudPortalExport(9, 4));
    const items = await collect(micloudConnector.read(parseMicloudConfig({ location: `file://${dir}/portal.csv`, defaultCountry: 'US' }), { mode: 'full' }));
    const records = recordsOf(items);
    expect(records).to.have.length(9);
    expect(items.filter((i) => i.type === 'skipped')).to.have.length(4);
    expect(items.find((i) => i.type === 'skipped')).to.deep.equal({ type: 'skipped', ref: 'line 11', reason: 'a contact: no phone number and no extension' });
    const extensionOnly = records[0];
    expect(extensionOnly.attributes.phoneNumbers).to.equal(undefined);
    expect(extensionOnly.attributes[SWITCHBOARD_USER_URN]?.extensions).to.deep.equal(['2000']);
    expect(records[1].attributes.phoneNumbers).to.deep.equal([{ value: '+14155551001', type: 'work' }]);
    // "Given Family" splits at the last space, as the rule says.
    expect(records[1].attributes.name).to.deep.equal({ givenName: 'Łukasz Van', familyName: 'Nowak1' });
    expect(finalState(items).state).to.include({ rows: 9 });
  });

  it('when the import-template shape is read (upper-case headers), then USERNAME anchors and MOBILE PHONE is E.164', async () => {
    await writeFile(
      join(dir, 'template.csv'),
      csvLine(MICLOUD_TEMPLATE_HEADER) + csvLine(['Li', 'Wei', 'HQ', '0470 12 34 56', 'li@example.com', 'LWei', 'User', '3001', '']),
    );
    const records = recordsOf(await collect(micloudConnector.read(parseMicloudConfig({ location: `file://${dir}/template.csv`, defaultCountry: 'BE' }), { mode: 'full' })));
    expect(records.map((r) => [r.anchor, r.attributes.userName, r.attributes[SWITCHBOARD_USER_URN]])).to.deep.equal([
      ['lwei', 'LWei', { extensions: ['3001'], mobileNumber: '+32470123456' }],
    ]);
  });

  it('when neither Contact Name nor First Name + Last Name is in the header, then check names both choices', async () => {
    await writeFile(join(dir, 'noname.csv'), 'Email,Extension\na@b.c,1\n');
    const error = await micloudConnector.check(parseMicloudConfig({ location: `file://${dir}/noname.csv` })).then(() => null, (e: unknown) => e);
    expect((error as Error).message).to.match(/missing required column "Contact Name" or "First Name" \+ "Last Name"/);
  });
});
