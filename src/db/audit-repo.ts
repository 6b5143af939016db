import type { Knex } from 'knex';
import type { Executor } from './database.js';
import { statementOf, type Statement } from './statement.js';

export interface AuditEntry {
  accountId: string;
  actor: string;
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

export const auditRepo = {
  async record(db: Executor, entry: AuditEntry, at?: Date): Promise<void> {
    const statement = auditRepo.recordStatement(db, entry, at);
    await db.raw(statement.sql, statement.bindings as Knex.RawBinding[]);
  },

  /** record()'s statement, to run with others (runAsOne). */
  recordStatement(db: Executor, entry: AuditEntry, at?: Date): Statement {
    return statementOf(
      db('audit_log').insert({
        account_id: entry.accountId,
        actor: entry.actor,
        action: entry.action,
        target_type: entry.targetType ?? null,
        target_id: entry.targetId ?? null,
        details: JSON.stringify(entry.details ?? {}),
        ...(at ? { at } : {}),
      }),
    );
  },

  /** record() of several entries in one statement, in the order given. */
  async recordMany(db: Executor, entries: readonly (AuditEntry & { at?: Date })[]): Promise<void> {
    for (const statement of auditRepo.recordManyStatements(entries)) await db.raw(statement.sql, statement.bindings as Knex.RawBinding[]);
  },

  /** recordMany()'s statement (none for no entries), to run with others (runAsOne). */
  recordManyStatements(entries: readonly (AuditEntry & { at?: Date })[]): Statement[] {
    if (entries.length === 0) return [];
    // One JSON parameter per statement; json_to_recordset yields the rows in array order, so the ids follow it.
    return [
      {
        sql: `insert into audit_log (account_id, actor, action, target_type, target_id, details, at)
       select account_id, actor, action, target_type, target_id, coalesce(details, '{}'::jsonb), coalesce(at, now())
         from json_to_recordset(?::json) as v(account_id uuid, actor text, action text, target_type text, target_id text, details jsonb, at timestamptz)`,
        bindings: [
          JSON.stringify(
            entries.map((entry) => ({
              account_id: entry.accountId, actor: entry.actor, action: entry.action, target_type: entry.targetType ?? null, target_id: entry.targetId ?? null,
              details: entry.details ?? {}, at: entry.at ? entry.at.toISOString() : null,
            })),
          ),
        ],
      },
    ];
  },

  async forTarget(db: Executor, accountId: string, targetId: string, limit = 100): Promise<(AuditEntry & { at: Date })[]> {
    const rows = await db('audit_log')
      .where({ account_id: accountId, target_id: targetId })
      .orderBy('id', 'desc')
      .limit(limit);
    return rows.map((r: Record<string, unknown>) => ({
      accountId: r.account_id as string,
      actor: r.actor as string,
      action: r.action as string,
      targetType: (r.target_type as string) ?? undefined,
      targetId: (r.target_id as string) ?? undefined,
      details: r.details as Record<string, unknown>,
      at: new Date(r.at as string),
    }));
  },
};
