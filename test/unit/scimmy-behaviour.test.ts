import { expect } from 'chai';
import SCIMMY from 'scimmy';

// What we replaced in scimmy, pinned so an upgrade that changes it is noticed.
describe('scimmy behaviour we work around', () => {
  it('when scimmy filters not (a or b), then it does not mean "neither" (why filters compile to SQL from our own AST)', () => {
    const items = [{ userName: 'a', title: 'x' }, { userName: 'b', title: 'y' }, { userName: 'c', title: 'z' }];
    const filter = new SCIMMY.Types.Filter('not (userName eq "a" or userName eq "b")');
    const kept = filter.match(items).map((i: { userName: string }) => i.userName);
    expect(kept).to.not.deep.equal(['c']);
  });
});
