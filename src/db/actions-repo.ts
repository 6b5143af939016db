/**
 * The `actions` table (bulk operations on users, their progress and results), and the two user reads an action
 * makes beside the users repository: locking its targets in id order, and which SMS numbers of a pool are held.
 * Every `where` starts with `account_id`, but the recovery of interrupted actions, which spans accounts.
 */
import type { Knex } from 'knex';
import type { ActionResult, ActionStatus, ActionSummary, ActionType, StoredAction, Targets } from '../domain/action.js';
import { actionResourceType } from '../domain/action-schema.js';
import type { FilterNode } from '../domain/scim-filter.js';
import type { Executor } from './database.js';
import { columnMapping } from './resource-mappings.js';
import { compileFilter } from './scim-filter-sql.js';

type Row = Record<string, unknown>;

/** The Action attributes a list may filter on, and their columns. */
const actionsMapping = columnMapping(actionResourceType, 'x', {
  id: 'x.id',
  type: 'x.type',
  status: 'x.status',
  error: 'x.error',
  createdBy: 'x.created_by',
  created: 'x.created_at',
  completed: 'x.completed_at',
  targets: { jsonb: 'x.targets' },
  params: { jsonb: 'x.params' },
  summary: { jsonb: 'x.summary' },
  'meta.created': 'x.created_at',
  'meta.lastModified': 'x.updated_at',
});

function toAction(row: Row): StoredAction {
  const summary = (row.summary ?? {}) as Partial<ActionSummary>;
  const results = row.results as ActionResult[] | undefined;
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    type: row.type as ActionType,
    status: row.status as ActionStatus,
    error: (row.error as string | null) ?? null,
    targets: row.targets as Targets,
    params: (row.params ?? {}) as Record<string, unknown>,
    summary: {
      targeted: summary.targeted ?? 0,
      processed: summary.processed ?? results?.length ?? 0,
      succeeded: summary.succeeded ?? 0,
      skipped: summary.skipped ?? 0,
      deferred: summary.deferred ?? 0,
      failed: summary.failed ?? 0,
    },
    ...(results ? { results } : {}),
    createdBy: (row.created_by as string) ?? null,
    createdAt: new Date(row.created_at as string),
    updatedAt: new Date((row.updated_at ?? row.created_at) as string),
    completedAt: row.completed_at ? new Date(row.completed_at as string) : null,
  };
}

export const actionsRepo = {
  /** A new running action; its id. */
  async insert(
    db: Executor,
    accountId: string,
    action: { type: ActionType; targets: Targets; params: Record<string, unknown>; summary: ActionSummary; createdBy: string },
    at: Date,
  ): Promise<string> {
    const [row] = (await db('actions')
      .insert({
        account_id: accountId, type: action.type, status: 'running', targets: JSON.stringify(action.targets), params: JSON.stringify(action.params),
        summary: JSON.stringify(action.summary), created_by: action.createdBy, created_at: at, updated_at: at,
      })
      .returning('id')) as { id: string }[];
    return row!.id;
  },

  async saveProgress(db: Executor, accountId: string, id: string, summary: ActionSummary, results: readonly ActionResult[], at: Date): Promise<void> {
    await db('actions').where({ account_id: accountId, id }).update({ summary: JSON.stringify(summary), results: JSON.stringify(results), updated_at: at });
  },

  async finish(
    db: Executor,
    accountId: string,
    id: string,
    end: { status: 'completed' | 'failed'; error: string | null; summary: ActionSummary; results: readonly ActionResult[] },
    at: Date,
  ): Promise<void> {
    await db('actions')
      .where({ account_id: accountId, id })
      .update({ status: end.status, error: end.error, summary: JSON.stringify(end.summary), results: JSON.stringify(end.results), completed_at: at, updated_at: at });
  },

  /** Fails the running actions of every account that made no progress since `before`; the ones it failed. */
  async failStale(db: Executor, before: Date, error: string, at: Date): Promise<{ accountId: string; id: string; type: string }[]> {
    const rows = (await db('actions')
      .where({ status: 'running' })
      .where('updated_at', '<', before)
      .update({ status: 'failed', error, completed_at: at, updated_at: at })
      .returning(['account_id', 'id', 'type'])) as Row[];
    return rows.map((r) => ({ accountId: r.account_id as string, id: r.id as string, type: r.type as string }));
  },

  async findById(db: Executor, accountId: string, id: string): Promise<StoredAction | undefined> {
    const row = (await db('actions').where({ account_id: accountId, id }).first()) as Row | undefined;
    return row ? toAction(row) : undefined;
  },

  /** The account's actions, newest first, without their results; `filter` over the Action attributes, in SQL. */
  async list(db: Executor, accountId: string, query: { filter?: FilterNode; offset: number; limit: number }): Promise<{ total: number; actions: StoredAction[] }> {
    const where = query.filter ? compileFilter(query.filter, actionsMapping) : undefined;
    const base = () => {
      const q = db('actions as x').where('x.account_id', accountId);
      if (where) q.whereRaw(where.sql, where.bindings as Knex.RawBinding[]);
      return q;
    };
    const [{ n }] = (await base().count({ n: '*' })) as { n: number | string }[];
    const rows = query.limit === 0
      ? []
      : ((await base()
          .select('x.account_id', 'x.id', 'x.type', 'x.status', 'x.error', 'x.targets', 'x.params', 'x.summary', 'x.created_by', 'x.created_at', 'x.updated_at', 'x.completed_at')
          .orderBy([{ column: 'x.created_at', order: 'desc' }, { column: 'x.id', order: 'desc' }])
          .offset(query.offset)
          .limit(query.limit)) as Row[]);
    return { total: Number(n), actions: rows.map(toAction) };
  },

  /** Locks the given users of the account for the transaction, in id order (so concurrent actions cannot deadlock). */
  async lockUsers(trx: Executor, accountId: string, ids: readonly string[]): Promise<void> {
    await trx.raw('select id from users where account_id = ? and id = any(?::uuid[]) order by id for update', [accountId, [...ids]]);
  },

  /** The numbers of `pool` some user of the account holds as SMS number. */
  async heldSmsNumbers(db: Executor, accountId: string, pool: readonly string[]): Promise<string[]> {
    return (await db('users').where('account_id', accountId).whereIn('sms_number', [...pool]).pluck('sms_number')) as string[];
  },
};
