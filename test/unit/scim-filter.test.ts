import { expect } from 'chai';
import { parseScimFilter, MAX_FILTER_LENGTH, MAX_OR_TERMS, type FilterNode } from '../../src/domain/scim-filter.js';
import { DomainError } from '../../src/domain/errors.js';

function invalidFilter(text: string): DomainError {
  try {
    parseScimFilter(text);
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    expect((error as DomainError).kind).to.equal('invalidFilter');
    expect((error as DomainError).status).to.equal(400);
    return error as DomainError;
  }
  throw new Error(`expected ${text} to be refused`);
}

const eq = (attrPath: string, value: string | number | boolean | null): FilterNode => ({ op: 'eq', attrPath, value });

describe('parseScimFilter', () => {
  it('when each comparison operator is used, then it is parsed with its value', () => {
    for (const op of ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const) {
      expect(parseScimFilter(`userName ${op} "bjensen"`)).to.deep.equal({ op, attrPath: 'userName', value: 'bjensen' });
    }
    expect(parseScimFilter('title pr')).to.deep.equal({ op: 'pr', attrPath: 'title' });
  });

  it('when Entra matches on emails[type eq "work"].value, then the sub-attribute condition joins the value filter on the same element', () => {
    expect(parseScimFilter('emails[type eq "work"].value eq "a@b.example"')).to.deep.equal({
      op: '[]',
      attrPath: 'emails',
      filter: { op: 'and', filters: [eq('type', 'work'), eq('value', 'a@b.example')] },
    });
    expect(parseScimFilter('emails[type eq "work" or primary eq true].value pr and userName eq "x"')).to.deep.equal({
      op: 'and',
      filters: [
        { op: '[]', attrPath: 'emails', filter: { op: 'and', filters: [{ op: 'or', filters: [eq('type', 'work'), eq('primary', true)] }, { op: 'pr', attrPath: 'value' }] } },
        eq('userName', 'x'),
      ],
    });
    expect(parseScimFilter('userName eq "a]. b"')).to.deep.equal(eq('userName', 'a]. b'));
  });

  it('when operators are written in any case, then they are lower-cased', () => {
    expect(parseScimFilter('userName Eq "a" AND title PR oR not (active EQ true)')).to.deep.equal({
      op: 'or',
      filters: [
        { op: 'and', filters: [eq('userName', 'a'), { op: 'pr', attrPath: 'title' }] },
        { op: 'not', filter: eq('active', true) },
      ],
    });
  });

  it('when attribute names are in any case or URN-qualified, then they are kept as written for resolution', () => {
    expect(parseScimFilter('USERNAME eq "a"')).to.deep.equal(eq('USERNAME', 'a'));
    expect(parseScimFilter('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"')).to.deep.equal(
      eq('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', 'Sales'),
    );
    expect(parseScimFilter('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"')).to.deep.equal(
      eq('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value', 'm'),
    );
    expect(parseScimFilter('meta.lastModified gt "2011-05-13T04:42:34Z"')).to.deep.equal({
      op: 'gt', attrPath: 'meta.lastModified', value: '2011-05-13T04:42:34Z',
    });
  });

  it('when and and or are mixed, then and binds tighter', () => {
    expect(parseScimFilter('a eq 1 or b eq 2 and c eq 3')).to.deep.equal({
      op: 'or', filters: [eq('a', 1), { op: 'and', filters: [eq('b', 2), eq('c', 3)] }],
    });
    expect(parseScimFilter('a eq 1 and b eq 2 or c eq 3')).to.deep.equal({
      op: 'or', filters: [{ op: 'and', filters: [eq('a', 1), eq('b', 2)] }, eq('c', 3)],
    });
  });

  it('when parentheses group, then they override precedence', () => {
    expect(parseScimFilter('(a eq 1 or b eq 2) and c eq 3')).to.deep.equal({
      op: 'and', filters: [{ op: 'or', filters: [eq('a', 1), eq('b', 2)] }, eq('c', 3)],
    });
    expect(parseScimFilter('((a eq 1))')).to.deep.equal(eq('a', 1));
  });

  it('when not wraps an or, then the whole or is negated (not distributed)', () => {
    expect(parseScimFilter('not (a eq 1 or b eq 2)')).to.deep.equal({
      op: 'not', filter: { op: 'or', filters: [eq('a', 1), eq('b', 2)] },
    });
    expect(parseScimFilter('not (a eq 1) and b eq 2')).to.deep.equal({
      op: 'and', filters: [{ op: 'not', filter: eq('a', 1) }, eq('b', 2)],
    });
  });

  it('when a value filter holds and, or and not, then it is one valuePath node', () => {
    expect(parseScimFilter('emails[type eq "work" and (value co "@x" or not (primary eq true))]')).to.deep.equal({
      op: '[]',
      attrPath: 'emails',
      filter: {
        op: 'and',
        filters: [
          eq('type', 'work'),
          { op: 'or', filters: [{ op: 'co', attrPath: 'value', value: '@x' }, { op: 'not', filter: eq('primary', true) }] },
        ],
      },
    });
    expect(parseScimFilter('userType eq "Employee" and emails[type eq "work"]')).to.deep.equal({
      op: 'and', filters: [eq('userType', 'Employee'), { op: '[]', attrPath: 'emails', filter: eq('type', 'work') }],
    });
  });

  it('when values are JSON literals, then strings, numbers, booleans and null come back typed', () => {
    expect(parseScimFilter('a eq 42').op === 'eq' && parseScimFilter('a eq 42')).to.deep.equal(eq('a', 42));
    expect(parseScimFilter('a eq -1.5e2')).to.deep.equal(eq('a', -150));
    expect(parseScimFilter('(a eq -5)')).to.deep.equal(eq('a', -5));
    expect(parseScimFilter('a eq false')).to.deep.equal(eq('a', false));
    expect(parseScimFilter('a eq null')).to.deep.equal(eq('a', null));
    expect(parseScimFilter('a eq "true"')).to.deep.equal(eq('a', 'true'));
    expect(parseScimFilter('a eq "and or not ( ) [ ]"')).to.deep.equal(eq('a', 'and or not ( ) [ ]'));
  });

  it('when strings hold JSON escapes, then they are decoded (scim2-parse-filter leaves them raw)', () => {
    expect(parseScimFilter(String.raw`a eq "say \"hi\""`)).to.deep.equal(eq('a', 'say "hi"'));
    expect(parseScimFilter(String.raw`a eq "DOMAIN\\bjensen"`)).to.deep.equal(eq('a', 'DOMAIN\\bjensen'));
    expect(parseScimFilter(String.raw`a eq "line\nbreak"`)).to.deep.equal(eq('a', 'line\nbreak'));
    expect(parseScimFilter(String.raw`a eq "caf\u00e9"`)).to.deep.equal(eq('a', 'café'));
    expect(parseScimFilter(String.raw`a eq "ends\\" and b eq "c"`)).to.deep.equal({ op: 'and', filters: [eq('a', 'ends\\'), eq('b', 'c')] });
    expect(parseScimFilter(`a eq "x' or 1=1 --"`)).to.deep.equal(eq('a', "x' or 1=1 --"));
  });

  it('when the filter has trailing garbage, then it is refused naming the token', () => {
    expect(invalidFilter('userName eq "x" garbage').detail).to.equal("Unexpected token 'garbage' after a complete filter at position 17");
    expect(invalidFilter('userName eq "x")').detail).to.match(/Unbalanced '\)'/);
  });

  it('when an operator is unknown, then it is refused naming it', () => {
    expect(invalidFilter('userName eqq "x"').detail).to.match(/^Unknown operator 'eqq' at position 10/);
    expect(invalidFilter('userName "x"').detail).to.match(/Expected an operator after 'userName'/);
    expect(invalidFilter('userName').detail).to.match(/ends after 'userName'; expected an operator/);
  });

  it('when the input is malformed, then each case gets a useful invalidFilter detail', () => {
    expect(invalidFilter('').detail).to.equal('The filter is empty');
    expect(invalidFilter('   ').detail).to.equal('The filter is empty');
    expect(invalidFilter("userName eq 'x'").detail).to.match(/Unexpected character ''' at position 13 \(strings take double quotes\)/);
    expect(invalidFilter('userName eq "x').detail).to.equal('Unterminated string starting at position 13');
    expect(invalidFilter(String.raw`userName eq "a\qb"`).detail).to.match(/Invalid escape '\\q'/);
    expect(invalidFilter('userName eq').detail).to.match(/Missing the value after 'eq'/);
    expect(invalidFilter('userName eq bjensen').detail).to.match(/Invalid value 'bjensen' at position 13/);
    expect(invalidFilter('active eq True').detail).to.match(/Invalid value 'True'/);
    expect(invalidFilter('a eq 01').detail).to.match(/Invalid value '01'/);
    expect(invalidFilter('a eq "x" and').detail).to.match(/ends where a condition was expected/);
    expect(invalidFilter('a eq "x" or or b eq "y"').detail).to.match(/Unexpected 'or' at position 13/);
    expect(invalidFilter('(a eq "x"').detail).to.match(/Missing '\)' to close the '\(' at position 1/);
    expect(invalidFilter('emails[type eq "work"').detail).to.match(/Missing '\]'/);
    expect(invalidFilter('not a eq "x"').detail).to.match(/Expected '\(' after 'not'/);
    expect(invalidFilter('emails[value[type eq "x"]]').detail).to.match(/cannot be nested/);
    expect(invalidFilter('emails[type eq "work"].value').detail).to.match(/must be followed by a comparison/);
    expect(invalidFilter('$ref eq "x"').detail).to.match(/Unexpected character '\$'/);
    expect(invalidFilter('a+b eq "x"').detail).to.equal("Invalid attribute path 'a+b' at position 1");
    expect(invalidFilter('12 eq "x"').detail).to.equal("Invalid attribute path '12' at position 1");
  });

  it('when the filter is too long or too deep, then it is refused', () => {
    expect(invalidFilter(`a eq "${'x'.repeat(MAX_FILTER_LENGTH)}"`).detail).to.match(/longer than 10000 characters/);
    expect(invalidFilter(`${'('.repeat(40)}a eq 1${')'.repeat(40)}`).detail).to.match(/nests more than/);
    expect(parseScimFilter(`${'('.repeat(20)}a eq 1${')'.repeat(20)}`)).to.deep.equal(eq('a', 1));
  });

  it('when or joins conditions, then those that each need a search are capped at MAX_OR_TERMS and comparisons of one attribute with a string count once', () => {
    const chain = (n: number, term: (i: number) => string) => Array.from({ length: n }, (_, i) => term(i)).join(' or ');
    expect(invalidFilter(chain(101, (i) => `a eq ${i}`)).detail).to.match(/joins 101 conditions with "or" .* the limit is 100/);
    expect(invalidFilter(chain(101, (i) => `emails[value co "${i}"]`)).detail).to.contain('101 conditions');
    expect(invalidFilter(`(${chain(60, (i) => `a eq ${i}`)}) and (${chain(41, (i) => `b eq ${i}`)})`).detail).to.contain('101 conditions');
    expect((parseScimFilter(chain(400, (i) => `emails.value co "${i}"`)) as { filters: FilterNode[] }).filters).to.have.length(400);
    expect(() => parseScimFilter(chain(300, (i) => ['userName sw', 'emails.value eq', 'displayName co'][i % 3] + ` "${i}"`))).not.to.throw();
    expect(invalidFilter(`${chain(300, (i) => `userName co "${i}"`)} or ${chain(100, (i) => `x eq ${i}`)}`).detail).to.contain('101 conditions');
    expect(MAX_OR_TERMS).to.equal(100);
  });

  it('when the filter is one comparison (read from the scan, without the library), then its tree is the one the library gives it in parentheses', () => {
    const single = [
      'userName eq "bjensen@example.com"',
      'userName Eq "Ann"',
      'urn:ietf:params:scim:schemas:core:2.0:User:userName EQ "x"',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"',
      'name.familyName sw "Smi"',
      'emails.value co "@corp"',
      'meta.lastModified gt "2011-05-13T04:42:34Z"',
      'a eq 42',
      'a eq -1.5e2',
      'a ne false',
      'a eq null',
      'a ne null',
      String.raw`a eq "say \"hi\" caf\u00e9"`,
      'a eq ""',
      'a eq "and or not ( ) [ ]"',
    ];
    for (const text of single) {
      // `(…)` is no single comparison at the token level: the library builds that tree.
      expect(parseScimFilter(text), text).to.deep.equal(parseScimFilter(`(${text})`));
    }
    expect(parseScimFilter('userName eq "bjensen"')).to.deep.equal(eq('userName', 'bjensen'));
    // What only looks like one comparison still goes through the grammar.
    expect(invalidFilter('userName xx "a"').detail).to.match(/Unknown operator 'xx'/);
    expect(invalidFilter('userName eq').detail).to.match(/Missing the value/);
    expect(invalidFilter('userName eq bjensen').detail).to.match(/Invalid value/);
    expect(parseScimFilter('title pr')).to.deep.equal({ op: 'pr', attrPath: 'title' });
  });

  it('when many conditions are chained, then the tree keeps them all in order', () => {
    // 100 `or` conditions that each need a search: the most one filter may join (MAX_OR_TERMS); `and` terms are not capped.
    const text = Array.from({ length: 100 }, (_, i) => `a eq ${i}`).join(' or ');
    const node = parseScimFilter(text);
    expect(node.op).to.equal('or');
    expect((node as { filters: FilterNode[] }).filters.map((f) => (f as { value: number }).value)).to.deep.equal(
      Array.from({ length: 100 }, (_, i) => i),
    );
  });
});
