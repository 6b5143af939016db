import { expect } from 'chai';
import { keyDigest, RepeatedKeys } from './shared-keys.js';

/** The plain answer: every key in a Map with its lines. */
function byMap(rows: readonly string[]): Map<string, number[]> {
  const lines = new Map<string, number[]>();
  rows.forEach((key, i) => lines.set(key, [...(lines.get(key) ?? []), i + 2]));
  return new Map([...lines].filter(([, l]) => l.length > 1));
}

function byDigests(rows: readonly string[], digest?: (key: string) => number): { reread: boolean; shared: (key: string) => number[] | undefined } {
  const keys = new RepeatedKeys(digest);
  for (const key of rows) keys.note(key);
  const reread = keys.mayRepeat();
  if (reread) rows.forEach((key, i) => keys.recheck(key, i + 2));
  return { reread, shared: (key) => keys.shared(key) };
}

describe('connectors/sdk shared-keys', () => {
  it('when no key repeats, then no row needs reading again and no key is shared', () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => `login:user${i}`);
    const found = byDigests(rows);
    expect(found.reread).to.equal(false);
    expect(rows.filter((k) => found.shared(k))).to.deep.equal([]);
  });

  it('when keys repeat, then each shared key has the lines a Map of every key gives, in file order', () => {
    const rows = Array.from({ length: 5_000 }, (_, i) => `dn:${i % 4_990}`);
    const found = byDigests(rows);
    expect(found.reread).to.equal(true);
    const expected = byMap(rows);
    expect(expected.size).to.equal(10);
    for (const key of new Set(rows)) expect(found.shared(key), key).to.deep.equal(expected.get(key));
  });

  it('when two different keys share a digest, then neither is taken as shared (the recheck compares the keys)', () => {
    // A digest of a few values: almost every key collides with another one.
    const weak = (key: string) => key.length % 3;
    const rows = ['a', 'bb', 'ccc', 'dddd', 'a', 'eeeee', 'ffffff', 'bb', 'bb'];
    const found = byDigests(rows, weak);
    expect(found.reread).to.equal(true);
    const expected = byMap(rows);
    for (const key of new Set(rows)) expect(found.shared(key), key).to.deep.equal(expected.get(key));
    expect(found.shared('a')).to.deep.equal([2, 6]);
    expect(found.shared('bb')).to.deep.equal([3, 9, 10]);
    expect(found.shared('ccc')).to.equal(undefined);
  });

  it('when a key is digested, then the digest is a safe integer that differs for near keys', () => {
    const digests = new Set(Array.from({ length: 100_000 }, (_, i) => keyDigest(`login:user${i}`)));
    expect(digests.size).to.equal(100_000);
    for (const d of [...digests].slice(0, 100)) expect(Number.isSafeInteger(d) && d >= 0).to.equal(true);
  });
});
