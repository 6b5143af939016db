/**
 * The seed's Users page as the API serves it (managing-users.txt): its columns ("the list of users, user's email
 * address, the extension numbers, modified on and by, configured licenses, and the role assigned to the user"),
 * its Property, Product and SMS Number filters and their exclusions, Search Users, "You cannot order users by SMS
 * Number", and the email that must not be "already assigned to an existing user in the customer account".
 */
import { usersRepo } from '../../src/db/users-repo.js';
import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const TOKEN = 'urn:switchboard:scim:schemas:core:2.0:Token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const MTM = 'MiTeam Meetings';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe(`seed: the Users page, its columns, filters and search (${testDatabaseKind})`, () => {
  let t: TestApp;
  let a: { accountId: string; token: string };
  let adminTokenId: string;
  const ids: Record<string, string> = {};
  const pool = ['+14155550171', '+14155550172'];

  const base = () => `/accounts/${a.accountId}/scim/v2`;
  const auth = (token = a.token) => ({ Authorization: `Bearer ${token}`, 'Content-Type': scimJson });
  const names = async (filter: string): Promise<string[]> => {
    const res = await t.request.get(`${base()}/Users`).query({ filter, attributes: 'userName', count: 100 }).set(auth());
    expect(res.status, `${filter}: ${JSON.stringify(res.body)}`).to.equal(200);
    return (res.body.Resources as Json[]).map((r) => String(r.userName).split('@')[0]!).sort();
  };

  before(async () => {
    t = await createTestApp({ PUBLIC_URL: 'http://switchboard.test' });
    a = await createAccountWithToken(t, { name: 'Users Page', type: 'customer' });
    adminTokenId = ((await t.db.knex('tokens').where({ account_id: a.accountId, role: 'account-admin' }).first('id')) as { id: string }).id;
    const settings = await t.request.patch(`/scim/v2/Accounts/${a.accountId}`).set(auth(t.operatorToken)).send({
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { settings: { miTeamMeetings: true, twilio: { enabled: true, userNumbers: true, smsPool: pool } }, subscriptions: [{ product: MTM, seats: 5 }] } }],
    });
    expect(settings.status, JSON.stringify(settings.body)).to.equal(200);
    const people: [string, string, string, Json][] = [
      ['ann', 'Ann', 'Anders', { accountAdmin: true, extensions: ['1001'], licenses: [MTM] }],
      ['bob', 'Bob', 'Brown', { extensions: ['2002', '2003'], smsNumber: pool[0] }],
      ['cat', 'Cat', 'Carter', { licenses: [MTM] }],
      ['dan', 'Dan', 'Dunne', {}],
      ['eve', 'Eve', 'Evans', {}],
    ];
    for (const [userName, givenName, familyName, ext] of people) {
      const res = await t.request.post(`${base()}/Users`).set(auth()).send({
        schemas: [USER, EXT], userName: `${userName}@page.test`, name: { givenName, familyName }, displayName: `${givenName} ${familyName}`,
        emails: [{ value: `${userName}@page.test`, primary: true }], ...(Object.keys(ext).length ? { [EXT]: ext } : {}),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      ids[userName] = res.body.id as string;
    }
    await t.db.knex('users').where({ account_id: a.accountId }).whereIn('id', [ids.ann, ids.bob]).update({ registered: true }); // A registered user, short of the registration flow: its stored representation follows.
    await usersRepo.refreshResources(t.db.knex, a.accountId, [ids.ann, ids.bob]);
    const off = await t.request.patch(`${base()}/Users/${ids.eve}`).set(auth()).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] });
    expect(off.status).to.equal(200);
    // dan is a PBX user, cat a MiCloud Connect user.
    for (const [user, kind] of [['dan', 'mivb'], ['cat', 'micloud']] as const) {
      const [source] = await t.db.knex('sources').insert({ account_id: a.accountId, name: `${kind} source`, kind }).returning('id');
      await t.db.knex('user_source_links').insert({
        account_id: a.accountId, user_id: ids[user], source_id: (source as { id: string }).id, source_kind: kind, anchor: `${kind}-${user}`,
        owned_attributes: [], attributes: JSON.stringify({}), raw: JSON.stringify({}),
      });
    }
  });
  after(async () => t?.close());

  it('when the list is read, then each user carries the columns: email, extensions, modified on and by, licences and the role', async () => {
    const res = await t.request.get(`${base()}/Users`).query({ filter: 'userName sw "ann" or userName sw "bob"', sortBy: 'userName' }).set(auth());
    expect(res.status).to.equal(200);
    const [ann, bob] = res.body.Resources as Json[];
    expect(ann!.emails).to.deep.equal([{ value: 'ann@page.test', primary: true }]);
    expect(ann![EXT]).to.include({ accountAdmin: true, modifiedBy: `account-admin:${adminTokenId}` });
    expect(ann![EXT].extensions).to.deep.equal(['1001']);
    expect(ann![EXT].licenses).to.deep.equal([MTM]);
    expect(Date.parse(ann!.meta.lastModified)).to.be.a('number').and.not.NaN;
    expect(bob![EXT].extensions).to.deep.equal(['2002', '2003']);
    expect(bob![EXT].accountAdmin ?? false, 'the role of a user without the toggle is User').to.equal(false);

    // Modified on and by follow the last change, and name whoever made it.
    const other = await t.request.post(`${base()}/Tokens`).set(auth()).send({ schemas: [TOKEN], role: 'account-admin' });
    t.clock.advance(60_000);
    const edit = await t.request.patch(`${base()}/Users/${ids.bob}`).set(auth(other.body.token as string)).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Buyer' }] });
    expect(edit.status).to.equal(200);
    expect(edit.body[EXT].modifiedBy).to.equal(`account-admin:${other.body.id}`);
    expect(Date.parse(edit.body.meta.lastModified)).to.be.greaterThan(Date.parse(bob!.meta.lastModified));
  });

  it('when the Property filter is used, then Admins, Users, Registered, Unregistered, PBX Users, MiCloud Connected, IoT Connected and Inactive select exactly those users', async () => {
    expect(await names('accountAdmin eq true')).to.deep.equal(['ann']);
    expect(await names('accountAdmin eq false')).to.deep.equal(['bob', 'cat', 'dan', 'eve']);
    expect(await names('registered eq true')).to.deep.equal(['ann', 'bob']);
    expect(await names('registered eq false')).to.deep.equal(['cat', 'dan', 'eve']);
    expect(await names('connections.pbx eq true')).to.deep.equal(['dan']);
    expect(await names('connections.micloud eq true')).to.deep.equal(['cat']);
    expect(await names('connections.iot eq true')).to.deep.equal([]);
    expect(await names('active eq false')).to.deep.equal(['eve']);
  });

  it('when the Product filter names a licence, then the users licensed for it are listed', async () => {
    expect(await names(`${EXT}:licenses eq "${MTM}"`)).to.deep.equal(['ann', 'cat']);
    expect(await names('licenses eq "miteam meetings"')).to.deep.equal(['ann', 'cat']);
  });

  it('when the SMS Number filter is used, then it finds the holder, and it cannot be combined with the Property filter or Search Users', async () => {
    expect(await names(`smsNumber eq "${pool[0]}"`)).to.deep.equal(['bob']);
    for (const [filter, words] of [
      [`smsNumber eq "${pool[0]}" and accountAdmin eq true`, /Property filter/],
      [`smsNumber eq "${pool[0]}" and active eq false`, /Property filter/],
      [`smsNumber eq "${pool[0]}" or registered eq true`, /Property filter/],
      [`smsNumber eq "${pool[0]}" and name.givenName sw "b"`, /Search Users/],
      [`smsNumber eq "${pool[0]}" and emails.value co "page"`, /Search Users/],
      [`smsNumber eq "${pool[0]}" and extensions sw "20"`, /Search Users/],
    ] as const) {
      const res = await t.request.get(`${base()}/Users`).query({ filter }).set(auth());
      expect(res.status, filter).to.equal(400);
      expect(res.body.scimType, filter).to.equal('invalidFilter');
      expect(res.body.detail, filter).to.match(words);
    }
  });

  it('when Search Users is typed (name, email address or extension), then matching users are listed as the letters come', async () => {
    expect(await names('name.givenName sw "a" or name.familyName sw "a" or displayName sw "a"')).to.deep.equal(['ann']);
    expect(await names('name.familyName sw "car"')).to.deep.equal(['cat']);
    expect(await names('emails.value sw "bo"')).to.deep.equal(['bob']);
    expect(await names('emails.value co "page.te"')).to.deep.equal(['ann', 'bob', 'cat', 'dan', 'eve']);
    expect(await names('extensions sw "200"')).to.deep.equal(['bob']);
    expect(await names('extensions eq "1001"')).to.deep.equal(['ann']);
  });

  it('when users are ordered by SMS Number, then 400 naming it; other columns order the list', async () => {
    for (const sortBy of ['smsNumber', `${EXT}:smsNumber`]) {
      const res = await t.request.get(`${base()}/Users`).query({ sortBy }).set(auth());
      expect(res.status, sortBy).to.equal(400);
      expect(res.body.detail).to.match(/smsNumber/);
    }
    const byName = await t.request.get(`${base()}/Users`).query({ sortBy: 'name.familyName', sortOrder: 'descending', attributes: 'userName' }).set(auth());
    expect((byName.body.Resources as Json[]).map((r) => r.userName)).to.deep.equal(['eve@page.test', 'dan@page.test', 'cat@page.test', 'bob@page.test', 'ann@page.test']);
  });

  it('when an email is already assigned to a user of the customer account, then 409 with the seed message; another account may use it', async () => {
    const dup = await t.request.post(`${base()}/Users`).set(auth()).send({ schemas: [USER], userName: 'someone-else', name: { givenName: 'Some', familyName: 'One' }, emails: [{ value: 'ANN@page.test' }] });
    expect(dup.status).to.equal(409);
    expect(dup.body.scimType).to.equal('uniqueness');
    expect(dup.body.detail).to.contain('One or more of the attribute values are already in use');
    const edit = await t.request.patch(`${base()}/Users/${ids.dan}`).set(auth()).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'emails', value: [{ value: 'bob@page.test', primary: true }] }] });
    expect(edit.status).to.equal(409);
    expect((await t.request.get(`${base()}/Users/${ids.dan}`).set(auth())).body.emails).to.deep.equal([{ value: 'dan@page.test', primary: true }]);
    const other = await createAccountWithToken(t, { name: 'Other Page', type: 'customer' });
    const elsewhere = await t.request.post(`/accounts/${other.accountId}/scim/v2/Users`).set(auth(other.token)).send({ schemas: [USER], userName: 'ann@page.test', name: { givenName: 'Ann', familyName: 'Other' }, emails: [{ value: 'ann@page.test' }] });
    expect(elsewhere.status, JSON.stringify(elsewhere.body)).to.equal(201);
  });

  it('when the Manage panel asks how many MiTeam Meetings licences are left, then the account service counts seats, assigned and available', async () => {
    const principal = { tokenId: adminTokenId, accountId: a.accountId, accountType: 'customer' as const, role: 'account-admin' as const };
    expect(await t.deps.accounts.licenceUsage(principal, a.accountId)).to.deep.equal([{ product: MTM, seats: 5, assigned: 2, available: 3 }]);
  });
});
