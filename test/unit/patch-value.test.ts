import { expect } from 'chai';
import { jsonEqual } from '../../src/scim/patch/patch-value.js';
import type { JsonValue } from '../../src/scim/patch/patch-request.js';

/** The comparison jsonEqual replaced: the JSON text of both sides with their keys sorted. */
function canonicalText(value: JsonValue | undefined): string | undefined {
  const canonical = (v: JsonValue | undefined): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
    return v;
  };
  return JSON.stringify(canonical(value));
}

/** A small random JSON value from a seeded generator, with keys in random order and some undefined members. */
function randomValue(next: () => number, depth = 0): JsonValue {
  const pick = Math.floor(next() * (depth > 2 ? 4 : 6));
  if (pick === 0) return null;
  if (pick === 1) return next() < 0.5;
  if (pick === 2) return Math.floor(next() * 3);
  if (pick === 3) return ['a', 'b', 'A'][Math.floor(next() * 3)]!;
  if (pick === 4) return Array.from({ length: Math.floor(next() * 3) }, () => randomValue(next, depth + 1));
  const out: Record<string, JsonValue> = {};
  for (const key of ['x', 'y', 'z'].sort(() => next() - 0.5)) {
    const r = next();
    if (r < 0.3) continue;
    out[key] = r < 0.4 ? (undefined as unknown as JsonValue) : randomValue(next, depth + 1);
  }
  return out;
}

describe('jsonEqual', () => {
  it('when objects hold the same members in another order, then they are equal; a different member or length is not', () => {
    expect(jsonEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).to.equal(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).to.equal(false);
    expect(jsonEqual({ a: 1, b: 2 }, { a: 1 })).to.equal(false);
    expect(jsonEqual([1, 2], [2, 1])).to.equal(false);
    expect(jsonEqual({ a: undefined as unknown as JsonValue }, {})).to.equal(true);
    expect(jsonEqual({}, [])).to.equal(false);
    expect(jsonEqual(null, {})).to.equal(false);
  });

  it('when 5,000 random pairs are compared, then it answers as the comparison of their sorted-key JSON text did', () => {
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    let equal = 0;
    for (let i = 0; i < 5000; i++) {
      const a = randomValue(next);
      const b = next() < 0.5 ? (JSON.parse(JSON.stringify(a) ?? 'null') as JsonValue) : randomValue(next);
      const expected = canonicalText(a) === canonicalText(b);
      if (expected) equal++;
      expect(jsonEqual(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).to.equal(expected);
    }
    expect(equal).to.be.greaterThan(1000);
  });
});
