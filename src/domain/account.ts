import type { AccountType } from './principal.js';

/** The integrations and options of an account that the seed's rules depend on. */
export interface AccountSettings {
  sso: boolean;
  twilio: { enabled: boolean; userNumbers: boolean; smsPool: string[] };
  miTeamMeetings: boolean;
  miCollab: boolean;
  mivb: boolean;
  oigInCluster: boolean;
  contactCenter: boolean;
}

export interface Subscription {
  product: string;
  seats: number;
}

export interface Account {
  id: string;
  parentId: string | null;
  type: AccountType;
  name: string;
  externalId: string | null;
  settings: AccountSettings;
  subscriptions: Subscription[];
  userCount: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export const defaultSettings = (): AccountSettings => ({
  sso: false,
  twilio: { enabled: false, userNumbers: false, smsPool: [] },
  miTeamMeetings: false,
  miCollab: false,
  mivb: false,
  oigInCluster: false,
  contactCenter: false,
});

/** Fills what a stored settings object lacks, so older rows read like new ones. */
export function withDefaults(stored: Partial<AccountSettings> | null | undefined): AccountSettings {
  const base = defaultSettings();
  const s = stored ?? {};
  return {
    ...base,
    ...s,
    twilio: { ...base.twilio, ...(s.twilio ?? {}) },
  };
}

/** Which account types may own which (operator → partner → customer; the operator may own customers directly). */
export function canParent(parentType: AccountType, childType: AccountType): boolean {
  if (childType === 'partner') return parentType === 'operator';
  if (childType === 'customer') return parentType === 'partner' || parentType === 'operator';
  return false;
}
