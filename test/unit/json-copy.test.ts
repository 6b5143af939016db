import { expect } from 'chai';
import { jsonCopy } from '../../src/lib/json-copy.js';

/** The copy the write path makes of documents (cleanDocument, resolveWrite), held to the JSON round trip it replaces. */
describe('jsonCopy', () => {
  const viaJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

  it('when given documents with nested objects, arrays, nulls, undefined, functions, non-finite numbers, dates and boxed values, then it copies them as the JSON round trip does', () => {
    const samples: unknown[] = [
      { userName: 'ann', name: { givenName: 'Ann', familyName: undefined }, emails: [{ value: 'a@x', primary: true }, undefined, () => 1], n: 0, neg: -1.5, nan: Number.NaN, inf: Infinity },
      { when: new Date(Date.UTC(2026, 0, 2)), boxed: [new String('s'), new Number(3), new Boolean(false)], nested: [[1, [2, [null]]]], f: () => 1, s: Symbol('x') },
      [undefined, null, 'x', { a: undefined }],
      { toJSON: () => ({ replaced: true }) },
      'text', 12, true, null,
    ];
    for (const sample of samples) expect(jsonCopy(sample)).to.deep.equal(viaJson(sample));
  });

  it('when given a Proxy-wrapped array (as scimmy hands back), then it copies its items', () => {
    const proxied = new Proxy([{ value: 'a@x' }, { value: 'b@x' }], {});
    const doc = { emails: proxied };
    expect(jsonCopy(doc)).to.deep.equal({ emails: [{ value: 'a@x' }, { value: 'b@x' }] });
    expect(jsonCopy(doc)).to.deep.equal(viaJson(doc));
  });

  it('when the copy is changed, then the original is not', () => {
    const doc = { name: { givenName: 'Ann' }, emails: [{ value: 'a@x' }] };
    const out = jsonCopy(doc);
    out.name.givenName = 'Bob';
    out.emails[0]!.value = 'b@x';
    expect(doc).to.deep.equal({ name: { givenName: 'Ann' }, emails: [{ value: 'a@x' }] });
  });
});
