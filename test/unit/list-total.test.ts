import { expect } from 'chai';
import { totalProvenByPage } from '../../src/scim/list-total.js';

describe('totalProvenByPage (the totalResults a page proves without a count)', () => {
  it('when an index page from the start is shorter than asked, then the total is its length', () => {
    expect(totalProvenByPage({ startIndex: 1, count: 100 }, 1, undefined)).to.equal(1);
    expect(totalProvenByPage({ startIndex: 1, count: 100 }, 0, undefined)).to.equal(0);
  });

  it('when a later index page is shorter than asked but not empty, then the total is the rows before it plus its own', () => {
    expect(totalProvenByPage({ startIndex: 11, count: 10 }, 3, undefined)).to.equal(13);
  });

  it('when a page is full, empty past the start, a request for no rows, or after a cursor position, then nothing is proven', () => {
    expect(totalProvenByPage({ startIndex: 1, count: 10 }, 10, undefined)).to.equal(undefined);
    expect(totalProvenByPage({ startIndex: 50, count: 10 }, 0, undefined)).to.equal(undefined);
    expect(totalProvenByPage({ startIndex: 1, count: 0 }, 0, undefined)).to.equal(undefined);
    expect(totalProvenByPage({ startIndex: 1, count: 10, cursor: 'abc' }, 3, undefined)).to.equal(undefined);
  });

  it('when the first cursor page has no next cursor, then the total is its length; with one, nothing is proven', () => {
    expect(totalProvenByPage({ startIndex: 1, count: 10, cursor: '' }, 4, undefined)).to.equal(4);
    expect(totalProvenByPage({ startIndex: 1, count: 10, cursor: '' }, 10, 'next')).to.equal(undefined);
  });
});
