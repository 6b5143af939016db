import { expect } from 'chai';
import { createAccountWithToken, createTestApp, scimJson, type TestApp } from '../support/test-app.js';
import { testDatabaseKind } from '../support/test-database.js';
import { usersRepo } from '../../src/db/users-repo.js';

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BIG = 3_000;

/**
 * Issue 3: members are rows, so adding or removing one member costs the same in a group of thousands as in a
 * group of five: the same statements, none of them reading the existing members.
 */
describe(`SCIM groups: one member change costs the same at any group size (${testDatabaseKind})`, function () {
  let t: TestApp;
  let accountId: string;
  let token: string;
  let userIds: string[];

  before(async () => {
    t = await createTestApp({ BODY_LIMIT: '4mb' });
    ({ accountId, token } = await createAccountWithToken(t, { name: 'Scale Co', type: 'customer' }));
    const { rows } = (await t.deps.db.knex.raw(
      `insert into users (account_id, user_name, resource, data)
       select ?, 'member' || n || '@scale.example', '{}'::jsonb, jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'), 'userName', 'member' || n || '@scale.example')
         from generate_series(1, ?) as n
       returning id`,
      [accountId, BIG + 10],
    )) as { rows: { id: string }[] };
    userIds = rows.map((r) => r.id);
    // Rows written outside the write path: their stored representations rendered as writes leave them.
    await usersRepo.refreshResources(t.deps.db.knex, accountId, userIds);
  });
  after(async () => t.close());

  const request = (method: 'post' | 'patch', path: string, body: object) =>
    t.request[method](`/accounts/${accountId}/scim/v2${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', scimJson).send(body);

  /** Statements knex sends while `run` runs, with the most rows any of them returned. */
  async function observe(run: () => Promise<unknown>): Promise<{ statements: string[]; maxRows: number }> {
    const statements: string[] = [];
    let maxRows = 0;
    const onQuery = (q: { sql: string }) => statements.push(q.sql.replace(/\$\d+|\?/g, '?'));
    const onResponse = (response: unknown) => {
      const rows = Array.isArray(response) ? response : (response as { rows?: unknown[] } | undefined)?.rows;
      if (Array.isArray(rows)) maxRows = Math.max(maxRows, rows.length);
    };
    t.deps.db.knex.on('query', onQuery).on('query-response', onResponse);
    try {
      await run();
    } finally {
      t.deps.db.knex.removeListener('query', onQuery).removeListener('query-response', onResponse);
    }
    return { statements, maxRows };
  }

  it('when one member is added to and removed from a group of 3,000 and a group of 5, then both take the same statements and neither reads the members', async () => {
    const big = await request('post', '/Groups', { schemas: [GROUP], displayName: 'Big' });
    expect(big.status).to.equal(201);
    const filled = await request('patch', `/Groups/${big.body.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: userIds.slice(0, BIG).map((value) => ({ value })) }] });
    expect(filled.status, JSON.stringify(filled.body)).to.equal(204);
    const small = await request('post', '/Groups', { schemas: [GROUP], displayName: 'Small', members: userIds.slice(0, 5).map((value) => ({ value })) });
    expect(small.status).to.equal(201);

    const newcomer = userIds[BIG + 5]!;
    const change = async (groupId: string) => ({
      add: await observe(async () => {
        const res = await request('patch', `/Groups/${groupId}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: newcomer }] }] });
        expect(res.status).to.equal(204);
      }),
      remove: await observe(async () => {
        const res = await request('patch', `/Groups/${groupId}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${newcomer}"]` }] });
        expect(res.status).to.equal(204);
      }),
    });
    const inBig = await change(big.body.id as string);
    const inSmall = await change(small.body.id as string);
    expect(inBig.add.statements).to.deep.equal(inSmall.add.statements);
    expect(inBig.remove.statements).to.deep.equal(inSmall.remove.statements);
    for (const observed of [inBig.add, inBig.remove, inSmall.add, inSmall.remove]) expect(observed.maxRows).to.be.at.most(5);

    const count = async (groupId: string) => Number(((await t.deps.db.knex('group_members').where({ account_id: accountId, group_id: groupId }).count({ n: '*' })) as { n: string }[])[0]!.n);
    expect(await count(big.body.id as string)).to.equal(BIG);
    expect(await count(small.body.id as string)).to.equal(5);
  });
});
