import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { DnIndex } from './dn-index.js';

describe('DnIndex (DN → anchor of the entries a read has seen)', () => {
  it('when 5,000 entries are remembered, then each DN gives back its anchor through the table growing, and an unseen DN gives nothing', () => {
    const index = new DnIndex();
    const plain = new Map<string, string>();
    for (let i = 0; i < 5000; i++) {
      // entryUUIDs are packed; other anchors (an upper-case GUID, a uid) are kept as they are.
      const anchor = i % 3 === 0 ? randomUUID() : i % 3 === 1 ? randomUUID().toUpperCase() : `user${i}`;
      const dn = `uid=user${i},ou=people,dc=example,dc=com`;
      index.set(dn, anchor);
      plain.set(dn, anchor);
    }
    for (const [dn, anchor] of plain) expect(index.get(dn)).to.equal(anchor);
    expect(index.get('uid=nobody,ou=people,dc=example,dc=com')).to.equal(undefined);
  });

  it('when one DN is given two different anchors, then it resolves to neither', () => {
    const index = new DnIndex();
    index.set('uid=a,dc=example,dc=com', randomUUID());
    index.set('uid=a,dc=example,dc=com', randomUUID());
    index.set('uid=b,dc=example,dc=com', 'b-anchor');
    index.set('uid=b,dc=example,dc=com', 'b-anchor');
    expect(index.get('uid=a,dc=example,dc=com')).to.equal(undefined);
    expect(index.get('uid=b,dc=example,dc=com')).to.equal('b-anchor');
  });
});
