import { expect } from 'chai';
import { createAccountWithToken, createTestApp, formFields, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/**
 * Microsoft Entra ID writes booleans as the strings "True" / "False" (Known issues with SCIM 2.0 protocol
 * compliance) and targets app roles with `roles[primary eq "True"].value`; RFC 7644 §3.4.2.2 compValues are JSON
 * (escapes decoded). List filters and PATCH path filters read values alike, through one parser.
 */
describe(`Identity providers: boolean strings and JSON values in filters and PATCH paths (${testDatabaseKind})`, () => {
  let t: TestApp;
  let h: Record<string, string>;
  let base: string;
  let activeId: string;
  before(async () => {
    t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Literal Co', type: 'customer' });
    h = { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/scim+json' };
    base = `/accounts/${a.accountId}/scim/v2`;
    const on = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'on@literal.example', name: { givenName: 'On', familyName: 'Literal' }, active: true, emails: [{ value: 'on@literal.example', type: 'work', primary: true }] });
    expect(on.status).to.equal(201);
    activeId = on.body.id;
    const off = await t.request.post(`${base}/Users`).set(h).send({ schemas: [USER], userName: 'off@literal.example', ...formFields('off@literal.example'), active: false });
    expect(off.status).to.equal(201);
  });
  after(async () => t.close());

  const total = async (filter: string) => {
    const res = await t.request.get(`${base}/Users`).query({ filter, count: 0 }).set(h);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.totalResults as number;
  };

  it('when a boolean attribute is compared with the string "True" or "false", then it is read as the boolean', async () => {
    expect(await total('active eq "False"')).to.equal(1);
    expect(await total('emails[primary eq "True"].value eq "on@literal.example"')).to.equal(1);
  });

  it('when a boolean is compared with another string, then 400 invalidFilter still says what to write', async () => {
    const res = await t.request.get(`${base}/Users`).query({ filter: 'active eq "yes"' }).set(h);
    expect(res.status).to.equal(400);
    expect(res.body.scimType).to.equal('invalidFilter');
    expect(res.body.detail).to.match(/true or false/);
  });

  it('when Entra targets roles[primary eq "True"].value, then the role is created once and later replaced in place', async () => {
    const add = await t.request.patch(`${base}/Users/${activeId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'Add', path: 'roles[primary eq "True"].value', value: 'Admin' }] });
    expect(add.status, JSON.stringify(add.body)).to.equal(200);
    expect(add.body.roles).to.deep.equal([{ value: 'Admin', primary: true }]);
    const replace = await t.request.patch(`${base}/Users/${activeId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'Replace', path: 'roles[primary eq "True"].value', value: 'Reader' }] });
    expect(replace.body.roles).to.deep.equal([{ value: 'Reader', primary: true }]);
  });

  it('when a PATCH path filter value holds JSON escapes, then they are decoded before matching', async () => {
    const seeded = await t.request.patch(`${base}/Users/${activeId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'add', path: 'entitlements', value: [{ value: 'say "café"' }, { value: 'plain' }] }] });
    expect(seeded.status).to.equal(200);
    const res = await t.request.patch(`${base}/Users/${activeId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'remove', path: 'entitlements[value eq "say \\"caf\\u00e9\\""]' }] });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.entitlements).to.deep.equal([{ value: 'plain' }]);
  });

  it('when a PATCH path filter is malformed, then 400 invalidFilter names the problem and nothing changes', async () => {
    const before = await t.request.get(`${base}/Users/${activeId}`).set(h);
    const res = await t.request.patch(`${base}/Users/${activeId}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'emails[type eq work].value', value: 'x@literal.example' }] });
    expect(res.status).to.equal(400);
    expect(res.body.scimType).to.equal('invalidFilter');
    expect(res.body.detail).to.match(/Invalid value 'work'/);
    const after = await t.request.get(`${base}/Users/${activeId}`).set(h);
    expect(after.body.meta.version).to.equal(before.body.meta.version);
  });

  it('when a group member is removed with members[value EQ "id"], then the operator case does not matter', async () => {
    const g = await t.request.post(`${base}/Groups`).set(h).send({ schemas: [GROUP], displayName: 'Literal group', members: [{ value: activeId }] });
    const res = await t.request.patch(`${base}/Groups/${g.body.id}`).set(h).send({ schemas: [PATCH], Operations: [{ op: 'Remove', path: `members[value EQ "${activeId}"]` }] });
    expect(res.status).to.equal(204);
    const after = await t.request.get(`${base}/Groups/${g.body.id}`).set(h);
    expect(after.body.members).to.equal(undefined);
  });
});
