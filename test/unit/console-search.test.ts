import { expect } from 'chai';
import { searchFilterFor } from '../../src/console/ui/search-filter.js';
import { parseScimFilter } from '../../src/domain/scim-filter.js';

describe('console Search Users filter', () => {
  it('when one letter or nothing is typed, then no filter: the whole list stays', () => {
    expect(searchFilterFor('')).to.equal(undefined);
    expect(searchFilterFor(' m ')).to.equal(undefined);
  });

  it('when digits are typed, then extensions are searched from their start', () => {
    expect(searchFilterFor('200')).to.equal('extensions sw "200"');
  });

  it('when an email address is typed, then the emails and the userName are searched from their start', () => {
    expect(searchFilterFor('bob@ex')).to.equal('(emails.value sw "bob@ex" or userName sw "bob@ex")');
  });

  it('when a name is typed, then the display name anywhere and the userName from its start; quotes stay inside the literal', () => {
    expect(searchFilterFor('car')).to.equal('(displayName co "car" or userName sw "car")');
    const tricky = searchFilterFor('o"brien');
    expect(() => parseScimFilter(tricky!)).to.not.throw();
  });
});
