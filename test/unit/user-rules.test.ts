import { expect } from 'chai';
import { defaultSettings, type Account } from '../../src/domain/account.js';
import { DomainError } from '../../src/domain/errors.js';
import type { Writer } from '../../src/domain/ownership.js';
import {
  adminEntryViolation, deleteDecision, deletesAfterGrace, lastAdminViolation, licenceAssignmentPlan, licenceChanges, licenseRuleViolation, linkEmailDecision,
  mivbDeploymentDecision, mivbUsernameViolation, normaliseMobile, PARTNER_WELCOME_REASON, seatViolation, adminOnlyRightsViolation, keepAdminOnlyAttributes, smsAssignmentPlan,
  smsNumberRuleViolation, sourceKindDeletePolicy, unregisteredDocument, welcomesOnCreate,
} from '../../src/domain/user-rules.js';

const SW = 'urn:switchboard:scim:schemas:extension:2.0:User';
const admin: Writer = { type: 'admin', via: 'token', actor: 'admin@example.com' };
const ldap: Writer = { type: 'source', actor: 'source:l', sourceId: 'l', kind: 'ldap' };

function account(overrides: Partial<Account> = {}, settings: Partial<Account['settings']> = {}): Account {
  return {
    id: 'a', parentId: null, type: 'customer', name: 'Contoso', externalId: null, settings: { ...defaultSettings(), ...settings },
    subscriptions: [], userCount: 0, version: 1, createdAt: new Date(0), updatedAt: new Date(0), ...overrides,
  };
}
const user = (ext: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({ userName: 'ann@example.com', ...extra, ...(Object.keys(ext).length ? { [SW]: ext } : {}) });
const meetings = account({ subscriptions: [{ product: 'MiTeam Meetings', seats: 2 }] }, { miTeamMeetings: true });

describe('the seed\'s user rules (pure, domain/user-rules.ts)', () => {
  it('when an admin creates a user without First Name, Last Name or a valid Email, then the New User form names what to fix', () => {
    expect(adminEntryViolation(undefined, { userName: 'x', emails: [{ value: 'x@example.com' }] })).to.match(/givenName \(First Name\) is mandatory/);
    expect(adminEntryViolation(undefined, { userName: 'x', name: { givenName: 'A', familyName: 'B' } })).to.match(/emails \(Email\) is mandatory/);
    expect(adminEntryViolation(undefined, { userName: 'x', name: { givenName: 'A', familyName: 'B' }, emails: [{ value: 'x@' }] })).to.match(/not a valid email/);
    expect(adminEntryViolation(undefined, { userName: 'x', name: { givenName: 'A', familyName: 'B' }, emails: [{ value: 'x@example.com' }] })).to.equal(undefined);
  });

  it('when a mobile number is written nationally with its country, then it is stored in E.164; an invalid one is refused', () => {
    const doc = user({ mobileNumber: '0470 12 34 56', mobileCountry: 'BE' });
    normaliseMobile(doc);
    expect((doc[SW] as Record<string, unknown>).mobileNumber).to.equal('+32470123456');
    expect(() => normaliseMobile(user({ mobileNumber: '12' }))).to.throw(DomainError, /not a valid phone number/);
  });

  it('when MiTeam Meetings is licensed, then the integration, MiCollab, the subscription and the account type are checked', () => {
    expect(licenseRuleViolation(meetings, 'miteam meetings')).to.equal(undefined);
    expect(licenseRuleViolation(account({ subscriptions: meetings.subscriptions }), 'MiTeam Meetings')).to.match(/integration turned on/);
    expect(licenseRuleViolation(account({ subscriptions: meetings.subscriptions }, { miTeamMeetings: true, miCollab: true }), 'MiTeam Meetings')).to.match(/MiCollab/);
    expect(licenseRuleViolation(account({ type: 'partner' }, { miTeamMeetings: true }), 'MiTeam Meetings')).to.match(/partner account/);
    expect(licenseRuleViolation(account(), 'Other')).to.match(/no subscription for Other/);
  });

  it('when licences change, then added products count once whatever their case, and the last seat is refused once taken', () => {
    expect(licenceChanges(user({ licenses: ['A'] }), user({ licenses: ['a', 'B', 'b'] }))).to.deep.equal({ added: ['B'], removed: [] });
    expect(licenceChanges(user({ licenses: ['A'] }), user())).to.deep.equal({ added: [], removed: ['A'] });
    expect(seatViolation(meetings, 'MiTeam Meetings', 1)).to.equal(undefined);
    expect(seatViolation(meetings, 'MiTeam Meetings', 2)).to.equal('No MiTeam Meetings seat left: all 2 are assigned');
  });

  it('when an SMS number is set, then Twilio with User Numbers must be on and the number in the pool', () => {
    expect(smsNumberRuleViolation(account(), '+3225550000')).to.match(/Twilio integration/);
    const twilio = account({}, { twilio: { enabled: true, userNumbers: true, smsPool: ['+3225550000'] } });
    expect(smsNumberRuleViolation(twilio, '+3225550000')).to.equal(undefined);
    expect(smsNumberRuleViolation(twilio, '+3225550001')).to.match(/not in the account's pool/);
  });

  it('when the MiVB username is set without the MiVoice Business service, then it is refused; with the service it is kept', () => {
    expect(mivbUsernameViolation({}, user({ username: 'ann' }))).to.match(/mivbService/);
    expect(mivbUsernameViolation({}, user({ username: 'ann', mivbService: true }))).to.equal(undefined);
    expect(mivbUsernameViolation(user({ username: 'ann' }), user({ username: 'ann' }))).to.equal(undefined);
  });

  it('when the last account admin loses the right or is deleted, then it is refused; with another admin it is not', () => {
    expect(lastAdminViolation(user({ accountAdmin: true }), user(), 0)).to.match(/last account admin/);
    expect(lastAdminViolation(user({ accountAdmin: true }), undefined, 0)).to.match(/last account admin/);
    expect(lastAdminViolation(user({ accountAdmin: true }), user(), 1)).to.equal(undefined);
    expect(lastAdminViolation(user(), user(), 0)).to.equal(undefined);
  });

  it('when a user token edits its own rights through /Me or an identity provider sets them, then each changed right is named; an echo is not refused', () => {
    expect(adminOnlyRightsViolation('user', user({ licenses: ['A', 'B'] }), user({ licenses: ['B', 'A'], accountAdmin: false }))).to.equal(undefined);
    const detail = adminOnlyRightsViolation('user', user(), user({ accountAdmin: true, smsNumber: '+3225550000' }));
    expect(detail).to.match(/^A user token cannot change its own/).and.to.contain(`${SW}:accountAdmin`).and.to.contain(`${SW}:smsNumber`).and.not.to.contain('licenses');
    expect(adminOnlyRightsViolation('provisioning', user(), user({ licenses: ['A'] }))).to.match(/^A provisioning token \(an identity provider\) cannot change/);
  });

  it('when an identity provider sends a whole user without the admin-only rights, then the ones the user has are kept', () => {
    const next = user({ title: 'x' });
    keepAdminOnlyAttributes(user({ accountAdmin: true, licenses: ['A'] }), next);
    expect(next[SW]).to.deep.equal({ title: 'x', accountAdmin: true, licenses: ['A'] });
  });

  it('when an admin deletes, then the outcome follows each linked source kind\'s declared policy, partners and the last admin refused', () => {
    const links = (...kinds: (keyof typeof sourceKindDeletePolicy)[]) => kinds.map((k, i) => ({ sourceId: `s${i}`, sourceKind: k }));
    expect(deleteDecision({ writer: admin, links: [], user: user(), accountType: 'customer' })).to.equal('delete');
    expect(deleteDecision({ writer: admin, links: links('ldap'), user: user(), accountType: 'customer' })).to.equal('unregister');
    expect(deleteDecision({ writer: admin, links: links('mivb', 'csv'), user: user(), accountType: 'customer' })).to.equal('unregister');
    expect(deleteDecision({ writer: admin, links: links('csv'), user: user(), accountType: 'customer' })).to.equal('delete');
    expect((deleteDecision({ writer: admin, links: links('ldap', 'micloud'), user: user(), accountType: 'customer' }) as DomainError).detail).to.match(/MiCloud Connect/);
    expect((deleteDecision({ writer: admin, links: [], user: user(), accountType: 'partner' }) as DomainError).detail).to.match(/Mitel Partner/);
    expect((deleteDecision({ writer: admin, links: [], user: user({ accountAdmin: true }), accountType: 'customer', otherAdmins: 0 }) as DomainError).detail).to.match(/last account admin/);
  });

  it('when a source no longer lists a user past the grace period, then its kind decides: MiCloud Connect users stay, others are deleted', () => {
    expect(deletesAfterGrace('micloud')).to.equal(false);
    expect(deletesAfterGrace('ldap')).to.equal(true);
    expect(deletesAfterGrace('mivb')).to.equal(true);
  });

  it('when a source deletes its user, then the user goes, or only its link while another source feeds it', () => {
    expect(deleteDecision({ writer: ldap, links: [{ sourceId: 'l', sourceKind: 'ldap' }], user: user() })).to.equal('delete');
    expect(deleteDecision({ writer: ldap, links: [{ sourceId: 'l', sourceKind: 'ldap' }, { sourceId: 'm', sourceKind: 'mivb' }], user: user() })).to.equal('unlink');
  });

  it('when a user loses its platform account, then its licences and SMS number go and the rest stays', () => {
    expect(unregisteredDocument(user({ licenses: ['A'], smsNumber: '+1', extensions: ['1'] }))).to.deep.equal(user({ extensions: ['1'] }));
    expect(unregisteredDocument(user({ licenses: ['A'] }))).to.deep.equal(user());
  });

  it('when emails are due, then partners get no welcome, SSO defers resets, only registered users get one, MiVB needs the service and no OIG voicemail', () => {
    expect(welcomesOnCreate(admin)).to.equal(true);
    expect(welcomesOnCreate(ldap)).to.equal(false);
    expect(linkEmailDecision('sendWelcomeEmail', account({ type: 'partner' }), false)).to.deep.equal({ outcome: 'skipped', reason: PARTNER_WELCOME_REASON });
    expect(linkEmailDecision('sendWelcomeEmail', account(), false)).to.equal(undefined);
    expect(linkEmailDecision('resetPassword', account({}, { sso: true }), true)?.outcome).to.equal('deferred');
    expect(linkEmailDecision('resetPassword', account(), false)?.outcome).to.equal('skipped');
    expect(linkEmailDecision('resetPassword', account(), true)).to.equal(undefined);
    expect(mivbDeploymentDecision(account(), user())?.reason).to.match(/MiVoice Business service/);
    expect(mivbDeploymentDecision(account({}, { oigInCluster: true }), user({ mivbService: true, voicemail: true }))?.reason).to.match(/OIG/);
    expect(mivbDeploymentDecision(account(), user({ mivbService: true, voicemail: true }))).to.equal(undefined);
  });

  it('when licences are assigned to a selection, then holders are skipped and fewer seats than needed assign nothing', () => {
    const users = [{ id: '1', doc: user({ licenses: ['MiTeam Meetings'] }) }, { id: '2', doc: user() }, { id: '3', doc: user() }];
    const plan = licenceAssignmentPlan(meetings, 'MiTeam Meetings', users, true, 0);
    expect(plan).not.to.be.instanceOf(DomainError);
    expect((plan as { change: { id: string }[] }).change.map((u) => u.id)).to.deep.equal(['2', '3']);
    expect((licenceAssignmentPlan(meetings, 'MiTeam Meetings', users, true, 1) as DomainError).detail).to.match(/Not enough MiTeam Meetings licences: 1 of 2 available, 2 selected/);
    expect((licenceAssignmentPlan(meetings, 'MiTeam Meetings', users, false, 5) as { change: { id: string }[] }).change.map((u) => u.id)).to.deep.equal(['1']);
  });

  it('when SMS numbers are assigned, then each user without a pool number gets a distinct free one, or nothing when too few are free', () => {
    const twilio = account({}, { twilio: { enabled: true, userNumbers: true, smsPool: ['+1', '+2', '+3'] } });
    const users = [{ id: '1', doc: user({ smsNumber: '+1' }) }, { id: '2', doc: user() }, { id: '3', doc: user() }];
    const plan = smsAssignmentPlan(twilio, users, true, ['+1']) as { change: { id: string }[]; free: string[]; skipped: { userId: string }[] };
    expect(plan.change.map((u) => u.id)).to.deep.equal(['2', '3']);
    expect(plan.free).to.deep.equal(['+2', '+3']);
    expect(plan.skipped.map((s) => s.userId)).to.deep.equal(['1']);
    expect((smsAssignmentPlan(twilio, users, true, ['+1', '+2']) as DomainError).detail).to.match(/Not enough free SMS numbers: 1 free/);
    expect((smsAssignmentPlan(account(), users, true, []) as DomainError).detail).to.match(/Twilio integration/);
  });
});
