import { readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { putExport, startSshd, type Sshd } from '../../test/support/sshd.js';
import { ConnectorError, type JsonValue, type SourceItem, type SourceRejected } from '../sdk/index.js';
import { collect, finalState, recordsOf } from '../testing/connector-contract.js';
import { mivbExport, MIVB_HEADER, mivbRow } from '../testing/pbx-fixtures.js';
import { mivbConnector, parseMivbConfig, type MivbConfig } from './index.js';

const rejected = (items: SourceItem[]) => items.filter((i): i is SourceRejected => i.type === 'rejected');

describe('connectors/mivb over SFTP (OpenSSH sshd)', function () {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => sshd?.stop());

  const config = (file: string, extra: Record<string, unknown> = {}): MivbConfig =>
    parseMivbConfig({ location: sshd.url(`${sshd.dir}/${file}`), privateKeyPem: sshd.privateKeyPem, hostKeySha256: sshd.hostKeySha256, clusterId: 'c1', ...extra });
  const settle = (file: string) => utimes(join(sshd.dir, file), new Date(), new Date(Date.now() - 60_000));

  it('when a 10,000-row export with UTF-8 names is read, then every row is a record with its names intact and the checkpoint counts them', async () => {
    await putExport(sshd, 'big.csv', mivbExport(10_000, { bom: true }));
    const items = await collect(mivbConnector.read(config('big.csv'), { mode: 'full' }));
    const records = recordsOf(items);
    expect(records).to.have.length(10_000);
    expect(rejected(items)).to.deep.equal([]);
    expect(records[1].attributes.name).to.deep.equal({ givenName: 'Łukasz', familyName: 'Nowak1' });
    expect(records[9_999].attributes.name).to.deep.equal({ givenName: mivbRow(9_999)[0], familyName: mivbRow(9_999)[1] });
    const last = finalState(items);
    expect(last.complete).to.equal(true);
    expect(last.state).to.include({ rows: 10_000 });
  });

  it('when the export is unchanged (same version, or rewritten with the same content), then the read is one idle checkpoint', async () => {
    await putExport(sshd, 'same.csv', mivbExport(50));
    await settle('same.csv');
    const first = finalState(await collect(mivbConnector.read(config('same.csv'), { mode: 'full' })));
    const unchanged = await collect(mivbConnector.read(config('same.csv'), { mode: 'incremental', state: first.state }));
    expect(unchanged).to.have.length(1);
    expect(unchanged[0]).to.include({ type: 'state', idle: true });
    await putExport(sshd, 'same.csv', mivbExport(50));
    const rewritten = await collect(mivbConnector.read(config('same.csv'), { mode: 'incremental', state: first.state }));
    expect(rewritten).to.have.length(1);
    expect(rewritten[0]).to.include({ type: 'state', idle: true });
    expect((rewritten[0] as { state: Record<string, JsonValue> }).state.hash).to.equal((first.state as Record<string, JsonValue>).hash);
  });

  it('when the export changed, then an incremental read reads it all and ends complete', async () => {
    await putExport(sshd, 'changing.csv', mivbExport(30));
    const first = finalState(await collect(mivbConnector.read(config('changing.csv'), { mode: 'full' })));
    await putExport(sshd, 'changing.csv', mivbExport(30, { changed: { indexes: new Set([3]), version: 2 } }));
    const items = await collect(mivbConnector.read(config('changing.csv'), { mode: 'incremental', state: first.state }));
    expect(recordsOf(items)).to.have.length(30);
    expect(finalState(items).complete).to.equal(true);
  });

  it('when two rows share a directory number in the cluster, then both are quarantined as a conflict naming the lines, never merged', async () => {
    const dup = mivbRow(900);
    dup[4] = mivbRow(1)[4];
    await putExport(sshd, 'conflict.csv', mivbExport(5, { extraLines: [dup.join(',')] }));
    const items = await collect(mivbConnector.read(config('conflict.csv'), { mode: 'full' }));
    expect(recordsOf(items).map((r) => r.anchor)).to.deep.equal(['login:user0', 'login:user2', 'login:user3', 'login:user4']);
    expect(rejected(items).map(({ ref, anchor, error }) => ({ ref, anchor, error }))).to.deep.equal([
      { ref: 'line 3', anchor: 'login:user1', error: 'Directory Number 100001 (cluster c1) is on lines 3, 7: a conflict, every row quarantined (never merged)' },
      { ref: 'line 7', anchor: 'login:user900', error: 'Directory Number 100001 (cluster c1) is on lines 3, 7: a conflict, every row quarantined (never merged)' },
    ]);
  });

  it('when two rows share a Login ID (in any case) with different directory numbers, then both are quarantined naming the anchor and its lines', async () => {
    const dup = mivbRow(900);
    dup[2] = 'USER2';
    await putExport(sshd, 'anchors.csv', mivbExport(5, { extraLines: [dup.join(',')] }));
    const items = await collect(mivbConnector.read(config('anchors.csv'), { mode: 'full' }));
    expect(recordsOf(items).map((r) => r.anchor)).to.deep.equal(['login:user0', 'login:user1', 'login:user3', 'login:user4']);
    expect(rejected(items).map(({ ref, anchor, error }) => ({ ref, anchor, error }))).to.deep.equal([
      { ref: 'line 4', anchor: 'login:user2', error: 'the anchor login:user2 is on lines 4, 7: a conflict, every row quarantined (never merged)' },
      { ref: 'line 7', anchor: 'login:user2', error: 'the anchor login:user2 is on lines 4, 7: a conflict, every row quarantined (never merged)' },
    ]);
    expect((finalState(items).state as { rows: number }).rows).to.equal(4);
  });

  it('when a row is malformed, then it is rejected with its line number and the other rows are read', async () => {
    await putExport(sshd, 'malformed.csv', mivbExport(3, { extraLines: ['Only,three,fields', mivbRow(3).join(',')] }));
    const items = await collect(mivbConnector.read(config('malformed.csv'), { mode: 'full' }));
    expect(recordsOf(items)).to.have.length(4);
    expect(rejected(items)).to.deep.equal([{ type: 'rejected', ref: 'line 5', error: '3 fields where the header has 10' }]);
  });

  it('when a required column is missing, then check and read fail naming it, and the read yields nothing', async () => {
    const header = MIVB_HEADER.filter((h) => h !== 'Directory Number');
    await putExport(sshd, 'nodn.csv', `${header.join(',')}\n${header.map(() => 'x').join(',')}\n`);
    const checkError = await mivbConnector.check(config('nodn.csv')).then(() => null, (e: unknown) => e);
    expect(checkError).to.be.instanceOf(ConnectorError);
    expect((checkError as Error).message).to.match(/nodn\.csv: missing required column "Directory Number"/);
    const yielded: SourceItem[] = [];
    const readError = await (async () => {
      for await (const item of mivbConnector.read(config('nodn.csv'), { mode: 'full' })) yielded.push(item);
    })().then(() => null, (e: unknown) => e);
    expect((readError as Error).message).to.match(/missing required column "Directory Number"/);
    expect(yielded).to.deep.equal([]);
  });

  it('when the export is Latin-1 with semicolons and a renamed column, then encoding, delimiter and columnMap read it', async () => {
    const text = mivbExport(20, { delimiter: ';', latin1Names: true }).replace('Directory Number', 'Extension');
    await putExport(sshd, 'latin1.csv', Buffer.from(text, 'latin1'));
    const items = await collect(mivbConnector.read(config('latin1.csv', { encoding: 'latin1', columnMap: { 'Directory Number': 'Extension' } }), { mode: 'full' }));
    const records = recordsOf(items);
    expect(records).to.have.length(20);
    expect(records[0].attributes.name).to.deep.equal({ givenName: 'Zoë', familyName: 'Müller0' });
    expect(records[2].attributes.name).to.deep.equal({ givenName: 'Søren', familyName: 'Ørsted2' });
  });

  it('when a username is delivered twice to the writeBack directory, then one MiCollab provisioning file is put and the second delivery finds it', async () => {
    const withWriteBack = config('big.csv', {
      writeBack: { location: sshd.url(sshd.dir), password: sshd.password, hostKeySha256: sshd.hostKeySha256, role: 'UCC Premium' },
    });
    const message = { type: 'username' as const, userId: 'user-42', username: 'jdoe', givenName: 'Jane', familyName: 'Doe', email: 'jane@example.com' };
    const first = await mivbConnector.deliver!(withWriteBack, message);
    expect(first).to.deep.equal({ target: `${sshd.url(sshd.dir)}/switchboard-username-user-42.csv`, outcome: 'written' });
    const second = await mivbConnector.deliver!(withWriteBack, { ...message, username: 'other' });
    expect(second.outcome).to.equal('exists');
    expect(await readFile(join(sshd.dir, 'switchboard-username-user-42.csv'), 'utf8')).to.equal(
      'First Name,Last Name,Login ID,Email Address,Role\r\nJane,Doe,jdoe,jane@example.com,UCC Premium\r\n',
    );
  });
});
