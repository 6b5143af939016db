import { expect } from 'chai';
import { parseScimFilter } from '../../src/domain/scim-filter.js';
import { compileFilter, escapeLike, parseDateTime, sortExpression } from '../../src/db/scim-filter-sql.js';
import { columnMapping, groupsMapping, usersMapping } from '../../src/db/resource-mappings.js';
import { DomainError } from '../../src/domain/errors.js';
import { resourceTypes } from '../../src/scim/schemas.js';

const users = usersMapping('u');
const compile = (filter: string, mapping = users) => compileFilter(parseScimFilter(filter), mapping);
const placeholders = (sql: string) => (sql.match(/\?/g) ?? []).length;

function refused(filter: string, mapping = users): DomainError {
  try {
    compile(filter, mapping);
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    expect((error as DomainError).kind).to.equal('invalidFilter');
    return error as DomainError;
  }
  throw new Error(`expected ${filter} to be refused`);
}

describe('compileFilter (SQL shape)', () => {
  it('when a value tries SQL injection, then it travels only as a binding', () => {
    const { sql, bindings } = compile(`userName eq "x' or 1=1 --"`);
    expect(sql).to.equal('lower(u.user_name) = ?');
    expect(bindings).to.deep.equal(["x' or 1=1 --"]);
    expect(sql).not.to.include('1=1');
  });

  it('when every operator and attribute kind is compiled, then no input value appears in the SQL text', () => {
    const marker = 'Zq9Marker';
    const filters = [
      `userName eq "${marker}"`, `userName co "${marker}"`, `externalId sw "${marker}"`, `title ew "${marker}"`, `displayName gt "${marker}"`,
      `emails[type eq "${marker}" and value co "${marker}"]`, `roles eq "${marker}"`, `licenses eq "${marker}"`, `extensions eq "${marker}"`,
      `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "${marker}"`, `meta.version eq "${marker}"`,
      `groups.value eq "${marker}"`, `emails.display ne "${marker}"`,
    ];
    for (const filter of filters) {
      const { sql, bindings } = compile(filter);
      expect(sql, filter).not.to.include(marker);
      expect(sql.toLowerCase(), filter).not.to.include(marker.toLowerCase());
      expect(placeholders(sql), filter).to.equal(bindings.length);
    }
  });

  it('when a string attribute is not caseExact, then lower(column) is compared with the lower-cased value', () => {
    expect(compile('userName eq "BJensen"')).to.deep.equal({ sql: 'lower(u.user_name) = ?', bindings: ['bjensen'] });
    expect(compile('name.familyName sw "Smi"')).to.deep.equal({
      sql: '(u.family_name is not null and lower(u.family_name) like ?)', bindings: ['smi%'],
    });
    expect(compile('externalId eq "AbC"')).to.deep.equal({ sql: '(u.external_id is not null and u.external_id = ?)', bindings: ['AbC'] });
  });

  it('when co, sw or ew hold LIKE wildcards, then they are escaped', () => {
    expect(escapeLike('50%_a\\b')).to.equal('50\\%\\_a\\\\b');
    expect(compile('userName co "50%"').bindings).to.deep.equal(['%50\\%%']);
    expect(compile('userName ew "_x"').bindings).to.deep.equal(['%\\_x']);
  });

  it('when emails.value co is compiled, then it is an exists on user_emails with lower(value) like', () => {
    expect(compile('emails.value co "XYZ"')).to.deep.equal({
      sql: 'exists (select 1 from user_emails r where r.account_id = u.account_id and r.user_id = u.id and lower(r.value) like ?)',
      bindings: ['%xyz%'],
    });
  });

  it('when an or joins comparisons of one attribute, then they are one = any / like any (in one exists), the others stay apart', () => {
    expect(compile('emails.value co "A%" or emails.value eq "B@X" or userName sw "c" or emails.value ew "d" or userName eq "E"')).to.deep.equal({
      sql:
        '(exists (select 1 from user_emails r where r.account_id = u.account_id and r.user_id = u.id and (lower(r.value) = any(?::text[]) or lower(r.value) like any(?::text[])))' +
        ' or (lower(u.user_name) = any(?::text[]) or lower(u.user_name) like any(?::text[])))',
      bindings: [['b@x'], ['%a\\%%', '%d'], ['e'], ['c%']],
    });
    expect(compile('externalId eq "A" or externalId eq "b" or displayName co "x" or displayName co "y"')).to.deep.equal({
      sql: '((u.external_id is not null and u.external_id = any(?::text[])) or (u.display_name is not null and lower(u.display_name) like any(?::text[])))',
      bindings: [['A', 'b'], ['%x%', '%y%']],
    });
    const id = '26118915-6090-4610-87e4-49d8ca9f808d';
    expect(compile(`id eq "${id}" or id eq "${id.toUpperCase()}" or id eq "x"`)).to.deep.equal({ sql: '(u.id = any(?::uuid[]))', bindings: [[id]] });
    expect(compile('id eq "x" or id eq "y"')).to.deep.equal({ sql: '(false)', bindings: [] });
    // Not strings, ne, or one term alone: compiled one by one, as before.
    expect(compile('active eq true or active eq false').sql).to.equal('(u.active = ? or u.active = ?)');
    expect(compile('userName ne "a" or userName ne "b"').sql).to.equal('((not lower(u.user_name) = ?) or (not lower(u.user_name) = ?))');
  });

  it('when a valuePath is compiled, then all its conditions sit in one exists', () => {
    const { sql } = compile('emails[type eq "work" and not (value co "@x")]');
    expect(sql.match(/exists/g)).to.have.length(1);
    expect(sql).to.match(/^exists \(select 1 from user_emails r where .* and \(\(r\.type is not null and lower\(r\.type\) = \?\) and \(not lower\(r\.value\) like \?\)\)\)$/);
  });

  it('when an or whose every branch an index answers is compiled for an account, then owned rows are read uncorrelated, last, with the account bound', () => {
    const account = '6f1c2d3e-0000-4000-8000-000000000001';
    const scoped = (filter: string) => compileFilter(parseScimFilter(filter), users, { accountId: account });
    const { sql, bindings } = scoped('emails.value sw "Ann@X" or userName sw "Ann@X"');
    expect(sql).to.equal('(lower(u.user_name) like ? or u.id = any(array(select r.user_id from user_emails r where lower(r.value) like ? and r.account_id = ?::uuid)))');
    expect(bindings).to.deep.equal(['ann@x%', 'ann@x%', account]);
    // The array moves after the terms written after it, each with its own bindings.
    const moved = scoped('extensions eq "12" or name.familyName sw "Ab" or phoneNumbers.value sw "+32"');
    expect(moved.sql).to.equal('((u.family_name is not null and lower(u.family_name) like ?) or u.id = any(array(select r.user_id from user_extensions r where r.number = ? and r.account_id = ?::uuid))'
      + ' or u.id = any(array(select r.user_id from user_phone_numbers r where r.value like ? and r.account_id = ?::uuid)))');
    expect(moved.bindings).to.deep.equal(['ab%', '12', account, '+32%', account]);
    // Without the account, under not, beside a branch no index answers, with co, alone, with ne, or as like any: exists as before.
    const plain = [compile('emails.value sw "a" or userName sw "a"'), ...['not (emails.value sw "a" or userName sw "a")', 'emails.value sw "a" or title eq "a"',
      'emails.value co "a" or userName sw "a"', 'emails.value sw "a"', 'emails ne "a" or userName eq "a"', 'emails.value sw "a" or emails.value sw "b"'].map(scoped)];
    for (const compiled of plain) {
      expect(compiled.sql).not.to.include('any(array(');
      expect(compiled.sql).to.include('exists (');
      expect(compiled.bindings).not.to.include(account);
    }
  });

  it('when not and ne are compiled, then they negate the whole (never-NULL) condition', () => {
    expect(compile('not (userName eq "a" or title pr)').sql).to.match(/^\(not \(lower\(u\.user_name\) = \? or coalesce\(/);
    expect(compile('title ne "x"').sql).to.equal("(not (u.data->>'title' is not null and lower(u.data->>'title') = ?))");
  });

  it('when id is compared with a non-uuid, then the condition is false without a binding', () => {
    expect(compile('id eq "42"')).to.deep.equal({ sql: 'false', bindings: [] });
    expect(compile('id ne "42"')).to.deep.equal({ sql: '(not false)', bindings: [] });
    // id is caseExact (RFC 7643 §3.1): a uuid in upper case names no resource (issue 13).
    expect(compile('id eq "0B9A7C1E-1111-4111-8111-111111111111"')).to.deep.equal({ sql: 'false', bindings: [] });
    expect(compile('id eq "0b9a7c1e-1111-4111-8111-111111111111"')).to.deep.equal({
      sql: 'u.id = ?::uuid', bindings: ['0b9a7c1e-1111-4111-8111-111111111111'],
    });
  });

  it('when dateTimes are compiled, then they are millisecond ranges on the raw column', () => {
    expect(compile('meta.lastModified gt "2026-01-01T00:00:00Z"')).to.deep.equal({
      sql: 'u.updated_at >= ?::timestamptz', bindings: ['2026-01-01T00:00:00.001Z'],
    });
    expect(compile('meta.created eq "2026-01-01T01:00:00+01:00"')).to.deep.equal({
      sql: 'u.created_at >= ?::timestamptz and u.created_at < ?::timestamptz', bindings: ['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.001Z'],
    });
    expect(parseDateTime('2026-02-29T00:00:00Z')).to.equal(undefined);
    expect(parseDateTime('2028-02-29')).to.equal(Date.UTC(2028, 1, 29));
    expect(parseDateTime('2026-01-01T00:00:00.123456Z')).to.equal(Date.UTC(2026, 0, 1, 0, 0, 0, 123));
  });

  it('when meta.resourceType is compiled, then it folds to a constant', () => {
    expect(compile('meta.resourceType eq "user"')).to.deep.equal({ sql: 'false', bindings: [] });
    expect(compile('meta.resourceType eq "User"')).to.deep.equal({ sql: 'true', bindings: [] });
  });

  it('when values have the wrong type or the operator does not apply, then invalidFilter says why', () => {
    expect(refused('active eq "yes"').detail).to.match(/'active' is boolean/);
    expect(refused('active gt true').detail).to.match(/Ordering is not defined for booleans/);
    expect(refused('active sw true').detail).to.match(/'sw' is not defined for the boolean/);
    expect(refused('meta.created sw "2026"').detail).to.match(/'sw' is not defined for the dateTime/);
    expect(refused('meta.created gt "soon"').detail).to.match(/is a dateTime/);
    expect(refused('userName eq true').detail).to.match(/is a string attribute/);
    expect(refused('userName gt null').detail).to.match(/null is only meaningful with eq \(absent\) and ne \(present\)/);
    expect(refused('x509Certificates.value gt "x"').detail).to.match(/binary/);
    expect(refused('password pr').detail).to.match(/not filterable/);
    expect(refused('meta.location eq "x"').detail).to.match(/not filterable/);
    expect(refused('emails[value.x eq "a"]').detail).to.match(/sub-attributes of emails only/);
    expect(refused('nickName[value eq "a"]').detail).to.match(/not a complex attribute/);
    expect(refused('noSuchThing pr').detail).to.equal("Unknown attribute 'noSuchThing' for resource type User");
  });

  it('when a column mapping is used, then unknown-typed string columns compare through ::text and unlisted attributes are refused', () => {
    const accounts = columnMapping(resourceTypes.account, 'a', { id: 'a.id', parentId: 'a.parent_id', userCount: 'a.user_count', settings: { jsonb: 'a.settings' } });
    expect(compile('parentId eq "X"', accounts)).to.deep.equal({ sql: '((a.parent_id)::text is not null and (a.parent_id)::text = ?)', bindings: ['X'] });
    expect(compile('userCount ge 3', accounts)).to.deep.equal({ sql: '(a.user_count is not null and a.user_count >= ?)', bindings: [3] });
    expect(compile('settings.sso eq true', accounts).sql).to.equal(`coalesce(a.settings->'sso' = ?::jsonb, false)`);
    expect(refused('name eq "x"', accounts).detail).to.match(/'name' is not filterable for Account/);
  });

  it('when groups are filtered by members, then it is an exists on group_members', () => {
    expect(compile('members.value eq "0b9a7c1e-1111-4111-8111-111111111111"', groupsMapping('g')).sql).to.equal(
      'exists (select 1 from group_members r where r.account_id = g.account_id and r.group_id = g.id and r.member_id = ?::uuid)',
    );
  });
});

describe('sortExpression', () => {
  it('when sorting by strings, dates and multi-valued attributes, then the expression fits', () => {
    expect(sortExpression(users, 'userName')).to.deep.equal({ sql: 'lower(u.user_name)', type: 'string' });
    expect(sortExpression(users, 'externalId')).to.deep.equal({ sql: 'u.external_id', type: 'string' });
    expect(sortExpression(users, 'meta.created')).to.deep.equal({ sql: 'u.created_at', type: 'dateTime' });
    expect(sortExpression(users, 'emails')).to.deep.equal({ sql: 'lower(u.primary_email)', type: 'string' });
    expect(sortExpression(users, 'phoneNumbers').sql).to.equal(
      '(select r.value from user_phone_numbers r where r.account_id = u.account_id and r.user_id = u.id order by r.is_primary desc, r.position limit 1)',
    );
    expect(sortExpression(users, 'roles.display').sql).to.match(/^\(select lower\(e\.v->>'display'\) from jsonb_array_elements\(.*order by coalesce\(e\.v->'primary' = 'true'::jsonb, false\) desc, e\.n limit 1\)$/);
  });

  it('when sorting by smsNumber, an unknown or a complex attribute, then invalidValue', () => {
    expect(() => sortExpression(users, 'smsNumber')).to.throw(DomainError, 'Users cannot be ordered by smsNumber');
    for (const path of ['nope', 'name', 'password']) {
      expect(() => sortExpression(users, path)).to.throw(DomainError).with.property('kind', 'invalidValue');
    }
  });
});
