import type { Knex } from 'knex';
import type { AuditWriter } from '../domain/audit.js';
import { selectRows, type Executor } from './database.js';
import { statementOf, type Statement } from './statement.js';

export interface AuditEntry {
  accountId: string;
  actor: string;
  /** Through which writer the change came (domain/audit.ts). */
  writer: AuditWriter;
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
        writer: entry.writer,
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
    // One JSON parameter per statement; jsonb_to_recordset yields the rows in array order (a jsonb array keeps its order), so the ids follow it.
    return [
      {
        sql: `insert into audit_log (account_id, actor, writer, action, target_type, target_id, details, at)
       select account_id, actor, writer, action, target_type, target_id, coalesce(details, '{}'::jsonb), coalesce(at, now())
         from jsonb_to_recordset(?::jsonb) as v(account_id uuid, actor text, writer text, action text, target_type text, target_id text, details jsonb, at timestamptz)`,
        bindings: [
          JSON.stringify(
            entries.map((entry) => ({
              account_id: entry.accountId, actor: entry.actor, writer: entry.writer, action: entry.action, target_type: entry.targetType ?? null, target_id: entry.targetId ?? null,
              details: entry.details ?? {}, at: entry.at ? entry.at.toISOString() : null,
            })),
          ),
        ],
      },
    ];
  },

  async findById(db: Executor, accountId: string, id: string): Promise<StoredAuditEvent | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const rows = await selectRows<AuditRow>(db, `select ${COLUMNS} from audit_log as a where a.account_id = ? and a.id = ?`, [accountId, id]);
    return rows[0] ? toEvent(rows[0]) : undefined;
  },

  /**
   * A page of the account's events in time order (`at`, then id); by offset, or by keyset after a cursor position
   * (`value` the time as text, `id`). `where` is a compiled SCIM filter over the alias `a`.
   */
  async list(db: Executor, accountId: string, query: AuditListQuery): Promise<(StoredAuditEvent & { sortValue: string })[]> {
    const dir = query.descending ? 'desc' : 'asc';
    const conditions = ['a.account_id = ?'];
    const bindings: unknown[] = [accountId];
    if (query.where) {
      conditions.push(`(${query.where.sql})`);
      bindings.push(...query.where.bindings);
    }
    if (query.after) {
      conditions.push(`(a.at, a.id) ${query.descending ? '<' : '>'} (?::timestamptz, ?::bigint)`);
      bindings.push(query.after.value, query.after.id);
    }
    const rows = await selectRows<AuditRow & { sort_value: string }>(
      db,
      `select ${COLUMNS}, a.at::text as sort_value from audit_log as a where ${conditions.join(' and ')} order by a.at ${dir}, a.id ${dir} offset ? limit ?`,
      [...bindings, query.offset ?? 0, query.limit],
    );
    return rows.map((r) => ({ ...toEvent(r), sortValue: r.sort_value }));
  },

  async count(db: Executor, accountId: string, where?: { sql: string; bindings: readonly unknown[] }): Promise<number> {
    const rows = await selectRows<{ n: number | string }>(
      db,
      `select count(*) as n from audit_log as a where a.account_id = ?${where ? ` and (${where.sql})` : ''}`,
      [accountId, ...(where?.bindings ?? [])],
    );
    return Number(rows[0]?.n ?? 0);
  },

  /**
   * Deletes the events of every account older than `before`, at most `limit` of them (a long backlog goes in
   * several calls, none holding its locks for long); answers how many went.
   */
  async prune(db: Executor, before: Date, limit: number): Promise<number> {
    const rows = await selectRows<{ n: number | string }>(
      db,
      `with gone as (
         delete from audit_log where (account_id, id) in (
           select l.account_id, l.id from accounts as c cross join lateral (
             select account_id, id from audit_log where account_id = c.id and at < ? order by at limit ?) as l
           limit ?)
         returning 1)
       select count(*) as n from gone`,
      [before, limit, limit],
    );
    return Number(rows[0]?.n ?? 0);
  },
};

export interface AuditListQuery {
  where?: { sql: string; bindings: readonly unknown[] };
  descending?: boolean;
  offset?: number;
  limit: number;
  /** Keyset: continue after this position (the time as text, the id). */
  after?: { value: string | null; id: string };
}

/** One event as stored. */
export interface StoredAuditEvent extends AuditEntry {
  id: string;
  at: Date;
  userId: string | null;
  details: Record<string, unknown>;
}

interface AuditRow {
  account_id: string;
  id: number | string;
  at: Date | string;
  actor: string;
  writer: AuditWriter;
  action: string;
  target_type: string | null;
  target_id: string | null;
  user_id: string | null;
  details: Record<string, unknown> | string;
}

const COLUMNS = 'a.account_id, a.id, a.at, a.actor, a.writer, a.action, a.target_type, a.target_id, a.user_id, a.details';

function toEvent(r: AuditRow): StoredAuditEvent {
  return {
    accountId: r.account_id,
    id: String(r.id),
    at: new Date(r.at),
    actor: r.actor,
    writer: r.writer,
    action: r.action,
    ...(r.target_type !== null ? { targetType: r.target_type } : {}),
    ...(r.target_id !== null ? { targetId: r.target_id } : {}),
    userId: r.user_id,
    details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
  };
}
