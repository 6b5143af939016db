import { expect } from 'chai';
import type { Writer } from '../../src/domain/ownership.js';
import { DomainError } from '../../src/domain/errors.js';
import type { Trx } from '../../src/db/database.js';
import { usersRepo, type StoredUser } from '../../src/db/users-repo.js';
import { UserService, type WriteRequest } from '../../src/services/user-service.js';
import { createAccountWithToken, createTestApp, type TestApp } from '../support/test-app.js';

type Doc = Record<string, unknown>;
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';

/** An operation of a scenario: the user it changes (by userName at the start, or none to create) and its next document. */
interface Op {
  user?: string;
  next: Doc;
  writer?: 'ldap' | 'csv' | 'admin';
  anchor?: string;
  password?: string;
}

const doc = (userName: string, extra: Doc = {}): Doc => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName,
  emails: [{ value: userName, type: 'work', primary: true }],
  ...extra,
});

/**
 * write() of a batch must answer and store exactly what apply (a write of one) called once per item (catching its DomainError) does.
 * Each scenario runs both ways, in two fresh accounts seeded alike, and the outcomes and stored state are compared.
 */
describe('UserService.write: a batch has the same outcome as its items written one by one', () => {
  let t: TestApp;
  let users: UserService;

  before(async () => {
    t = await createTestApp();
    users = new UserService(t.deps.db.knex, t.clock);
  });
  after(async () => {
    await t.close();
  });

  async function seeded(seed: Doc[]) {
    const { accountId } = await createAccountWithToken(t, { name: `Batch ${Math.random()}`, type: 'customer' });
    // Rules that need the account's facts: one MiTeam Meetings seat left after the seed's, two SMS pool numbers.
    await t.deps.db.knex('accounts').where({ id: accountId }).update({
      settings: JSON.stringify({ miTeamMeetings: true, twilio: { enabled: true, userNumbers: true, smsPool: ['+3225550100', '+3225550101'] } }),
    });
    await t.deps.db.knex('account_subscriptions').insert({ account_id: accountId, product: 'MiTeam Meetings', seats: 2 });
    const [ldap] = await t.deps.db.knex('sources').insert({ account_id: accountId, name: 'ldap', kind: 'ldap', config: '{}' }).returning('id');
    const [csv] = await t.deps.db.knex('sources').insert({ account_id: accountId, name: 'csv', kind: 'csv', config: '{}' }).returning('id');
    const writers: Record<string, Writer> = {
      ldap: { type: 'source', actor: 'source:ldap', sourceId: (ldap as { id: string }).id, kind: 'ldap' },
      csv: { type: 'source', actor: 'source:csv', sourceId: (csv as { id: string }).id, kind: 'csv' },
      admin: { type: 'admin', via: 'token', actor: 'admin@example.com' },
    };
    await users.transaction(async (trx) => {
      for (const [i, d] of seed.entries()) await users.apply(trx, accountId, writers.ldap!, undefined, d, { anchor: `seed${i}`, raw: { seed: i } });
    });
    return { accountId, writers };
  }

  async function currentOf(trx: Trx, accountId: string, userName: string | undefined): Promise<StoredUser | undefined> {
    if (!userName) return undefined;
    const row = (await trx('users').where({ account_id: accountId }).whereRaw('lower(user_name) = ?', [userName.toLowerCase()]).first('id')) as { id: string } | undefined;
    return row ? usersRepo.findById(trx, accountId, row.id) : undefined;
  }

  /** What an account holds, without ids and timestamps: comparable across the two accounts. */
  async function stateOf(accountId: string) {
    const knex = t.deps.db.knex;
    const names = new Map<string, string>();
    const rows = (await knex('users').where({ account_id: accountId }).orderBy('user_name')) as { id: string; user_name: string; data: Doc; version: number; source: string; sms_number: string | null }[];
    for (const r of rows) names.set(r.id, r.user_name);
    const name = (id: string) => names.get(id) ?? id;
    const emails = ((await knex('user_emails').where({ account_id: accountId })) as { user_id: string; value: string; position: number; is_primary: boolean }[])
      .map((r) => `${name(r.user_id)}:${r.position}:${r.value}:${r.is_primary}`).sort();
    const phones = ((await knex('user_phone_numbers').where({ account_id: accountId })) as { user_id: string; value: string }[]).map((r) => `${name(r.user_id)}:${r.value}`).sort();
    const extensions = ((await knex('user_extensions').where({ account_id: accountId })) as { user_id: string; number: string }[]).map((r) => `${name(r.user_id)}:${r.number}`).sort();
    const links = ((await knex('user_source_links').where({ account_id: accountId })) as { user_id: string; source_kind: string; anchor: string; owned_attributes: string[]; raw: Doc; attributes: Doc; hash: string | null }[])
      .map((r) => JSON.stringify([name(r.user_id), r.source_kind, /^[0-9a-f-]{36}$/.test(r.anchor) ? name(r.anchor) : r.anchor, [...r.owned_attributes].sort(), r.raw, r.attributes, r.hash]))
      .sort();
    const audit = ((await knex('audit_log').where({ account_id: accountId }).whereLike('action', 'user.%').orderBy('id')) as { action: string; actor: string; target_id: string; details: Doc }[])
      .map((r) => JSON.stringify([r.action, r.actor, name(r.target_id), r.details]));
    return {
      users: rows.map((r) => JSON.stringify([r.user_name, r.data, r.version, r.source, r.sms_number])),
      emails, phones, extensions, links, audit,
    };
  }

  // The two runs use two accounts: ids in error details (the owning source's) differ by construction.
  function summary(outcome: { ok: true; created: boolean; changed: string[]; ignored: string[]; userName: unknown } | { ok: false; error: string }) {
    return JSON.stringify(outcome).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');
  }

  async function compare(seed: Doc[], ops: Op[]) {
    // One by one through apply.
    const one = await seeded(seed);
    const oneOutcomes: string[] = [];
    await users.transaction(async (trx) => {
      for (const op of ops) {
        const current = await currentOf(trx, one.accountId, op.user);
        try {
          const r = await users.apply(trx, one.accountId, one.writers[op.writer ?? 'ldap']!, current, op.next, {
            ...(op.anchor ? { anchor: op.anchor, raw: { anchor: op.anchor } } : {}), ...(op.password ? { password: op.password } : {}),
          });
          oneOutcomes.push(summary({ ok: true, created: r.created, changed: r.changed, ignored: r.ignored, userName: r.user.doc.userName }));
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          oneOutcomes.push(summary({ ok: false, error: `${error.kind}: ${error.detail}` }));
        }
      }
    });
    // All at once through write (one writer per call: consecutive ops of one writer go together).
    const many = await seeded(seed);
    const manyOutcomes: string[] = [];
    await users.transaction(async (trx) => {
      let i = 0;
      while (i < ops.length) {
        const writer = ops[i]!.writer ?? 'ldap';
        const slice: Op[] = [];
        while (i < ops.length && (ops[i]!.writer ?? 'ldap') === writer) slice.push(ops[i++]!);
        const items: WriteRequest[] = [];
        for (const op of slice) {
          items.push({
            current: await currentOf(trx, many.accountId, op.user), next: op.next,
            ...(op.anchor ? { anchor: op.anchor, raw: { anchor: op.anchor } } : {}), ...(op.password ? { password: op.password } : {}),
          });
        }
        for (const r of await users.write(trx, many.accountId, many.writers[writer]!, items)) {
          manyOutcomes.push(
            r.ok
              ? summary({ ok: true, created: r.result.created, changed: r.result.changed, ignored: r.result.ignored, userName: r.result.user.doc.userName })
              : summary({ ok: false, error: `${r.error.kind}: ${r.error.detail}` }),
          );
        }
      }
    });
    expect(manyOutcomes).to.deep.equal(oneOutcomes);
    expect(await stateOf(many.accountId)).to.deep.equal(await stateOf(one.accountId));
    return { outcomes: manyOutcomes.map((s) => JSON.parse(s) as { ok: boolean; error?: string }), accountId: many.accountId };
  }

  it('when new users are created in a batch, then users, rows, links and audit entries are those of apply', async () => {
    const { outcomes } = await compare([], [
      { next: doc('ann@example.com', { name: { givenName: 'Ann' }, phoneNumbers: [{ value: '+3225550101', type: 'work' }] }), anchor: 'a' },
      { next: doc('bob@example.com', { [SWITCHBOARD]: { mobileNumber: '+32 470 12 34 56' } }), anchor: 'b' },
      { next: doc('cid@example.com', { emails: [{ value: 'cid@example.com' }, { value: 'CID@example.com' }, { value: 'c2@example.com', primary: true }] }), anchor: 'c' },
    ]);
    expect(outcomes.every((o) => o.ok)).to.equal(true);
  });

  it('when two items of a batch claim one userName or email, then the later one is a uniqueness error and the others are written', async () => {
    const { outcomes } = await compare([doc('old@example.com')], [
      { next: doc('ann@example.com'), anchor: 'a' },
      { next: doc('ANN@example.com', { emails: [{ value: 'other@example.com' }] }), anchor: 'b' },
      { next: doc('bob@example.com', { emails: [{ value: 'Ann@Example.com' }] }), anchor: 'c' },
      { next: doc('new@example.com', { emails: [{ value: 'old@example.com' }] }), anchor: 'd' },
      { next: doc('fine@example.com'), anchor: 'e' },
    ]);
    expect(outcomes.map((o) => o.ok)).to.deep.equal([true, false, false, false, true]);
    expect(outcomes[1]!.error).to.equal('uniqueness: One or more of the attribute values are already in use: userName');
    expect(outcomes[2]!.error).to.match(/emails \(ann@example\.com\)/i);
  });

  it('when an earlier item gives up a value, then a later one may take it; a value taken before it is given up is a conflict', async () => {
    const { outcomes } = await compare([doc('x@example.com'), doc('w@example.com'), doc('v@example.com')], [
      // A later item takes what an earlier one gives up: allowed, as one after the other.
      { user: 'x@example.com', next: doc('y@example.com'), anchor: 'seed0' },
      { user: 'w@example.com', next: doc('x@example.com'), anchor: 'seed1' },
      { next: doc('w@example.com'), anchor: 'new-w' },
      // Taken before it is given up: a conflict.
      { next: doc('v2@example.com', { emails: [{ value: 'v@example.com' }] }), anchor: 'new-v' },
      { user: 'v@example.com', next: doc('v@example.com', { emails: [{ value: 'v3@example.com' }] }), anchor: 'seed2' },
    ]);
    expect(outcomes.map((o) => o.ok)).to.deep.equal([true, true, true, false, true]);
  });

  it('when items change existing users, then changes, unchanged items, ownership and the audit log are those of apply', async () => {
    const { outcomes } = await compare([doc('ann@example.com', { title: 'Dev' }), doc('bob@example.com')], [
      { user: 'ann@example.com', next: doc('ann@example.com', { title: 'Lead' }), anchor: 'seed0' },
      { user: 'bob@example.com', next: doc('bob@example.com'), anchor: 'seed1' },
      // Another source writing an attribute LDAP owns: ignored, not refused.
      { user: 'bob@example.com', next: doc('bob@example.com', { title: 'CSV title', emails: [{ value: 'csv@example.com' }] }), writer: 'csv', anchor: 'csv-bob' },
      // An admin changing an attribute LDAP owns: refused.
      { user: 'ann@example.com', next: doc('renamed@example.com'), writer: 'admin' },
      // An admin sending LDAP's values unchanged (emails in another key order than jsonb keeps) and an unowned nickName: kept.
      { user: 'ann@example.com', next: doc('ann@example.com', { title: 'Lead', nickName: 'A' }), writer: 'admin' },
      { next: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: ' ' }, writer: 'admin' },
    ]);
    expect(outcomes.map((o) => o.ok)).to.deep.equal([true, true, true, false, true, false]);
    expect(outcomes[3]!.error).to.match(/^mutability: /);
  });

  it("when an admin's batch lacks the New User form's fields, then each such item is refused as apply refuses it; a source is not held to the form", async () => {
    const named = { name: { givenName: 'Ann', familyName: 'Example' } };
    const { outcomes } = await compare([doc('seeded@example.com')], [
      { next: doc('ann@example.com', named), writer: 'admin' },
      { next: doc('bob@example.com'), writer: 'admin' },
      { next: doc('cid@example.com', { ...named, emails: [{ value: 'cid@' }] }), writer: 'admin' },
      { next: doc('dan@example.com', { ...named, emails: [] }), writer: 'admin' },
      // An admin editing a user LDAP created without names: the names it never had are not asked for.
      { user: 'seeded@example.com', next: doc('seeded@example.com', { nickName: 'S' }), writer: 'admin' },
      { next: doc('eve@example.com'), anchor: 'e' },
    ]);
    expect(outcomes.map((o) => o.ok)).to.deep.equal([true, false, false, false, true, true]);
    expect(outcomes[1]!.error).to.equal('invalidValue: name.givenName (First Name) is mandatory for a new user');
    expect(outcomes[2]!.error).to.match(/^invalidValue: "cid@" is not a valid email address/);
    expect(outcomes[3]!.error).to.match(/^invalidValue: emails \(Email\) is mandatory/);
  });

  it('when one anchor comes twice in a batch, then the second item is written after the first (the link moves), as apply does', async () => {
    const { outcomes } = await compare([doc('old@example.com')], [
      { next: doc('ann@example.com'), anchor: 'a' },
      { next: doc('bob@example.com'), anchor: 'a' },
      { user: 'old@example.com', next: doc('old@example.com', { title: 'T' }), anchor: 'seed0' },
      { next: doc('cid@example.com'), anchor: 'seed0' },
    ]);
    expect(outcomes.every((o) => o.ok)).to.equal(true);
  });

  it('when a batch takes licence seats, SMS pool numbers and admin rights, then each item is refused or written as one by one would: the seat, the number and the last admin counted as the batch goes', async () => {
    const named = (userName: string, ext: Doc = {}) => doc(userName, { name: { givenName: 'A', familyName: 'B' }, [SWITCHBOARD]: ext });
    const { outcomes } = await compare([named('held@example.com', { licenses: ['MiTeam Meetings'], accountAdmin: true }), named('adm@example.com', { accountAdmin: true })], [
      { next: named('one@example.com', { licenses: ['MiTeam Meetings'] }), writer: 'admin' },
      { next: named('two@example.com', { licenses: ['miteam meetings'] }), writer: 'admin' },
      // Gives up its seat and its admin right: the seat is free for the next item; one admin is left.
      { user: 'held@example.com', next: named('held@example.com'), writer: 'admin' },
      { next: named('three@example.com', { licenses: ['MiTeam Meetings'], smsNumber: '+3225550100' }), writer: 'admin' },
      { next: named('four@example.com', { smsNumber: '+3225550100' }), writer: 'admin' },
      { next: named('five@example.com', { smsNumber: '+3225559999' }), writer: 'admin' },
      { user: 'adm@example.com', next: named('adm@example.com'), writer: 'admin' },
      { next: named('six@example.com'), writer: 'admin', password: 'short' },
      { next: named('seven@example.com'), writer: 'admin', password: 'long enough' },
    ]);
    expect(outcomes.map((o) => o.ok)).to.deep.equal([true, false, true, true, false, false, false, false, true]);
    expect(outcomes[1]!.error).to.equal('invalidValue: No miteam meetings seat left: all 2 are assigned');
    expect(outcomes[4]!.error).to.match(/^uniqueness: .*smsNumber \(\+3225550100\)/);
    expect(outcomes[5]!.error).to.match(/not in the account's pool/);
    expect(outcomes[6]!.error).to.match(/last account admin/);
    expect(outcomes[7]!.error).to.match(/at least 8 characters/);
  });
});
