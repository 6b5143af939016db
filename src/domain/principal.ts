import type { AuditWriter } from './audit.js';

/** Who is calling: resolved from a bearer token (README, design decisions). */
export type Role = 'operator' | 'partner-admin' | 'account-admin' | 'provisioning' | 'user';
export const roles: readonly Role[] = ['operator', 'partner-admin', 'account-admin', 'provisioning', 'user'];
export type AccountType = 'operator' | 'partner' | 'customer';

export interface Principal {
  tokenId: string;
  accountId: string;
  accountType: AccountType;
  role: Role;
  /** For role `user`: the user the token acts as (its /Me). */
  userId?: string;
  /** Signed in at the console (a session cookie), not a bearer token: its changes are audited as writer `admin`. */
  session?: boolean;
}

/** Which roles a token of each role may issue, and on which kind of account they make sense. */
const issuable: Record<Role, readonly Role[]> = {
  operator: roles,
  'partner-admin': ['partner-admin', 'account-admin', 'provisioning', 'user'],
  'account-admin': ['account-admin', 'provisioning', 'user'],
  provisioning: [],
  user: [],
};

export function canIssueRole(issuer: Role, role: Role): boolean {
  return issuable[issuer].includes(role);
}

/**
 * The roles of the tokens a token may see and revoke: those it may issue. An account-admin of a partner account
 * never sees (nor revokes) that partner's partner-admin tokens.
 */
export function manageableRoles(issuer: Role): readonly Role[] {
  return issuable[issuer];
}

export function roleFitsAccount(role: Role, accountType: AccountType): boolean {
  if (role === 'operator') return accountType === 'operator';
  if (role === 'partner-admin') return accountType === 'partner';
  return accountType === 'customer' || accountType === 'partner';
}

/** The resource families each role may use. */
export type Capability = 'users' | 'groups' | 'accounts' | 'tokens' | 'me' | 'sources' | 'actions' | 'audit' | 'discovery';

const capabilities: Record<Role, readonly Capability[]> = {
  operator: ['users', 'groups', 'accounts', 'tokens', 'sources', 'actions', 'audit', 'discovery'],
  'partner-admin': ['users', 'groups', 'accounts', 'tokens', 'sources', 'actions', 'audit', 'discovery'],
  'account-admin': ['users', 'groups', 'accounts', 'tokens', 'sources', 'actions', 'audit', 'discovery'],
  provisioning: ['users', 'groups', 'discovery'],
  user: ['me', 'discovery'],
};

export function hasCapability(principal: Principal, capability: Capability): boolean {
  return capabilities[principal.role].includes(capability);
}

/** The writer recorded on changes: identity providers write as the `scim` source. */
export function writerOf(principal: Principal): string {
  return principal.role === 'provisioning' ? 'scim' : `${principal.role}:${principal.tokenId}`;
}

/** Who made a change and through which writer, as the audit trail records it. */
export interface AuditActor {
  actor: string;
  writer: AuditWriter;
}

/** The caller as the audit trail records it: an identity provider as a source, a console session as `admin`, else `token`. */
export function auditActorOf(principal: Principal): AuditActor {
  return { actor: writerOf(principal), writer: principal.role === 'provisioning' ? 'source' : principal.session ? 'admin' : 'token' };
}
