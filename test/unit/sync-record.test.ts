import { expect } from 'chai';
import {
  batchKeys, deletionLimit, diffOf, matchKeysOf, mergeRecord, presentKeys, readsBatchKeys, recordHash, recordMatchKeys, resolveManager, thresholdCheck,
} from '../../src/domain/sync-record.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SW = 'urn:switchboard:scim:schemas:extension:2.0:User';

describe('the pure parts of a sync run (domain/sync-record.ts)', () => {
  it('when a record states values, then presentKeys lists them, extension attributes qualified, empty ones left out', () => {
    expect(presentKeys({ userName: 'a', title: '', emails: [], [ENT]: { department: 'R&D', manager: null } })).to.deep.equal(['userName', `${ENT}:department`]);
  });

  it('when a record merges over a user, then its values win, extensions merge one level deep, and what it stopped stating goes (active stays)', () => {
    const current = { userName: 'a', title: 'Dev', nickName: 'local', active: false, [SW]: { accountAdmin: true, mobileNumber: '+1' } };
    const next = mergeRecord(current, { userName: 'a', [SW]: { extensions: ['1'] } }, ['title', `${SW}:mobileNumber`, 'active']);
    expect(next).to.deep.equal({ userName: 'a', nickName: 'local', active: false, [SW]: { accountAdmin: true, extensions: ['1'] } });
    expect(current.title).to.equal('Dev');
    // The result shares values with its inputs (no deep copy): neither input is changed.
    expect(current).to.deep.equal({ userName: 'a', title: 'Dev', nickName: 'local', active: false, [SW]: { accountAdmin: true, mobileNumber: '+1' } });
  });

  it('when a value equals the stored one in another key order, then the stored form is kept (no false change)', () => {
    const current = { userName: 'a', emails: [{ type: 'work', value: 'a@example.com' }] };
    const next = mergeRecord(current, { emails: [{ value: 'a@example.com', type: 'work' }] }, []);
    expect(JSON.stringify(next.emails)).to.equal(JSON.stringify(current.emails));
    expect(diffOf(current, next)).to.deep.equal({});
  });

  it('when two documents differ, then the diff names each attribute with old and new', () => {
    expect(diffOf({ title: 'a', [SW]: { extensions: ['1'] } }, { title: 'b', [SW]: {} })).to.deep.equal({ title: { old: 'a', new: 'b' }, [`${SW}:extensions`]: { old: ['1'], new: null } });
  });

  it('when the record or its raw form changes, then its hash changes', () => {
    expect(recordHash({ a: 1 }, { r: 1 })).to.equal(recordHash({ a: 1 }, { r: 1 }));
    expect(recordHash({ a: 1 }, { r: 1 })).not.to.equal(recordHash({ a: 1 }, { r: 2 }));
  });

  it('when a manager anchor is linked, then it becomes the user id; an unlinked one is left out', () => {
    const attrs = { userName: 'a', [ENT]: { manager: { value: 'anchor-m' }, department: 'x' } };
    expect(resolveManager(attrs, (a) => (a === 'anchor-m' ? 'user-m' : undefined))).to.deep.equal({ userName: 'a', [ENT]: { manager: { value: 'user-m' }, department: 'x' } });
    expect(resolveManager(attrs, () => undefined)).to.deep.equal({ userName: 'a', [ENT]: { department: 'x' } });
  });

  it('when keys match a record to users, then hard keys always count and soft keys only when the source allows; stored documents answer with the same keys', () => {
    const record = { anchor: 'x', attributes: { userName: 'Ann', emails: [{ value: 'Ann@Example.com' }] }, raw: {}, hardKeys: { externalId: 'e1' } };
    expect(recordMatchKeys(record, false)).to.deep.equal([{ kind: 'externalId', value: 'e1' }]);
    expect(recordMatchKeys(record, true).map((k) => `${k.kind}:${k.value}`)).to.deep.equal(['externalId:e1', 'email:ann@example.com', 'userName:ann']);
    expect(matchKeysOf({ externalId: 'e1', userName: 'Ann', emails: [{ value: 'Ann@Example.com' }], [ENT]: { employeeNumber: 7 } })).to.deep.equal([
      'externalId:e1', 'employeeNumber:7', 'userName:ann', 'email:ann@example.com',
    ]);
  });

  it('when the threshold is computed, then it is the smaller of the count and the percentage, and allowDeletes passes it', () => {
    expect(deletionLimit({ count: 500, percent: 10 }, 1000)).to.equal(100);
    expect(deletionLimit({ count: 50, percent: 10 }, 1000)).to.equal(50);
    expect(thresholdCheck({ count: 50, percent: 10 }, 1000, 50, false)).to.deep.equal({ stop: false });
    const stop = thresholdCheck({ count: 50, percent: 10 }, 1000, 51, false);
    expect(stop.stop && stop.message).to.match(/51 of 1000 linked users would be deactivated, more than the limit of 50/);
    expect(thresholdCheck({ count: 50, percent: 10 }, 1000, 51, true)).to.deep.equal({ stop: false });
  });

  it('when a batch writes users, then a later record that reads its anchors, a manager among them or a match key it gave or took reads its keys, and an unrelated one does not', () => {
    const keys = batchKeys(['m1', 'q1'], [
      { current: undefined, next: { userName: 'Boss@example.com', emails: [{ value: 'boss@example.com' }] } },
      { current: { doc: { userName: 'old@example.com', externalId: 'X9' } }, next: { userName: 'new@example.com', [ENT]: { employeeNumber: 'E7' } } },
    ]);
    const record = (anchor: string, attributes: Record<string, unknown>, hardKeys?: { externalId?: string; employeeNumber?: string }) => ({ anchor, attributes, raw: {}, ...(hardKeys ? { hardKeys } : {}) });
    expect(readsBatchKeys(record('q1', { userName: 'z@example.com' }), keys, false)).to.equal(true);
    expect(readsBatchKeys(record('e1', { userName: 'z@example.com', [ENT]: { manager: { value: 'm1' } } }), keys, false)).to.equal(true);
    expect(readsBatchKeys(record('e2', { userName: 'z@example.com' }, { externalId: 'X9' }), keys, false)).to.equal(true);
    expect(readsBatchKeys(record('e3', { userName: 'z@example.com' }, { employeeNumber: 'E7' }), keys, false)).to.equal(true);
    // Soft keys only when the source soft-matches: userName and emails, case-insensitively.
    expect(readsBatchKeys(record('e4', { userName: 'BOSS@example.com' }), keys, false)).to.equal(false);
    expect(readsBatchKeys(record('e4', { userName: 'BOSS@example.com' }), keys, true)).to.equal(true);
    expect(readsBatchKeys(record('e5', { userName: 'OLD@example.com' }), keys, true)).to.equal(true);
    expect(readsBatchKeys(record('e6', { userName: 'z@example.com', emails: [{ value: 'z@example.com' }], [ENT]: { manager: { value: 'm2' } } }, { externalId: 'X1' }), keys, true)).to.equal(false);
  });
});
