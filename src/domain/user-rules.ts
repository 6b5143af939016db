/**
 * The rules of the product's Users page (the seed: README › Admin operations and Roles), each one pure function over facts: the write plan,
 * the Users page actions, the DELETE route and the /Me routes call these and nothing else decides them. The
 * facts (an account, a count of holders, the other admins) are gathered by services/rule-facts.ts.
 *
 * Where each rule lives:
 * - New User form (First Name, Last Name, valid Email; extension numbers): adminEntryViolation
 * - mobile number in E.164: normaliseMobile
 * - MiTeam Meetings and other licences (integration, MiCollab, subscription, partner): licenseRuleViolation
 * - seats: seatViolation (one user's edit), licenceAssignmentPlan (the assignLicense action)
 * - SMS numbers from the Twilio pool: smsNumberRuleViolation (an edit), smsAssignmentPlan (the actions)
 * - the MiVB username only with the MiVoice Business service: mivbUsernameViolation
 * - the last account admin: lastAdminViolation (an edit and a delete)
 * - /Me and identity providers: adminOnlyRightsViolation (rights only an admin gives), keepAdminOnlyAttributes,
 *   SELF_DELETE_REFUSAL
 * - delete per source kind: sourceKindDeletePolicy (data) and deleteDecision
 * - welcome, reset and MiVB deployment emails: linkEmailDecision, mivbDeploymentDecision, welcomesOnCreate
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { Account } from './account.js';
import { DomainError } from './errors.js';
import type { SourceKind, Writer } from './ownership.js';

export type JsonObject = Record<string, unknown>;
export const SWITCHBOARD_URN = 'urn:switchboard:scim:schemas:extension:2.0:User';
export const MITEAM_MEETINGS = 'MiTeam Meetings';

/** Extension attributes the server computes; whatever a client sends for them is dropped. */
export const computedExtensionAttributes = ['registered', 'source', 'lockedAttributes', 'modifiedBy', 'connections', 'advanced'] as const;

export function extensionOf(doc: JsonObject): JsonObject {
  return (doc[SWITCHBOARD_URN] as JsonObject | undefined) ?? {};
}

const PHONE_TEXT = /^\+?[\d\s().\/-]+$/;

/** mobileNumber in E.164 (libphonenumber-js), read in mobileCountry when written nationally. */
export function normaliseMobile(doc: JsonObject): void {
  const ext = extensionOf(doc);
  const raw = ext.mobileNumber;
  if (raw === undefined || raw === null || raw === '') {
    if (doc[SWITCHBOARD_URN]) {
      delete (doc[SWITCHBOARD_URN] as JsonObject).mobileNumber;
      delete (doc[SWITCHBOARD_URN] as JsonObject).mobileCountry;
    }
    return;
  }
  if (typeof raw !== 'string') throw new DomainError('invalidValue', 'mobileNumber must be a string');
  // libphonenumber finds a number inside any text ("+32 470 00 00 0x" reads as another, shorter number): only the
  // characters of a written phone number are accepted, so what is stored is what was sent.
  if (!PHONE_TEXT.test(raw)) {
    throw new DomainError('invalidValue', `mobileNumber "${raw.replace(/\u0000/g, '\\u0000')}" may hold only digits, spaces and + ( ) . - /; write it in E.164 form (e.g. +14155550123)`);
  }
  const country = typeof ext.mobileCountry === 'string' && ext.mobileCountry !== '' ? (ext.mobileCountry.toUpperCase() as CountryCode) : undefined;
  const parsed = parsePhoneNumberFromString(raw, country);
  if (!parsed || !parsed.isValid()) {
    throw new DomainError('invalidValue', `mobileNumber "${raw}" is not a valid phone number${country ? ` in ${country}` : ''}; write it in E.164 form (e.g. +14155550123) or set mobileCountry`);
  }
  const out = doc[SWITCHBOARD_URN] as JsonObject;
  out.mobileNumber = parsed.number;
  if (parsed.country) out.mobileCountry = parsed.country;
}

/** The seed's licensing rules for MiTeam Meetings: integration on, MiCollab off, a subscription, not a partner, within seats. */
export function licenseRuleViolation(account: Account, product: string): string | undefined {
  if (product.toLowerCase() !== MITEAM_MEETINGS.toLowerCase()) {
    const sub = account.subscriptions.find((s) => s.product.toLowerCase() === product.toLowerCase());
    return sub ? undefined : `The account has no subscription for ${product}`;
  }
  if (account.type === 'partner') return 'A partner account cannot be licensed for MiTeam Meetings';
  if (!account.settings.miTeamMeetings) return 'The account does not have the MiTeam Meetings integration turned on';
  if (account.settings.miCollab) return 'MiTeam Meetings licences cannot be managed while the MiCollab integration is on';
  const sub = account.subscriptions.find((s) => s.product.toLowerCase() === MITEAM_MEETINGS.toLowerCase());
  if (!sub || sub.seats < 1) return 'The account has no MiTeam Meetings subscription';
  return undefined;
}

export function seatsOf(account: Account, product: string): number {
  return account.subscriptions.find((s) => s.product.toLowerCase() === product.toLowerCase())?.seats ?? 0;
}

export function licensesOf(doc: JsonObject): string[] {
  const list = extensionOf(doc).licenses;
  return Array.isArray(list) ? list.map(String) : [];
}

export function smsNumberRuleViolation(account: Account, number: string): string | undefined {
  if (!account.settings.twilio.enabled || !account.settings.twilio.userNumbers) return TWILIO_OFF_REFUSAL;
  if (!account.settings.twilio.smsPool.includes(number)) return `SMS number ${number} is not in the account's pool`;
  return undefined;
}

/** An address with a local part, an @ and a dotted domain whose last label is not all digits. */
const EMAIL_PATTERN = /^[^\s@"(),:;<>[\]\\]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9-]{2,}$/;

export function isValidEmail(value: string): boolean {
  return EMAIL_PATTERN.test(value);
}

function emailValues(doc: JsonObject | undefined): string[] {
  const list = doc?.emails;
  if (!Array.isArray(list)) return [];
  return list.flatMap((e) => (e && typeof e === 'object' && typeof (e as JsonObject).value === 'string' && (e as JsonObject).value !== '' ? [String((e as JsonObject).value)] : []));
}

function nameOf(doc: JsonObject | undefined, part: 'givenName' | 'familyName'): string | undefined {
  const name = doc?.name;
  const value = name && typeof name === 'object' ? (name as JsonObject)[part] : undefined;
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * The seed's New User form, for what an admin writes (identity providers and directories send what they hold):
 * "Enter the First Name, Last Name, and Email address. These fields are mandatory", "Enter a valid email
 * address". A user an admin creates needs all three; an edit may not empty one the user has, and every address
 * it adds must be valid (one a source wrote earlier is left as it is). The detail says what to fix.
 */
export function adminEntryViolation(before: JsonObject | undefined, next: JsonObject): string | undefined {
  const fields = [
    ['givenName', 'name.givenName (First Name)'],
    ['familyName', 'name.familyName (Last Name)'],
  ] as const;
  for (const [part, label] of fields) {
    if (nameOf(next, part) !== undefined) continue;
    if (!before) return `${label} is mandatory for a new user`;
    if (nameOf(before, part) !== undefined) return `${label} is mandatory and cannot be emptied`;
  }
  const emails = emailValues(next);
  if (emails.length === 0) {
    if (!before) return 'emails (Email) is mandatory for a new user: give at least one address';
    if (emailValues(before).length > 0) return 'emails (Email) is mandatory and cannot be emptied';
  }
  const known = new Set(emailValues(before).map((e) => e.toLowerCase()));
  const invalid = emails.find((e) => !known.has(e.toLowerCase()) && !isValidEmail(e));
  if (invalid !== undefined) return `"${invalid}" is not a valid email address (write it as name@example.com)`;
  return extensionsViolation(before, next);
}

/** PBX extension numbers: digits only (1 to 15), each listed once per user; values a source wrote earlier are kept. */
export function extensionsViolation(before: JsonObject | undefined, next: JsonObject): string | undefined {
  const list = extensionOf(next).extensions;
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) return 'extensions must be a list of extension numbers';
  const earlier = new Set((Array.isArray(extensionOf(before ?? {}).extensions) ? (extensionOf(before ?? {}).extensions as unknown[]) : []).map(String));
  const seen = new Set<string>();
  for (const value of list) {
    const text = typeof value === 'string' ? value : String(value);
    if (!earlier.has(text) && !/^\d{1,15}$/.test(text)) return `extension "${text}" is not an extension number: use digits only (e.g. 2001)`;
    if (seen.has(text)) return `extension ${text} is listed twice`;
    seen.add(text);
  }
  return undefined;
}

/** Two product names are one product when they differ only in case. */
export function sameProduct(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The licences `next` adds to `before` (each product once) and those it removes. */
export function licenceChanges(before: JsonObject, next: JsonObject): { added: string[]; removed: string[] } {
  const has = (doc: JsonObject, product: string) => licensesOf(doc).some((l) => sameProduct(l, product));
  const added = licensesOf(next).filter((l, i, all) => !has(before, l) && all.findIndex((o) => sameProduct(o, l)) === i);
  const removed = licensesOf(before).filter((l) => !has(next, l));
  return { added, removed };
}

/** Seats: a user taking a licence needs a free one; `holders` is how many other users hold it now. */
export function seatViolation(account: Account, product: string, holders: number): string | undefined {
  const seats = seatsOf(account, product);
  return holders + 1 > seats ? `No ${product} seat left: all ${seats} are assigned` : undefined;
}

/** The SMS number a document holds, if any. */
export function smsNumberOf(doc: JsonObject): string | undefined {
  const sms = extensionOf(doc).smsNumber;
  return typeof sms === 'string' && sms !== '' ? sms : undefined;
}

/** The seed: the MiVB username field is enabled only once the MiVoice Business service is added to the user (admins' edits). */
export function mivbUsernameViolation(before: JsonObject, next: JsonObject): string | undefined {
  const username = extensionOf(next).username;
  if (username === undefined || username === extensionOf(before).username || extensionOf(next).mivbService === true) return undefined;
  return 'username (MiVB) can be set only when the MiVoice Business service (mivbService) is applied to the user';
}

export const LAST_ADMIN_REFUSAL = 'This is the last account admin of the account; make another user an account admin first';

export function isAccountAdmin(doc: JsonObject): boolean {
  return extensionOf(doc).accountAdmin === true;
}

/**
 * The last account admin: an admin's edit taking the right away, or a delete (`next` undefined), is refused when no
 * other user of the account is an admin. `otherAdmins`: the account's admins other than this user.
 */
export function lastAdminViolation(before: JsonObject, next: JsonObject | undefined, otherAdmins: number): string | undefined {
  if (!isAccountAdmin(before) || (next !== undefined && isAccountAdmin(next))) return undefined;
  return otherAdmins === 0 ? LAST_ADMIN_REFUSAL : undefined;
}

/** Whether an edit by this writer takes an account admin right away (then the other admins are a fact it needs). */
export function removesAdminRight(writer: Writer, before: JsonObject | undefined, next: JsonObject): boolean {
  return writer.type === 'admin' && before !== undefined && isAccountAdmin(before) && !isAccountAdmin(next);
}

/**
 * The rights the seed gives admins alone ("enable or disable administrative rights for a user ... assign products
 * and licenses"; SMS numbers come from the account's pool): a user token may edit its own profile through /Me but
 * not these. Compared by meaning, so a client echoing GET /Me back (accountAdmin false where the document has none,
 * licences in another order) is not refused.
 */
const adminOnlyAttributes: readonly { key: string; value: (doc: JsonObject) => string }[] = [
  { key: `${SWITCHBOARD_URN}:accountAdmin`, value: (doc) => String(isAccountAdmin(doc)) },
  { key: `${SWITCHBOARD_URN}:licenses`, value: (doc) => JSON.stringify([...licensesOf(doc)].sort()) },
  { key: `${SWITCHBOARD_URN}:smsNumber`, value: (doc) => smsNumberOf(doc) ?? '' },
];

/**
 * A `user` token changing its own admin-only rights through /Me, or an identity provider's `provisioning` token
 * setting them (roles, licences and SMS numbers are the account's business, not the directory's): the detail of
 * the 403, naming the attributes.
 */
export function adminOnlyRightsViolation(role: 'user' | 'provisioning', before: JsonObject, next: JsonObject): string | undefined {
  const refused = adminOnlyAttributes.filter((a) => a.value(before) !== a.value(next)).map((a) => a.key);
  if (refused.length === 0) return undefined;
  const them = refused.length > 1 ? 'them' : 'it';
  const who = role === 'user' ? 'A user token cannot change its own' : 'A provisioning token (an identity provider) cannot change';
  return `${who} ${refused.join(', ')}: an account admin assigns ${them}. Leave ${them} out of the PATCH, or send the current value in a PUT`;
}

/** The admin-only extension attributes an identity provider's whole user leaves out keep their current values. */
export function keepAdminOnlyAttributes(before: JsonObject, next: JsonObject): void {
  const current = extensionOf(before);
  const names = ['accountAdmin', 'licenses', 'smsNumber'].filter((name) => current[name] !== undefined && extensionOf(next)[name] === undefined);
  if (names.length === 0) return;
  const ext = { ...extensionOf(next) };
  for (const name of names) ext[name] = current[name];
  next[SWITCHBOARD_URN] = ext;
}

/** The seed: deleting a user is the admin's ("delete a user"), never a user's own doing through /Me. */
export const SELF_DELETE_REFUSAL = 'A user token cannot delete its own user; an account admin deletes users';

/**
 * How users fed by a source of each kind are deleted, declared per kind: a new connector kind adds its line.
 * `admin`, what an admin's delete does: `unregister`, the user loses only its platform account (PBX and
 * identity-provider users stay listed); `refuse`, the user cannot be deleted here (`reason` is the 409's detail);
 * `delete`, as a local user. `afterGrace`: whether a sync deletes a user its source no longer lists once the grace
 * period is over (`false`: it stays deactivated; the seed's MiCloud Connect users are never deleted).
 */
export type SourceKindDeletePolicy = ({ admin: 'delete' | 'unregister' } | { admin: 'refuse'; reason: string }) & { afterGrace: boolean };

export const sourceKindDeletePolicy: Record<SourceKind, SourceKindDeletePolicy> = {
  scim: { admin: 'unregister', afterGrace: true },
  entra: { admin: 'unregister', afterGrace: true },
  ldap: { admin: 'unregister', afterGrace: true },
  mivb: { admin: 'unregister', afterGrace: true },
  micloud: { admin: 'refuse', reason: 'A user synced from MiCloud Connect cannot be deleted here', afterGrace: false },
  csv: { admin: 'delete', afterGrace: true },
};

/** Whether a sync of this source kind deletes the users it no longer lists once their grace period is over. */
export function deletesAfterGrace(kind: SourceKind): boolean {
  return sourceKindDeletePolicy[kind]?.afterGrace ?? true;
}

export const PARTNER_DELETE_REFUSAL = 'A Mitel Partner cannot be deleted';

/** The facts a delete is decided on. */
export interface DeleteFacts {
  writer: Writer;
  /** The kinds and ids of the sources linked to the user. */
  links: readonly { sourceId: string; sourceKind: SourceKind }[];
  user: JsonObject;
  /** Needed for an admin's delete only. */
  accountType?: Account['type'];
  /** The account's admins other than this user; needed when the user is one. */
  otherAdmins?: number;
}

/**
 * The seed's delete: a local user is deleted; by the source kind's policy a synced user loses only its platform
 * account (and licences, SMS number) or cannot be deleted; a Mitel Partner (a user of a partner account) cannot be
 * deleted, nor the last account admin. A source deleting its user removes it, or only its link when other sources
 * still feed it.
 */
export function deleteDecision(facts: DeleteFacts): 'delete' | 'unlink' | 'unregister' | DomainError {
  const { writer, links } = facts;
  if (writer.type === 'source') return links.some((l) => l.sourceId !== writer.sourceId) ? 'unlink' : 'delete';
  for (const link of links) {
    const policy = sourceKindDeletePolicy[link.sourceKind];
    if (policy?.admin === 'refuse') return new DomainError('conflict', policy.reason);
  }
  // The seed: "You cannot delete a Mitel Partner": the users of a partner account are not deleted by an admin.
  if (facts.accountType === 'partner') return new DomainError('conflict', PARTNER_DELETE_REFUSAL);
  const lastAdmin = lastAdminViolation(facts.user, undefined, facts.otherAdmins ?? 0);
  if (lastAdmin) return new DomainError('invalidValue', lastAdmin);
  return links.some((l) => sourceKindDeletePolicy[l.sourceKind]?.admin === 'unregister') ? 'unregister' : 'delete';
}

/** The document a user keeps when it loses its platform account: without licences and SMS number. */
export function unregisteredDocument(doc: JsonObject): JsonObject {
  const next = JSON.parse(JSON.stringify(doc)) as JsonObject;
  const ext = { ...extensionOf(next) };
  delete ext.licenses;
  delete ext.smsNumber;
  if (Object.keys(ext).length > 0) next[SWITCHBOARD_URN] = ext;
  else delete next[SWITCHBOARD_URN];
  return next;
}

/** The seed's Add User sends a welcome email at once; users an identity provider or directory pushes are not sent one then. */
export function welcomesOnCreate(writer: Writer): boolean {
  return writer.type === 'admin';
}

export const PARTNER_WELCOME_REASON = 'a Mitel Partner is not sent a welcome email';
export const OIG_VOICEMAIL_REASON = 'voicemail user while OIG is in the deployment cluster';

/** A user's outcome of a rule that may pass it by: skipped or deferred, with the reason shown to the admin. */
export type RuleSkip = { outcome: 'skipped' | 'deferred'; reason: string };

/**
 * The welcome and password-reset emails: partners are never sent a welcome email (issue 5); with SSO a reset is
 * the identity provider's; only registered users are sent a reset.
 */
export function linkEmailDecision(type: 'sendWelcomeEmail' | 'resetPassword', account: Account, registered: boolean): RuleSkip | undefined {
  if (type === 'sendWelcomeEmail') return account.type === 'partner' ? { outcome: 'skipped', reason: PARTNER_WELCOME_REASON } : undefined;
  if (account.settings.sso) return { outcome: 'deferred', reason: 'password reset is handled by the identity provider' };
  if (!registered) return { outcome: 'skipped', reason: 'not registered' };
  return undefined;
}

/** The seed's MiVB deployment emails: for users with the MiVoice Business service; not to voicemail users while OIG is in the cluster. */
export function mivbDeploymentDecision(account: Account, doc: JsonObject): RuleSkip | undefined {
  const ext = extensionOf(doc);
  if (ext.mivbService !== true) return { outcome: 'skipped', reason: 'the MiVoice Business service is not applied to the user' };
  if (ext.voicemail === true && account.settings.oigInCluster) return { outcome: 'skipped', reason: OIG_VOICEMAIL_REASON };
  return undefined;
}

/** A user an all-or-nothing action passes by, with the reason. */
export interface PlanSkip {
  userId: string;
  reason: string;
  value?: string;
}

/**
 * assignLicense / unassignLicense over the selected users: the licence rules for the whole action, then who
 * changes and who is skipped; assigning needs a seat for every user that changes, or nothing is assigned.
 * `holders`: the users of the account holding the product now.
 */
export function licenceAssignmentPlan<U extends { id: string; doc: JsonObject }>(
  account: Account, product: string, users: readonly U[], assign: boolean, holders: number,
): { change: U[]; skipped: PlanSkip[] } | DomainError {
  const violation = licenseRuleViolation(account, product);
  if (violation) return new DomainError('invalidValue', violation);
  const has = (user: U) => licensesOf(user.doc).some((l) => sameProduct(l, product));
  const change = users.filter((u) => (assign ? !has(u) : has(u)));
  const skipped = users.filter((u) => !change.includes(u)).map((u) => ({ userId: u.id, reason: assign ? `already licensed for ${product}` : `not licensed for ${product}` }));
  if (assign && change.length > 0) {
    const seats = seatsOf(account, product);
    const left = Math.max(0, seats - holders);
    if (change.length > left) {
      return new DomainError('invalidValue', `Not enough ${product} licences: ${left} of ${seats} available, ${change.length} selected users need one. Nothing was assigned.`);
    }
  }
  return { change, skipped };
}

export const TWILIO_OFF_REFUSAL = 'SMS numbers need the Twilio integration with its User Numbers option turned on';

/**
 * assignSmsNumbers / unassignSmsNumbers: Twilio and its User Numbers option on; assigning gives each selected user
 * without a pool number a distinct free one (`free[i]` for `change[i]`), and when fewer are free than needed
 * nothing is assigned. `held`: the pool numbers users of the account hold now.
 */
export function smsAssignmentPlan<U extends { id: string; doc: JsonObject }>(
  account: Account, users: readonly U[], assign: boolean, held: readonly string[],
): { change: U[]; skipped: PlanSkip[]; free: string[] } | DomainError {
  const { twilio } = account.settings;
  if (!twilio.enabled || !twilio.userNumbers) return new DomainError('invalidValue', TWILIO_OFF_REFUSAL);
  if (!assign) {
    return {
      change: users.filter((u) => smsNumberOf(u.doc) !== undefined),
      skipped: users.filter((u) => smsNumberOf(u.doc) === undefined).map((u) => ({ userId: u.id, reason: 'has no SMS number' })),
      free: [],
    };
  }
  const pool = [...new Set(twilio.smsPool)];
  const free = pool.filter((n) => !held.includes(n));
  const inPool = (u: U) => pool.includes(smsNumberOf(u.doc) ?? '');
  const change = users.filter((u) => !inPool(u));
  const skipped = users.filter(inPool).map((u) => ({ userId: u.id, reason: 'already has an SMS number from the pool', value: smsNumberOf(u.doc)! }));
  if (change.length > free.length) {
    return new DomainError('invalidValue', `Not enough free SMS numbers: ${free.length} free in the pool, ${change.length} selected users need one. Nothing was assigned.`);
  }
  return { change, skipped, free };
}
