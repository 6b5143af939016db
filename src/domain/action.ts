/** Actions (bulk operations an admin starts on users) as data: their types, targets, results and stored form. */
export const actionTypes = [
  'sendWelcomeEmail',
  'resetPassword',
  'sendMivbDeploymentEmails',
  'assignLicense',
  'unassignLicense',
  'assignSmsNumbers',
  'unassignSmsNumbers',
  'deleteUsers',
] as const;
export type ActionType = (typeof actionTypes)[number];
export type ActionStatus = 'running' | 'completed' | 'failed';
export type Outcome = 'done' | 'skipped' | 'deferred' | 'failed';
export type Targets = { all: true } | { ids: string[] } | { filter: string };

export interface ActionResult {
  userId: string;
  outcome: Outcome;
  reason?: string;
  /** What the user was given, e.g. the SMS number assigned. */
  value?: string;
}

export interface ActionSummary {
  targeted: number;
  processed: number;
  succeeded: number;
  skipped: number;
  deferred: number;
  failed: number;
}

export interface StoredAction {
  id: string;
  accountId: string;
  type: ActionType;
  status: ActionStatus;
  error: string | null;
  targets: Targets;
  params: Record<string, unknown>;
  summary: ActionSummary;
  /** Absent in lists. */
  results?: ActionResult[];
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}
