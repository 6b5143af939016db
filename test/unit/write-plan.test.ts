import { expect } from 'chai';
import { defaultSettings, type Account } from '../../src/domain/account.js';
import { DomainError } from '../../src/domain/errors.js';
import type { Writer } from '../../src/domain/ownership.js';
import { factsNeeded, planWrites, prepareWrite, type CurrentUser, type PlanOutcome, type WriteFacts, type WriteItem } from '../../src/domain/write-plan.js';

const SW = 'urn:switchboard:scim:schemas:extension:2.0:User';
const admin: Writer = { type: 'admin', actor: 'admin@example.com' };
const ldap: Writer = { type: 'source', actor: 'source:l', sourceId: 'l', kind: 'ldap' };
const doc = (userName: string, extra: Record<string, unknown> = {}) => ({ userName, name: { givenName: 'A', familyName: 'B' }, emails: [{ value: userName }], ...extra });
const current = (id: string, d: Record<string, unknown>, version = 1): CurrentUser => ({ id, doc: d, version });
const account: Account = {
  id: 'a', parentId: null, type: 'customer', name: 'C', externalId: null, settings: { ...defaultSettings(), miTeamMeetings: true },
  subscriptions: [{ product: 'MiTeam Meetings', seats: 1 }], userCount: 0, version: 1, createdAt: new Date(0), updatedAt: new Date(0),
};

/** Plans items with the facts factsNeeded asks for, answered from `known`. */
function plan(writer: Writer, items: WriteItem[], known: Omit<WriteFacts, 'now' | 'newId'> = {}): PlanOutcome[] {
  let n = 0;
  const prepared = items.map((item) => prepareWrite(writer, item));
  return planWrites(writer, prepared, { ...known, now: new Date(0), newId: () => `new-${++n}` });
}
const errors = (outcomes: PlanOutcome[]) => outcomes.map((o) => (o.ok ? null : `${o.error.kind}: ${o.error.detail}`));

describe('the write plan (pure, domain/write-plan.ts)', () => {
  it('when a new user is planned, then it is an insert with its audit entry and a fresh id; a source writer gets its link claiming what it sent', () => {
    const [one] = plan(ldap, [{ current: undefined, next: doc('ann@example.com', { title: 'Dev' }), links: [], anchor: 'a1', raw: { dn: 'x' } }]);
    expect(one!.ok).to.equal(true);
    const w = (one as { write: NonNullable<PlanOutcome & { ok: true }>['write'] }).write;
    expect(w.user).to.equal('insert');
    expect(w.id).to.equal('new-1');
    expect(w.audit?.action).to.equal('user.create');
    expect(w.link).to.include({ anchor: 'a1', sourceKind: 'ldap' });
    expect(w.link!.ownedAttributes).to.include.members(['userName', 'name', 'emails', 'title']);
  });

  it('when nothing changes, then the users row is left alone (no audit) and a source still refreshes its link', () => {
    const d = doc('ann@example.com');
    const [one] = plan(ldap, [{ current: current('u1', { ...d, schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] }), next: d, links: [], anchor: 'a1' }]);
    expect(one!.ok && one.write.user).to.equal('none');
    expect(one!.ok && one.write.audit).to.equal(undefined);
    expect(one!.ok && one.write.link?.anchor).to.equal('a1');
  });

  it('when If-Match names another version, then the write is refused before anything else', () => {
    expect(errors(plan(admin, [{ current: current('u1', doc('a@example.com'), 3), next: { userName: '' }, links: [], ifMatch: 2 }]))[0]).to.match(/^preconditionFailed/);
  });

  it('when an admin changes a source-owned attribute, then the refusal names the source; the facts asked for are the source names only', () => {
    const item: WriteItem = { current: current('u1', doc('a@example.com', { title: 'Dev' })), next: doc('a@example.com', { title: 'Boss' }), links: [{ sourceId: 'l', sourceKind: 'ldap', anchor: 'x', ownedAttributes: ['title'] }] };
    const needs = factsNeeded(admin, [prepareWrite(admin, item) as Exclude<ReturnType<typeof prepareWrite>, DomainError>]);
    expect(needs).to.deep.include({ sourceNames: ['l'], account: false, accountAdmins: false });
    expect(errors(plan(admin, [item], { sourceNames: new Map([['l', 'Corporate LDAP']]) }))[0]).to.match(/^mutability: Cannot change title \(owned by source "Corporate LDAP", ldap, id l\)/);
  });

  it('when another source writes an attribute LDAP owns, then it is ignored and counted, not refused', () => {
    const csv: Writer = { type: 'source', actor: 'source:c', sourceId: 'c', kind: 'csv' };
    const [one] = plan(csv, [{
      current: current('u1', doc('a@example.com', { title: 'Dev' })), next: doc('a@example.com', { title: 'CSV' }),
      links: [{ sourceId: 'l', sourceKind: 'ldap', anchor: 'x', ownedAttributes: ['title'] }],
    }]);
    expect(one!.ok && one.write.ignored).to.deep.equal(['title']);
    expect(one!.ok && one.write.next.title).to.equal('Dev');
  });

  it('when items of a batch take one seat, then the first takes it and the next is refused; giving one up earlier frees it', () => {
    const licensed = (userName: string) => doc(userName, { [SW]: { licenses: ['MiTeam Meetings'] } });
    const items: WriteItem[] = [
      { current: undefined, next: licensed('a@example.com'), links: [] },
      { current: undefined, next: licensed('b@example.com'), links: [] },
    ];
    const needs = factsNeeded(admin, items.map((i) => prepareWrite(admin, i) as Exclude<ReturnType<typeof prepareWrite>, DomainError>));
    expect(needs).to.deep.include({ lockAccount: true, licenceHolders: ['MiTeam Meetings'] });
    expect(errors(plan(admin, items, { account, licenceHolders: new Map([['miteam meetings', 0]]) }))).to.deep.equal([null, 'invalidValue: No MiTeam Meetings seat left: all 1 are assigned']);
    const freed = plan(admin, [{ current: current('u0', licensed('z@example.com')), next: doc('z@example.com'), links: [] }, items[1]!], { account, licenceHolders: new Map([['miteam meetings', 1]]) });
    expect(errors(freed)).to.deep.equal([null, null]);
  });

  it('when two admins lose the right in one batch with no third, then the second is the last admin and is refused', () => {
    const adminDoc = (userName: string) => doc(userName, { [SW]: { accountAdmin: true } });
    const outcomes = plan(admin, [
      { current: current('u1', adminDoc('a@example.com')), next: doc('a@example.com'), links: [] },
      { current: current('u2', adminDoc('b@example.com')), next: doc('b@example.com'), links: [] },
    ], { accountAdmins: 2 });
    expect(errors(outcomes)).to.deep.equal([null, 'invalidValue: This is the last account admin of the account; make another user an account admin first']);
  });

  it('when unique values move within a batch, then a value given up earlier is free and one taken earlier is a conflict', () => {
    const holders = [
      { attribute: 'userName' as const, key: 'x@example.com', value: 'x@example.com', userId: 'u1' },
      { attribute: 'emails' as const, key: 'x@example.com', value: 'X@example.com', userId: 'u1' },
    ];
    const outcomes = plan(ldap, [
      { current: undefined, next: doc('n@example.com', { emails: [{ value: 'x@example.com' }] }), links: [] },
      { current: current('u1', doc('x@example.com')), next: doc('y@example.com'), links: [] },
      { current: undefined, next: doc('x@example.com'), links: [] },
      { current: undefined, next: doc('X@example.com', { emails: [{ value: 'other@example.com' }] }), links: [] },
    ], { uniqueHolders: holders });
    expect(errors(outcomes)).to.deep.equal(['uniqueness: One or more of the attribute values are already in use: emails (X@example.com)', null, null, 'uniqueness: One or more of the attribute values are already in use: userName']);
  });

  it('when an earlier batch\'s new users may not be committed yet, then their unique values are taken and their admins count, whether the facts show them or not', () => {
    const adminDoc = (userName: string) => doc(userName, { [SW]: { accountAdmin: true } });
    const uncommittedUsers = [{ id: 'p1', doc: doc('p@example.com', { [SW]: { extensions: ['7000'], accountAdmin: true } }) }];
    const items: WriteItem[] = [
      { current: undefined, next: doc('q@example.com', { [SW]: { extensions: ['7000'] } }), links: [] },
      { current: undefined, next: doc('p@example.com'), links: [] },
      { current: current('u1', adminDoc('a@example.com')), next: doc('a@example.com'), links: [] },
    ];
    const expected = ['uniqueness: One or more of the attribute values are already in use: extensions (7000)', 'uniqueness: One or more of the attribute values are already in use: userName', null];
    // Read before the earlier batch committed: no holder, one admin (u1), the new admin p1 still to come.
    expect(errors(plan(admin, items, { accountAdmins: 1, uncommittedUsers }))).to.deep.equal(expected);
    // Read after it committed: p1 holds its values and is counted; the same outcomes.
    const holders = [
      { attribute: 'extensions' as const, key: '7000', value: '7000', userId: 'p1' },
      { attribute: 'userName' as const, key: 'p@example.com', value: 'p@example.com', userId: 'p1' },
    ];
    expect(errors(plan(admin, items, { accountAdmins: 2, uniqueHolders: holders, uncommittedUsers }))).to.deep.equal(expected);
    // Without them, the same batch passes: it is the earlier batch that takes the values.
    expect(errors(plan(admin, items, { accountAdmins: 1 }))).to.deep.equal([null, null, 'invalidValue: This is the last account admin of the account; make another user an account admin first']);
  });

  it('when a password is given, then a short one is refused and a good one makes an update even with no other change', () => {
    const d = doc('a@example.com');
    expect(errors(plan(admin, [{ current: current('u1', d), next: d, links: [], password: 'short' }]))[0]).to.match(/at least 8 characters/);
    const [ok] = plan(admin, [{ current: current('u1', { ...d, schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] }), next: d, links: [], password: 'long enough' }]);
    expect(ok!.ok && ok.write.user).to.equal('update');
  });

  it('when a synced user loses its platform account, then the write clears registration and password and is audited as an unregistration', () => {
    const d = doc('a@example.com', { [SW]: { licenses: ['Gone product'] } });
    const [one] = plan(admin, [{ current: current('u1', d), next: doc('a@example.com'), links: [], unregister: true }]);
    expect(one!.ok).to.equal(true);
    expect(one!.ok && one.write).to.deep.include({ registered: false, passwordHash: null, user: 'update' });
    expect(one!.ok && one.write.audit?.action).to.equal('user.unregister');
  });
});
