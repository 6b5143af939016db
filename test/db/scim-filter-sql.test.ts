import type { Knex } from 'knex';
import { expect } from 'chai';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '../support/test-database.js';
import { parseScimFilter } from '../../src/domain/scim-filter.js';
import { compileFilter, sortExpression, type FilterScope, type ResourceSqlMapping } from '../../src/db/scim-filter-sql.js';
import { columnMapping, groupsMapping, usersMapping } from '../../src/db/resource-mappings.js';
import { userCountSql } from '../../src/db/accounts-repo.js';
import { DomainError } from '../../src/domain/errors.js';
import { resourceTypes } from '../../src/scim/schemas.js';
import { analyse, indexesUsed, rowsRead, type PlanNode } from '../support/plans.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';

interface Contact { value: string; type?: string; primary?: boolean; display?: string }
interface UserSpec {
  userName: string;
  externalId?: string;
  givenName?: string;
  familyName?: string;
  displayName?: string;
  active?: boolean;
  emails?: Contact[];
  phoneNumbers?: Contact[];
  extensions?: string[];
  smsNumber?: string;
  accountAdmin?: boolean;
  updatedAt?: string;
  createdAt?: string;
  data?: Record<string, unknown>;
}

async function insertUser(db: TestDatabase, accountId: string, spec: UserSpec): Promise<string> {
  const data: Record<string, unknown> = {
    userName: spec.userName,
    ...(spec.givenName || spec.familyName ? { name: { givenName: spec.givenName, familyName: spec.familyName } } : {}),
    ...(spec.emails ? { emails: spec.emails } : {}),
    ...(spec.phoneNumbers ? { phoneNumbers: spec.phoneNumbers } : {}),
    ...spec.data,
  };
  if (spec.extensions) data[SB] = { ...(data[SB] as object), extensions: spec.extensions };
  if (data.name && spec.data?.name) data.name = { ...(spec.data.name as object), givenName: spec.givenName, familyName: spec.familyName };
  const primary = spec.emails?.find((e) => e.primary) ?? spec.emails?.[0];
  const [row] = await db.knex('users').insert({
    account_id: accountId,
    user_name: spec.userName,
    // Only the filter's SQL is tested here: no representation is read.
    resource: {},
    external_id: spec.externalId ?? null,
    given_name: spec.givenName ?? null,
    family_name: spec.familyName ?? null,
    display_name: spec.displayName ?? null,
    active: spec.active ?? true,
    primary_email: primary?.value ?? null,
    sms_number: spec.smsNumber ?? null,
    account_admin: spec.accountAdmin ?? false,
    data: JSON.stringify(data),
    ...(spec.updatedAt ? { updated_at: spec.updatedAt } : {}),
    ...(spec.createdAt ? { created_at: spec.createdAt } : {}),
  }).returning('id');
  const id = row.id as string;
  const contacts = (list: Contact[] | undefined) => (list ?? []).map((c, position) => ({
    account_id: accountId, user_id: id, position, value: c.value, type: c.type ?? null, is_primary: c.primary ?? false,
  }));
  if (spec.emails?.length) await db.knex('user_emails').insert(contacts(spec.emails));
  if (spec.phoneNumbers?.length) await db.knex('user_phone_numbers').insert(contacts(spec.phoneNumbers));
  for (const number of spec.extensions ?? []) await db.knex('user_extensions').insert({ account_id: accountId, user_id: id, number });
  return id;
}

const users: UserSpec[] = [
  {
    userName: 'bjensen', externalId: 'EXT-1', givenName: 'Barbara', familyName: 'Jensen', displayName: 'Babs Jensen',
    emails: [{ value: 'a@x.com', type: 'work', primary: true }, { value: 'b@y.com', type: 'home', display: 'Home mail' }],
    phoneNumbers: [{ value: '+15550001', type: 'work' }], extensions: ['1001'], smsNumber: '+15551110001', accountAdmin: true,
    updatedAt: '2026-01-01T00:00:00Z', createdAt: '2025-01-01T00:00:00Z',
    data: {
      title: 'Tour Guide', nickName: 'Babs', userType: 'Employee', roles: [{ value: 'admin', primary: true }, { value: 'auditor' }],
      [ENT]: { department: 'Sales', employeeNumber: '701984', manager: { value: '26118915-6090-4610-87e4-49d8ca9f808d', displayName: 'John Smith' } },
      [SB]: { licenses: ['MiTeam Meetings', 'MiCollab'], voicemail: true },
    },
  },
  {
    userName: 'jsmith', externalId: 'ext-1', givenName: 'John', familyName: 'Smith', active: false,
    emails: [{ value: 'john@x.com', type: 'work' }], extensions: ['1002'],
    updatedAt: '2026-02-01T00:00:00.123456Z', createdAt: '2025-02-01T00:00:00Z',
    data: { title: 'Engineer', userType: 'Contractor', [ENT]: { department: 'Engineering' }, [SB]: { licenses: ['MiCollab'], voicemail: false } },
  },
  {
    userName: 'asmithers', givenName: 'Alan', familyName: 'Smithers', emails: [{ value: 'a.smithers@y.com', type: 'home' }],
    updatedAt: '2026-03-01T00:00:00Z', createdAt: '2025-03-01T00:00:00Z',
    data: { nickName: '', roles: [], [ENT]: { department: 'sales' } },
  },
  { userName: 'noemail', updatedAt: '2024-06-01T00:00:00Z', createdAt: '2024-06-01T00:00:00Z' },
  {
    userName: 'percent%_user', familyName: "O'Brien", emails: [{ value: 'p%c@x.com', type: 'work' }],
    updatedAt: '2025-06-01T00:00:00Z', data: { title: '100% sure' },
  },
  { userName: 'MixedCase', displayName: 'Mixed Case', emails: [{ value: 'Mixed@Example.COM', type: 'Work' }], updatedAt: '2025-07-01T00:00:00Z' },
  {
    userName: 'swapped', emails: [{ value: 'b@y.com.au', type: 'work' }, { value: 'a@x.com.au', type: 'home', primary: true }],
    updatedAt: '2025-08-01T00:00:00Z', data: { roles: [{ value: 'auditor', primary: true }] },
  },
  ...Array.from({ length: 13 }, (_, i): UserSpec => ({
    userName: `gen${String(i).padStart(2, '0')}`, familyName: `Family${i}`, givenName: i % 2 ? 'Odd' : 'Even',
    emails: [{ value: `gen${i}@corp.example`, type: 'work' }], active: i % 3 !== 0,
    updatedAt: `2025-0${(i % 5) + 1}-15T12:00:00Z`,
    data: { userType: i % 2 ? 'Employee' : 'Intern', [ENT]: { department: i % 2 ? 'Support' : 'Sales' } },
  })),
];

describe(`SCIM filter to SQL (${testDatabaseKind})`, () => {
  let db: TestDatabase;
  let accountA: string;
  let accountB: string;
  const ids = new Map<string, string>();
  let groupSales: string;
  let groupEmpty: string;
  const userMap = usersMapping('u');
  const groupMap = groupsMapping('g');

  before(async () => {
    db = await createTestDatabase();
    [{ id: accountA }] = await db.knex('accounts').insert({ type: 'customer', name: 'Acme' }).returning('id');
    [{ id: accountB }] = await db.knex('accounts').insert({ type: 'customer', name: 'Other', parent_id: accountA }).returning('id');
    for (const spec of users) ids.set(spec.userName, await insertUser(db, accountA, spec));
    // Another account with look-alike users, emails, extensions and memberships: must never match.
    const twin = await insertUser(db, accountB, { ...users[0]!, emails: [{ value: 'twin@x.com', type: 'work' }] });
    ids.set('twin', twin);
    [{ id: groupSales }] = await db.knex('groups').insert({ account_id: accountA, display_name: 'Sales Team', external_id: 'G-1' }).returning('id');
    [{ id: groupEmpty }] = await db.knex('groups').insert({ account_id: accountA, display_name: 'Empty' }).returning('id');
    await db.knex('group_members').insert([
      { account_id: accountA, group_id: groupSales, member_id: ids.get('bjensen') },
      { account_id: accountA, group_id: groupSales, member_id: ids.get('asmithers') },
    ]);
    const [{ id: groupB }] = await db.knex('groups').insert({ account_id: accountB, display_name: 'Sales Team' }).returning('id');
    await db.knex('group_members').insert({ account_id: accountB, group_id: groupB, member_id: twin });
  });

  after(async () => {
    await db?.close();
  });

  /** Compiled as a list compiles it (scoped to the account: IndexedOr) and unscoped (every condition `exists`): both must agree. */
  async function select(table: string, mapping: ResourceSqlMapping, column: string, filter: string, accountId = accountA): Promise<string[]> {
    const run = async (scope: FilterScope | undefined) => {
      const { sql, bindings } = compileFilter(parseScimFilter(filter), mapping, scope);
      const result = await db.knex.raw(
        `select ${mapping.alias}.${column} as name, ${mapping.alias}.account_id as account from ${table} ${mapping.alias} where ${mapping.alias}.account_id = ? and (${sql})`,
        [accountId, ...bindings] as Knex.RawBinding[],
      );
      for (const row of result.rows) expect(row.account).to.equal(accountId);
      return (result.rows as { name: string }[]).map((r) => r.name).sort();
    };
    const scoped = await run({ accountId });
    expect(await run(undefined), `${filter} without the account`).to.deep.equal(scoped);
    return scoped;
  }
  const userNames = (filter: string) => select('users', userMap, 'user_name', filter);
  const all = () => users.map((u) => u.userName).sort();
  const except = (...names: string[]) => all().filter((n) => !names.includes(n));
  const gen = (pred: (i: number) => boolean) => Array.from({ length: 13 }, (_, i) => i).filter(pred).map((i) => `gen${String(i).padStart(2, '0')}`);

  function refused(filter: string, mapping: ResourceSqlMapping = userMap): string {
    try {
      compileFilter(parseScimFilter(filter), mapping);
    } catch (error) {
      expect(error).to.be.instanceOf(DomainError);
      expect((error as DomainError).kind).to.equal('invalidFilter');
      return (error as DomainError).detail;
    }
    throw new Error(`expected ${filter} to be refused`);
  }

  it('when userName (not caseExact) is compared with each string operator, then case is ignored', async () => {
    expect(await userNames('userName eq "BJENSEN"')).to.deep.equal(['bjensen']);
    expect(await userNames('userName eq "mixedcase"')).to.deep.equal(['MixedCase']);
    expect(await userNames('userName ne "bjensen"')).to.deep.equal(except('bjensen'));
    expect(await userNames('userName co "SMITH"')).to.deep.equal(['asmithers', 'jsmith']);
    expect(await userNames('userName sw "J"')).to.deep.equal(['jsmith']);
    expect(await userNames('userName ew "SEN"')).to.deep.equal(['bjensen']);
    expect(await userNames('userName gt "s"')).to.deep.equal(['swapped']);
    expect(await userNames('userName ge "percent%_user"')).to.deep.equal(['percent%_user', 'swapped']);
    expect(await userNames('userName lt "b"')).to.deep.equal(['asmithers']);
    expect(await userNames('userName le "asmithers"')).to.deep.equal(['asmithers']);
  });

  it('when co, sw or ew values hold %, _ or \\, then they match literally', async () => {
    expect(await userNames('userName co "%"')).to.deep.equal(['percent%_user']);
    expect(await userNames('userName co "_"')).to.deep.equal(['percent%_user']);
    expect(await userNames('userName sw "%"')).to.deep.equal([]);
    expect(await userNames(String.raw`userName co "\\"`)).to.deep.equal([]);
    expect(await userNames('title co "0% s"')).to.deep.equal(['percent%_user']);
    expect(await userNames(`name.familyName eq "o'brien"`)).to.deep.equal(['percent%_user']);
  });

  it('when a value tries SQL injection, then it is only a value', async () => {
    expect(await userNames(`userName eq "x' or 1=1 --"`)).to.deep.equal([]);
    expect(await userNames(`title co "'); drop table users; --"`)).to.deep.equal([]);
    expect(await userNames('userName pr')).to.have.length(users.length);
  });

  it('when externalId (caseExact) is compared, then case matters', async () => {
    expect(await userNames('externalId eq "EXT-1"')).to.deep.equal(['bjensen']);
    expect(await userNames('externalId eq "ext-1"')).to.deep.equal(['jsmith']);
    expect(await userNames('externalId sw "EXT"')).to.deep.equal(['bjensen']);
    expect(await userNames('externalId ne "EXT-1"')).to.deep.equal(except('bjensen'));
  });

  it('when attribute names are in another case or URN-qualified, then they resolve', async () => {
    expect(await userNames('USERNAME EQ "bjensen"')).to.deep.equal(['bjensen']);
    expect(await userNames('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen"')).to.deep.equal(['bjensen']);
    expect(await userNames('NAME.FAMILYNAME eq "jensen"')).to.deep.equal(['bjensen']);
  });

  it('when booleans are compared, then eq, ne and pr work and ordering is refused', async () => {
    expect(await userNames('active eq false')).to.deep.equal(['jsmith', ...gen((i) => i % 3 === 0)].sort());
    expect(await userNames('active ne true')).to.deep.equal(['jsmith', ...gen((i) => i % 3 === 0)].sort());
    expect(await userNames(`${SB}:accountAdmin eq true`)).to.deep.equal(['bjensen']);
    expect(await userNames(`${SB}:voicemail eq false`)).to.deep.equal(['jsmith']);
    expect(await userNames(`${SB}:voicemail ne true`)).to.deep.equal(except('bjensen'));
    expect(await userNames(`${SB}:voicemail pr`)).to.deep.equal(['bjensen', 'jsmith']);
    expect(refused('active gt true')).to.match(/Ordering is not defined for booleans/);
    expect(refused('active co true')).to.match(/'co' is not defined for the boolean attribute 'active'/);
    expect(refused('active eq "yes"')).to.match(/'active' is boolean/);
  });

  it('when dateTimes are compared, then chronologically at millisecond precision', async () => {
    expect(await userNames('meta.lastModified gt "2025-12-31T23:59:59Z"')).to.deep.equal(['asmithers', 'bjensen', 'jsmith']);
    expect(await userNames('meta.lastModified ge "2026-01-01T00:00:00Z"')).to.deep.equal(['asmithers', 'bjensen', 'jsmith']);
    expect(await userNames('meta.lastModified gt "2026-01-01T00:00:00Z"')).to.deep.equal(['asmithers', 'jsmith']);
    expect(await userNames('meta.lastModified lt "2025-01-01T00:00:00Z"')).to.deep.equal(['noemail']);
    expect(await userNames('meta.lastModified le "2024-06-01T00:00:00Z"')).to.deep.equal(['noemail']);
    // Stored 2026-02-01T00:00:00.123456Z; SCIM shows .123Z, and that equals it.
    expect(await userNames('meta.lastModified eq "2026-02-01T00:00:00.123Z"')).to.deep.equal(['jsmith']);
    expect(await userNames('meta.lastModified gt "2026-02-01T00:00:00.123Z"')).to.deep.equal(['asmithers']);
    expect(await userNames('meta.lastModified eq "2026-02-01T01:00:00.123+01:00"')).to.deep.equal(['jsmith']);
    expect(await userNames('meta.created lt "2025-02-15"')).to.deep.equal(['bjensen', 'jsmith', 'noemail']);
    expect(refused('meta.lastModified gt "yesterday"')).to.match(/is a dateTime/);
    expect(refused('meta.lastModified gt "2026-02-30T00:00:00Z"')).to.match(/is a dateTime/);
    expect(refused('meta.lastModified co "2026"')).to.match(/'co' is not defined for the dateTime/);
  });

  it('when not wraps an or, then it means neither', async () => {
    expect(await userNames('not (userName eq "bjensen" or userName eq "jsmith")')).to.deep.equal(except('bjensen', 'jsmith'));
    // title is absent on most users: not (…) still holds for them (no NULL leaks through not).
    expect(await userNames('not (title eq "Tour Guide" or name.familyName sw "smi")')).to.deep.equal(except('bjensen', 'jsmith', 'asmithers'));
    expect(await userNames('not (not (title pr))')).to.deep.equal(['bjensen', 'jsmith', 'percent%_user']);
  });

  it('when ne is used, then users lacking the attribute match', async () => {
    expect(await userNames('title ne "Tour Guide"')).to.deep.equal(except('bjensen'));
    expect(await userNames('name.familyName ne "Jensen"')).to.deep.equal(except('bjensen'));
    expect(await userNames(`${ENT}:department ne "sales"`)).to.deep.equal(['jsmith', 'MixedCase', 'noemail', 'percent%_user', 'swapped', ...gen((i) => i % 2 === 1)].sort());
  });

  it('when pr is used, then null, empty strings and empty arrays are absent', async () => {
    expect(await userNames('title pr')).to.deep.equal(['bjensen', 'jsmith', 'percent%_user']);
    expect(await userNames('nickName pr')).to.deep.equal(['bjensen']);
    expect(await userNames('externalId pr')).to.deep.equal(['bjensen', 'jsmith']);
    expect(await userNames('emails pr')).to.deep.equal(except('noemail'));
    expect(await userNames('roles pr')).to.deep.equal(['bjensen', 'swapped']);
    expect(await userNames('not (emails pr)')).to.deep.equal(['noemail']);
    expect(await userNames(`${ENT}:manager pr`)).to.deep.equal(['bjensen']);
    // eq null is absence and ne null presence (RFC 7643 §2.5: unassigned and null are the same).
    expect(await userNames('emails eq null')).to.deep.equal(await userNames('not (emails pr)'));
    expect(await userNames(`${ENT}:manager ne null`)).to.deep.equal(['bjensen']);
    expect(await userNames('externalId eq null or roles ne null')).to.deep.equal(await userNames('not (externalId pr) or roles pr'));
    expect(refused('title co null')).to.match(/null is only meaningful with eq \(absent\) and ne \(present\)/);
  });

  it('when a value filter names several sub-attributes, then they apply to the same element', async () => {
    expect(await userNames('emails[type eq "work" and value eq "b@y.com"]')).to.deep.equal([]);
    expect(await userNames('emails[type eq "home" and value eq "b@y.com"]')).to.deep.equal(['bjensen']);
    // Entra's matching form: the sub-attribute after the brackets applies to the same element.
    expect(await userNames('emails[type eq "home"].value eq "b@y.com"')).to.deep.equal(['bjensen']);
    expect(await userNames('emails[type eq "work"].value eq "b@y.com"')).to.deep.equal([]);
    expect(await userNames('emails[type eq "work" and value co "@x"]')).to.deep.equal(['bjensen', 'jsmith', 'percent%_user']);
    expect(await userNames('emails[type eq "WORK" and not (value ew ".com")]')).to.deep.equal(['swapped', ...gen(() => true)].sort());
    expect(await userNames('emails[primary eq true and value sw "a@"]')).to.deep.equal(['bjensen', 'swapped']);
    expect(await userNames('emails[type eq "home" or value eq "john@x.com"]')).to.deep.equal(['asmithers', 'bjensen', 'jsmith', 'swapped']);
    // display lives only in data: the jsonb array serves, same element semantics.
    expect(await userNames('emails[display eq "home mail" and type eq "home"]')).to.deep.equal(['bjensen']);
    expect(await userNames('emails[display pr and type eq "work"]')).to.deep.equal([]);
    expect(await userNames('roles[value eq "auditor" and primary eq true]')).to.deep.equal(['swapped']);
    expect(await userNames('userType eq "Employee" and emails[type eq "work" and value co "@x"]')).to.deep.equal(['bjensen']);
  });

  it('when a multi-valued attribute is compared, then any element matches and the bare name means value', async () => {
    expect(await userNames('emails eq "MIXED@example.com"')).to.deep.equal(['MixedCase']);
    expect(await userNames('emails.value eq "b@y.com"')).to.deep.equal(['bjensen']);
    expect(await userNames('emails.type eq "home"')).to.deep.equal(['asmithers', 'bjensen', 'swapped']);
    expect(await userNames('emails.value co "@y.com"')).to.deep.equal(['asmithers', 'bjensen', 'swapped']);
    expect(await userNames('phoneNumbers.value eq "+15550001"')).to.deep.equal(['bjensen']);
    expect(await userNames('roles eq "ADMIN"')).to.deep.equal(['bjensen']);
    // ne on a multi-valued attribute: no element equals (users without emails included).
    expect(await userNames('emails ne "a@x.com"')).to.deep.equal(except('bjensen'));
    expect(await userNames('emails[value ne "a@x.com"]')).to.deep.equal(except('noemail'));
  });

  it('when extension attributes are filtered, then enterprise and switchboard values match', async () => {
    expect(await userNames(`${ENT}:department eq "sales"`)).to.deep.equal(['asmithers', 'bjensen', ...gen((i) => i % 2 === 0)].sort());
    expect(await userNames(`${ENT}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`)).to.deep.equal(['bjensen']);
    expect(await userNames(`${ENT.toUpperCase()}:EMPLOYEENUMBER eq "701984"`)).to.deep.equal(['bjensen']);
    expect(await userNames(`${SB}:extensions eq "1001"`)).to.deep.equal(['bjensen']);
    expect(await userNames('extensions eq "1002"')).to.deep.equal(['jsmith']);
    expect(await userNames(`${SB}:licenses eq "MiTeam Meetings"`)).to.deep.equal(['bjensen']);
    expect(await userNames('licenses eq "micollab"')).to.deep.equal(['bjensen', 'jsmith']);
    expect(await userNames('smsNumber eq "+15551110001"')).to.deep.equal(['bjensen']);
  });

  it('when id and groups are filtered, then uuids compare and a non-uuid value is simply false', async () => {
    expect(await userNames(`id eq "${ids.get('jsmith')}"`)).to.deep.equal(['jsmith']);
    expect(await userNames(`id eq "${ids.get('jsmith')!.toUpperCase()}"`)).to.deep.equal([]); // id is caseExact (RFC 7643 §3.1; issue 13)
    expect(await userNames('id eq "not-a-uuid"')).to.deep.equal([]);
    expect(await userNames('id ne "not-a-uuid"')).to.deep.equal(all());
    expect(await userNames(`groups.value eq "${groupSales}"`)).to.deep.equal(['asmithers', 'bjensen']);
    expect(await userNames(`groups eq "${groupSales}"`)).to.deep.equal(['asmithers', 'bjensen']);
    expect(await userNames('groups.value eq "nope"')).to.deep.equal([]);
    expect(await userNames('groups[display eq "sales team"]')).to.deep.equal(['asmithers', 'bjensen']);
    expect(await userNames('groups pr')).to.deep.equal(['asmithers', 'bjensen']);
  });

  it('when meta is filtered, then resourceType and version compare', async () => {
    expect(await userNames('meta.resourceType eq "User"')).to.deep.equal(all());
    expect(await userNames('meta.resourceType eq "Group"')).to.deep.equal([]);
    expect(await userNames('meta.version eq "W/\\"1\\"" and userName eq "bjensen"')).to.deep.equal(['bjensen']);
    expect(await userNames('meta.version eq "W/\\"2\\""')).to.deep.equal([]);
  });

  it('when an or joins comparisons of one attribute (answered as one = any / like any), then it matches what the comparisons match one by one', async () => {
    const oneByOne = async (terms: string[]) => [...new Set((await Promise.all(terms.map((t) => userNames(t)))).flat())].sort();
    const cases: string[][] = [
      ['emails.value co "SMITH"', 'emails.value eq "B@Y.COM"', 'emails.value sw "mixed@"', 'emails.value ew ".au"', 'emails.value co "%"'],
      ['emails co "x.com"', 'emails eq "gen3@corp.example"'],
      ['userName eq "BJENSEN"', 'userName co "smith"', 'userName sw "gen1"', 'userName ew "case"'],
      ['externalId eq "EXT-1"', 'externalId eq "Ext-1"', 'externalId sw "ext"'],
      ['displayName co "babs"', 'displayName eq "mixed case"'],
      ['title co "guide"', 'title eq "engineer"', 'title sw "100%"'],
      ['extensions eq "1001"', 'extensions sw "100"', 'extensions eq "9999"'],
      ['phoneNumbers.value co "0001"', 'phoneNumbers.value eq "+15550001"'],
      [`id eq "${ids.get('jsmith')}"`, `id eq "${ids.get('bjensen')!.toUpperCase()}"`, `id eq "${ids.get('twin')}"`, 'id eq "not-a-uuid"'],
      [`groups.value eq "${groupSales}"`, `groups.value eq "${groupEmpty}"`],
      [`${ENT}:department eq "sales"`, `${ENT}:department co "eer"`],
    ];
    for (const terms of cases) {
      const expected = await oneByOne(terms);
      expect(await userNames(terms.join(' or ')), terms.join(' or ')).to.deep.equal(expected);
      expect(await userNames(`not (${terms.join(' or ')})`), `not (${terms.join(' or ')})`).to.deep.equal(all().filter((n) => !expected.includes(n)));
    }
    // Beside other conditions and in another account's query.
    expect(await userNames('emails.value co "smith" or emails.value eq "a@x.com" or active eq false')).to.deep.equal(
      await oneByOne(['emails.value co "smith"', 'emails.value eq "a@x.com"', 'active eq false']),
    );
    expect(await select('users', userMap, 'user_name', 'emails.value eq "twin@x.com" or emails.value eq "a@x.com"', accountB)).to.deep.equal(['bjensen']);
  });

  it('when an or whose every branch an index answers reads emails, phone numbers or extensions (IndexedOr), then it matches what exists matches', async () => {
    const indexedOr = (filter: string) => compileFilter(parseScimFilter(filter), userMap, { accountId: accountA }).sql.includes('= any(array(');
    const cases: [string, string[], boolean][] = [
      // [filter, users, read through the account's index rather than exists]
      ['emails.value sw "A@X" or userName sw "zzz"', ['bjensen', 'swapped'], true],
      ['emails.value eq "MIXED@example.com" or userName eq "nobody"', ['MixedCase'], true],
      ['emails eq "b@y.com" or emails eq "john@x.com" or userName eq "gen01"', ['bjensen', 'gen01', 'jsmith'], true],
      ['emails.value sw "p%" or userName sw "zzz"', ['percent%_user'], true],
      ['emails.value sw "p_" or userName sw "zzz"', [], true],
      // One and the same element: swapped has a@x.com.au at home, b@y.com.au at work.
      ['emails[type eq "work" and value sw "a@"] or userName sw "zzz"', ['bjensen'], true],
      ['emails[type eq "home" and value sw "a@"] or userName sw "zzz"', ['swapped'], true],
      ['emails[value sw "a@" or value sw "b@"] or userName eq "gen02"', ['bjensen', 'gen02', 'swapped'], true],
      ['phoneNumbers.value sw "+1555" or extensions sw "100"', ['bjensen', 'jsmith'], true],
      ['extensions eq "1002" or name.familyName sw "smithers"', ['asmithers', 'jsmith'], true],
      ['(emails.value sw "gen1" or userName sw "gen2") and active eq true', ['gen01', 'gen10', 'gen11'], true],
      ['emails.value sw "twin" or userName sw "twin"', [], true],
      // Not answered by an index: exists, as before.
      ['not (emails.value sw "a@" or userName sw "bj")', except('bjensen', 'swapped'), false],
      ['emails ne "a@x.com" and (emails.value sw "gen1" or userName sw "zzz")', gen((i) => i === 1 || i >= 10), true],
      ['emails.value sw "a@" or title eq "Engineer"', ['bjensen', 'jsmith', 'swapped'], false],
      ['emails.value co "@y.com" or userName sw "zzz"', ['asmithers', 'bjensen', 'swapped'], false],
      ['emails.value sw "a@"', ['bjensen', 'swapped'], false],
    ];
    for (const [filter, expected, indexed] of cases) {
      expect(await userNames(filter), filter).to.deep.equal([...expected].sort());
      expect(indexedOr(filter), `${filter}: read through the index`).to.equal(indexed);
    }
    expect(await select('users', userMap, 'user_name', 'emails.value sw "twin" or userName sw "zzz"', accountB)).to.deep.equal(['bjensen']);
  });

  it('when the other account is queried, then only its own users match', async () => {
    expect(await select('users', userMap, 'user_name', 'userName eq "bjensen"', accountB)).to.deep.equal(['bjensen']);
    expect(await select('users', userMap, 'user_name', 'emails.value eq "a@x.com"', accountB)).to.deep.equal([]);
    expect(await select('users', userMap, 'user_name', 'extensions eq "1001"', accountB)).to.deep.equal(['bjensen']);
    expect(await select('users', userMap, 'user_name', `groups.value eq "${groupSales}"`, accountB)).to.deep.equal([]);
    expect(await userNames('emails.value eq "twin@x.com"')).to.deep.equal([]);
  });

  it('when groups are filtered by members, then member rows match', async () => {
    const groups = (filter: string) => select('groups', groupMap, 'display_name', filter);
    expect(await groups(`members.value eq "${ids.get('asmithers')}"`)).to.deep.equal(['Sales Team']);
    expect(await groups(`members eq "${ids.get('jsmith')}"`)).to.deep.equal([]);
    expect(await groups(`members[value eq "${ids.get('bjensen')}" and type eq "user"]`)).to.deep.equal(['Sales Team']);
    expect(await groups('members[display eq "babs jensen"]')).to.deep.equal(['Sales Team']);
    expect(await groups('not (members pr)')).to.deep.equal(['Empty']);
    expect(await groups('displayName sw "sales"')).to.deep.equal(['Sales Team']);
    expect(await groups('externalId eq "g-1"')).to.deep.equal([]);
    expect(await groups(`id eq "${groupEmpty}"`)).to.deep.equal(['Empty']);
  });

  it('when numbers and uuid columns of a column mapping are filtered, then they compare numerically and safely', async () => {
    const accounts = columnMapping(resourceTypes.account, 'a', {
      id: 'a.id', name: 'a.name', type: 'a.type', parentId: 'a.parent_id', userCount: userCountSql('a.id'), 'meta.created': 'a.created_at',
    });
    const run = async (filter: string) => {
      const { sql, bindings } = compileFilter(parseScimFilter(filter), accounts);
      const result = await db.knex.raw(`select a.name from accounts a where a.id in (?, ?) and (${sql}) order by a.name`, [accountA, accountB, ...bindings] as Knex.RawBinding[]);
      return (result.rows as { name: string }[]).map((r) => r.name);
    };
    expect(await run('userCount gt 19')).to.deep.equal(['Acme']);
    expect(await run('userCount le 1')).to.deep.equal(['Other']);
    expect(await run('userCount eq 20')).to.deep.equal(['Acme']);
    expect(await run('userCount ge 1 and userCount lt 21')).to.deep.equal(['Acme', 'Other']);
    expect(await run('parentId eq "not-a-uuid"')).to.deep.equal([]);
    expect(await run(`parentId eq "${accountA}"`)).to.deep.equal(['Other']);
    expect(await run('parentId pr')).to.deep.equal(['Other']);
    expect(await run('name eq "ACME"')).to.deep.equal(['Acme']);
    expect(await run('type eq "CUSTOMER"')).to.deep.equal([]);
    expect(refused('userCount eq 1.5', accounts)).to.match(/is an integer/);
    expect(refused('userCount co 1', accounts)).to.match(/'co' is not defined for the number/);
    expect(refused('userCount gt "1"', accounts)).to.match(/is an integer/);
    expect(refused('settings.sso eq true', accounts)).to.match(/not filterable/);
  });

  it('when a filter names an unknown or unfilterable attribute, then it is invalidFilter naming it', () => {
    expect(refused('nope eq "x"')).to.equal("Unknown attribute 'nope' for resource type User");
    expect(refused('emails[nope eq "x"]')).to.match(/Unknown attribute 'emails.nope'/);
    expect(refused('password eq "x"')).to.match(/'password' is not filterable/);
    expect(refused('name eq "x"')).to.match(/'name' is complex/);
    expect(refused('userName[value eq "x"]')).to.match(/not a complex attribute/);
    expect(refused('userName eq 1')).to.match(/'userName' is a string attribute/);
    expect(refused('x509Certificates.value co "x"')).to.match(/not defined for the binary attribute/);
  });

  it('when sorting, then every expression runs and multi-valued attributes sort by their primary value', async () => {
    const order = async (sortBy: string, filter = 'userName pr') => {
      const sort = sortExpression(userMap, sortBy);
      const { sql, bindings } = compileFilter(parseScimFilter(filter), userMap);
      const result = await db.knex.raw(
        `select u.user_name from users u where u.account_id = ? and (${sql}) order by ${sort.sql} nulls last, u.user_name`,
        [accountA, ...bindings] as Knex.RawBinding[],
      );
      return (result.rows as { user_name: string }[]).map((r) => r.user_name);
    };
    expect(await order('userName', 'userName sw "b" or userName sw "j" or userName sw "m"')).to.deep.equal(['bjensen', 'jsmith', 'MixedCase']);
    // swapped's primary email is its second one.
    expect(await order('emails', 'userName eq "bjensen" or userName eq "swapped" or userName eq "jsmith"')).to.deep.equal(['bjensen', 'swapped', 'jsmith']);
    expect(await order('emails.value', 'userName eq "jsmith" or userName eq "swapped"')).to.deep.equal(['swapped', 'jsmith']);
    expect(await order('phoneNumbers', 'userName eq "noemail" or userName eq "bjensen"')).to.deep.equal(['bjensen', 'noemail']);
    expect(await order('roles', 'roles pr')).to.deep.equal(['bjensen', 'swapped']);
    expect(await order('emails.type', 'userName eq "bjensen" or userName eq "swapped" or userName eq "asmithers"')).to.deep.equal(['asmithers', 'swapped', 'bjensen']);
    expect(await order('meta.lastModified', 'title pr')).to.deep.equal(['percent%_user', 'bjensen', 'jsmith']);
    expect(await order(`${ENT}:department`, 'title pr')).to.deep.equal(['jsmith', 'bjensen', 'percent%_user']);
    expect(sortExpression(userMap, 'meta.lastModified').type).to.equal('dateTime');
    expect(() => sortExpression(userMap, 'smsNumber')).to.throw(DomainError, 'Users cannot be ordered by smsNumber');
    expect(() => sortExpression(userMap, `${SB}:SMSNUMBER`)).to.throw(DomainError, 'Users cannot be ordered by smsNumber');
    for (const bad of ['nope', 'password', 'name']) {
      try {
        sortExpression(userMap, bad);
        throw new Error(`expected ${bad} to be refused`);
      } catch (error) {
        expect((error as DomainError).kind).to.equal('invalidValue');
      }
    }
  });
});

if (testDatabaseKind === 'postgres') {
  describe('SCIM filter to SQL: query plans (postgres)', () => {
    let db: TestDatabase;
    let accountId: string;
    const mapping = usersMapping('u');

    before(async () => {
      db = await createTestDatabase();
      [{ id: accountId }] = await db.knex('accounts').insert({ type: 'customer', name: 'Big' }).returning('id');
      await db.knex.raw(
        `insert into users (account_id, user_name, given_name, family_name, primary_email, data, resource)
         select ?, 'user' || i || '-' || md5(i::text), 'Given' || (i % 97), initcap(substr(md5('f' || i), 1, 8)), 'u' || i || '@' || md5(i::text) || '.example', '{}'::jsonb, '{}'::jsonb
         from generate_series(1, 5000) i`,
        [accountId],
      );
      await db.knex.raw(
        `insert into user_emails (account_id, user_id, position, value, type, is_primary)
         select account_id, id, 0, primary_email, 'work', true from users where account_id = ?`,
        [accountId],
      );
      await db.knex.raw(
        `insert into user_phone_numbers (account_id, user_id, position, value, type, is_primary)
         select account_id, id, 0, '+3250' || (100000 + substr(user_name, 5, strpos(user_name, '-') - 5)::int), 'work', true from users where account_id = ?`,
        [accountId],
      );
      await db.knex.raw(
        `insert into user_extensions (account_id, user_id, number)
         select account_id, id, (10000 + substr(user_name, 5, strpos(user_name, '-') - 5)::int)::text from users where account_id = ?`,
        [accountId],
      );
      // VACUUM as well as ANALYZE: right after a bulk insert the GIN indexes hold their new entries in the
      // pending list (fastupdate), which the planner prices high enough to prefer a sequential scan.
      await db.knex.raw('vacuum analyze users');
      await db.knex.raw('vacuum analyze user_emails');
      await db.knex.raw('vacuum analyze user_phone_numbers');
      await db.knex.raw('vacuum analyze user_extensions');
    });

    after(async () => {
      await db?.close();
    });

    // Compiled as a list compiles it: for the account listed (FilterScope).
    const compiled = (filter: string) => compileFilter(parseScimFilter(filter), mapping, { accountId });

    async function plan(filter: string): Promise<string> {
      const { sql, bindings } = compiled(filter);
      const result = await db.knex.raw(`explain select u.id from users u where u.account_id = ? and (${sql})`, [accountId, ...bindings] as Knex.RawBinding[]);
      return (result.rows as { 'QUERY PLAN': string }[]).map((r) => r['QUERY PLAN']).join('\n');
    }

    interface PlanNode { 'Actual Rows': number; 'Actual Loops': number; 'Rows Removed by Filter'?: number; 'Rows Removed by Index Recheck'?: number; Plans?: PlanNode[] }
    /** The rows the statement read: each node's output and what its filters threw away, over its loops (EXPLAIN ANALYZE). */
    async function rowsRead(filter: string): Promise<number> {
      const { sql, bindings } = compiled(filter);
      const result = await db.knex.raw(`explain (analyze, format json) select u.id from users u where u.account_id = ? and (${sql})`, [accountId, ...bindings] as Knex.RawBinding[]);
      const [{ Plan: root }] = (result.rows as { 'QUERY PLAN': { Plan: PlanNode }[] }[])[0]!['QUERY PLAN'];
      const read = (node: PlanNode): number => node['Actual Loops'] * (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0))
        + (node.Plans ?? []).reduce((n, child) => n + read(child), 0);
      return read(root);
    }

    it('when emails.value co is filtered, then the email trigram index is used', async () => {
      expect(await plan('emails.value co "xyz"')).to.include('user_emails_lower_value_trgm_idx');
    });

    it('when name.familyName sw is filtered, then the family name trigram index is used', async () => {
      expect(await plan('name.familyName sw "Smi"')).to.include('users_lower_family_name_trgm_idx');
    });

    it('when an or joins emails.value co terms, then they are one search of the email trigram index, not one sub-query each', async () => {
      const filter = Array.from({ length: 10 }, (_, i) => `emails.value co "${i}${i}${i}x"`).join(' or ');
      const shown = await plan(filter);
      expect(shown).to.include('user_emails_lower_value_trgm_idx');
      expect(shown).not.to.include('SubPlan');
      expect(compileFilter(parseScimFilter(filter), mapping).sql.match(/exists/g)).to.have.length(1);
    });

    it('when userName eq is filtered, then it is one probe of a lower(user_name) btree of the account (the unique one or the prefix one)', async () => {
      expect(await plan('userName eq "User42-x"')).to.match(/Index (Only )?Scan using users_account_id_lower_user_name(_pattern)?_idx/);
    });

    it('when userName sw is filtered, then it is a range of the account\'s userName prefix index, not a trigram search', async () => {
      const shown = await plan('userName sw "User42-"');
      expect(shown).to.include('users_account_id_lower_user_name_pattern_idx');
      expect(shown).to.include("~>=~ 'user42-'");
      expect(shown).not.to.include('users_lower_user_name_trgm_idx');
    });

    it('when the console\'s search with "@" (emails.value sw or userName sw) is filtered, then both are index ranges of the account and a handful of its 5,000 rows are read', async () => {
      const filter = 'emails.value sw "u4217@" or userName sw "u4217@"';
      const shown = await plan(filter);
      expect(shown).to.include('user_emails_account_id_lower_value_pattern_idx').and.include('users_account_id_lower_user_name_pattern_idx').and.include('BitmapOr');
      expect(shown).not.to.include('Seq Scan').and.not.to.include('SubPlan');
      // An exists here was a sub-plan tested against every user of the account: 5,000 rows read, 4,999 thrown away.
      expect(await rowsRead(filter)).to.be.at.most(10);
    });

    it('when an identity provider looks an address up (emails.value eq or userName eq), then the email is one probe of the account\'s email index', async () => {
      const [{ email }] = (await db.knex.raw('select primary_email as email from users where account_id = ? and user_name like ?', [accountId, 'user4217-%'])).rows as { email: string }[];
      const filter = `emails.value eq "${email.toUpperCase()}" or userName eq "nobody"`;
      expect(await plan(filter)).to.match(/user_emails_account_id_lower_value(_pattern)?_idx/).and.not.include('Seq Scan');
      expect(await rowsRead(filter)).to.be.at.most(10);
    });

    it('when extensions sw or phoneNumbers.value sw is filtered in an or, then each is a range of its prefix index within the account', async () => {
      const filter = 'extensions sw "14217" or phoneNumbers.value sw "+3250104217" or userName sw "user4217-"';
      const shown = await plan(filter);
      expect(shown).to.include('user_extensions_account_id_number_pattern_idx').and.include('user_phone_numbers_account_id_value_pattern_idx');
      expect(shown).not.to.include('Seq Scan');
      expect(await rowsRead(filter)).to.be.at.most(20);
    });

    it('when the console\'s search (displayName co or userName sw) is filtered, then each branch is read from its index, neither scans the account', async () => {
      const shown = await plan('displayName co "carol" or userName sw "user4217-"');
      expect(shown).to.include('users_lower_display_name_trgm_idx').and.include('users_account_id_lower_user_name_pattern_idx');
      expect(shown).not.to.include('Seq Scan');
    });
  });
}

// The same reads on tables no ANALYZE has seen (autovacuum off, or a bulk load it has not caught up with), on both
// engines: what the planner picks from the tables' sizes alone must still read the matching users, not the account.
describe('SCIM filter to SQL: userName reads without statistics', () => {
  let db: TestDatabase;
  let accountId: string;
  const mapping = usersMapping('u');

  before(async () => {
    db = await createTestDatabase();
    [{ id: accountId }] = (await db.knex('accounts').insert({ type: 'customer', name: 'Big' }).returning('id')) as { id: string }[];
    await db.knex.raw(
      `insert into users (account_id, user_name, given_name, family_name, primary_email, data, resource)
       select ?, 'user' || i || '-' || md5(i::text), 'Given' || (i % 97), initcap(substr(md5('f' || i), 1, 8)), 'u' || i || '@example.com', '{}'::jsonb, '{}'::jsonb
         from generate_series(1, 5000) i`,
      [accountId],
    );
  });

  after(async () => {
    await db?.close();
  });

  async function read(filter: string): Promise<{ plan: PlanNode; ids: string[] }> {
    const { sql, bindings } = compileFilter(parseScimFilter(filter), mapping);
    const statement = `select u.id from users u where u.account_id = ? and (${sql})`;
    const plan = await analyse(db.knex, statement, [accountId, ...bindings]);
    const ids = ((await db.knex.raw(statement, [accountId, ...bindings] as Knex.RawBinding[])) as { rows: { id: string }[] }).rows.map((r) => r.id);
    return { plan, ids };
  }

  it('when userName eq is filtered, then one user is read by the (account, lower(userName)) key', async () => {
    const { plan, ids } = await read('userName eq "USER4217-none"');
    expect(ids).to.deep.equal([]);
    expect(rowsRead(plan, 'users')).to.be.at.most(1);
    const [{ user_name: userName }] = (await db.knex('users').where({ account_id: accountId }).whereRaw("user_name like 'user4217-%'").select('user_name')) as { user_name: string }[];
    const found = await read(`userName eq "${userName!.toUpperCase()}"`);
    expect(found.ids).to.have.length(1);
    expect(rowsRead(found.plan, 'users')).to.equal(1);
  });

  it('when userName sw is filtered, then only the users of the prefix are read (a range of the prefix index)', async () => {
    // user42-… and user420…user4299-…: 1 + 10 + 100 users of 5,000.
    const { plan, ids } = await read('userName sw "user42"');
    expect(ids).to.have.length(111);
    expect(rowsRead(plan, 'users')).to.equal(111);
    expect(indexesUsed(plan)).to.include('users_account_id_lower_user_name_pattern_idx');
  });
});
