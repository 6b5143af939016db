/** The imports and import_rows tables: CSV imports of users, their counts and one row per input record. */
import { isUuid } from './accounts-repo.js';
import type { Executor } from './database.js';

export type ImportStatus = 'running' | 'succeeded' | 'completed_with_errors' | 'failed';
export type ImportMode = 'upsert' | 'create';
export type RowOutcome = 'created' | 'updated' | 'unchanged' | 'failed';

export interface ImportCounts {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

export interface StoredImport {
  accountId: string;
  id: string;
  status: ImportStatus;
  dryRun: boolean;
  mode: ImportMode;
  sendWelcomeEmail: boolean;
  header: string[];
  delimiter: ',' | ';';
  counts: ImportCounts;
  error: string | null;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

export interface ImportRow {
  line: number;
  email: string | null;
  outcome: RowOutcome;
  reason: string | null;
  userId: string | null;
  cells: string[];
}

interface ImportDbRow {
  account_id: string;
  id: string;
  status: ImportStatus;
  dry_run: boolean;
  mode: ImportMode;
  send_welcome_email: boolean;
  header: string[];
  delimiter: ',' | ';';
  counts: ImportCounts;
  error: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

const asDate = (v: Date | string) => (v instanceof Date ? v : new Date(v));

function toImport(r: ImportDbRow): StoredImport {
  return {
    accountId: r.account_id, id: r.id, status: r.status, dryRun: r.dry_run, mode: r.mode, sendWelcomeEmail: r.send_welcome_email, header: r.header,
    delimiter: r.delimiter, counts: r.counts, error: r.error, createdBy: r.created_by, createdAt: asDate(r.created_at), updatedAt: asDate(r.updated_at),
    completedAt: r.completed_at ? asDate(r.completed_at) : null,
  };
}

export const emptyCounts = (rows: number): ImportCounts => ({ rows, created: 0, updated: 0, unchanged: 0, failed: 0 });

export const importsRepo = {
  async create(
    db: Executor,
    accountId: string,
    input: { dryRun: boolean; mode: ImportMode; sendWelcomeEmail: boolean; header: string[]; delimiter: ',' | ';'; rows: number; createdBy: string; at: Date },
  ): Promise<StoredImport> {
    const [row] = (await db('imports')
      .insert({
        account_id: accountId, status: 'running', dry_run: input.dryRun, mode: input.mode, send_welcome_email: input.sendWelcomeEmail,
        header: JSON.stringify(input.header), delimiter: input.delimiter, counts: JSON.stringify(emptyCounts(input.rows)), created_by: input.createdBy,
        created_at: input.at, updated_at: input.at,
      })
      .returning('*')) as ImportDbRow[];
    return toImport(row!);
  },

  /** Progress of a running import; also what a batch's transaction writes with the rows it covers. */
  async progress(db: Executor, accountId: string, id: string, counts: ImportCounts, at: Date): Promise<void> {
    await db('imports').where({ account_id: accountId, id }).update({ counts: JSON.stringify(counts), updated_at: at });
  },

  async finish(db: Executor, accountId: string, id: string, status: Exclude<ImportStatus, 'running'>, counts: ImportCounts, error: string | null, at: Date): Promise<void> {
    await db('imports').where({ account_id: accountId, id }).update({ status, counts: JSON.stringify(counts), error, updated_at: at, completed_at: at });
  },

  /** The rows of one batch, in one statement (a JSON parameter, not one bound value per column and row). */
  async insertRows(db: Executor, accountId: string, importId: string, rows: readonly ImportRow[]): Promise<void> {
    if (rows.length === 0) return;
    await db.raw(
      `insert into import_rows (account_id, import_id, line, email, outcome, reason, user_id, cells)
       select ?::uuid, ?::uuid, v.line, v.email, v.outcome, v.reason, v.user_id, v.cells
         from json_to_recordset(?::json) as v(line integer, email text, outcome text, reason text, user_id uuid, cells jsonb)`,
      [accountId, importId, JSON.stringify(rows.map((r) => ({ line: r.line, email: r.email, outcome: r.outcome, reason: r.reason, user_id: r.userId, cells: r.cells })))],
    );
  },

  /**
   * For each of these email keys (lower case) that rows of the import already hold, the first line giving it: one
   * probe of import_rows_account_id_import_id_lower_email_idx per key.
   */
  async firstLines(db: Executor, accountId: string, importId: string, keys: readonly string[]): Promise<Map<string, number>> {
    if (keys.length === 0) return new Map();
    const { rows } = (await db.raw(
      `select lower(email) as key, min(line) as line from import_rows
        where account_id = ? and import_id = ? and lower(email) = any(?::text[]) group by lower(email)`,
      [accountId, importId, [...keys]],
    )) as { rows: { key: string; line: number }[] };
    return new Map(rows.map((r) => [r.key, Number(r.line)]));
  },

  /** An import created after `since` (older ones are past their 30 days). */
  async get(db: Executor, accountId: string, id: string, since: Date): Promise<StoredImport | undefined> {
    if (!isUuid(id)) return undefined;
    const row = (await db('imports').where({ account_id: accountId, id }).where('created_at', '>', since).first()) as ImportDbRow | undefined;
    return row ? toImport(row) : undefined;
  },

  /** Imports created after `since`, newest first. */
  async list(db: Executor, accountId: string, since: Date, page: { offset: number; limit: number }): Promise<{ total: number; imports: StoredImport[] }> {
    const base = () => db('imports').where({ account_id: accountId }).where('created_at', '>', since);
    const [{ n }] = (await base().count({ n: '*' })) as { n: number | string }[];
    const rows = page.limit === 0 ? [] : ((await base().orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).offset(page.offset).limit(page.limit)) as ImportDbRow[]);
    return { total: Number(n), imports: rows.map(toImport) };
  },

  /** Rows of an import after `afterLine`, in file order, at most `limit` (the report and the results page through them). */
  async rows(db: Executor, accountId: string, importId: string, afterLine: number, limit: number): Promise<ImportRow[]> {
    const rows = (await db('import_rows')
      .where({ account_id: accountId, import_id: importId })
      .where('line', '>', afterLine)
      .orderBy('line')
      .limit(limit)
      .select('line', 'email', 'outcome', 'reason', 'user_id', 'cells')) as { line: number; email: string | null; outcome: RowOutcome; reason: string | null; user_id: string | null; cells: string[] }[];
    return rows.map((r) => ({ line: r.line, email: r.email, outcome: r.outcome, reason: r.reason, userId: r.user_id, cells: r.cells }));
  },

  /** Deletes imports created before `before` (their rows go with them). */
  async purge(db: Executor, before: Date): Promise<number> {
    return db('imports').where('created_at', '<=', before).delete();
  },

  /** Marks imports left running by a stopped process (no progress since `before`) as failed. */
  async failInterrupted(db: Executor, before: Date, at: Date, error: string): Promise<{ accountId: string; id: string; createdBy: string | null }[]> {
    const rows = (await db('imports')
      .where({ status: 'running' })
      .where('updated_at', '<', before)
      .update({ status: 'failed', error, updated_at: at, completed_at: at })
      .returning(['account_id', 'id', 'created_by'])) as { account_id: string; id: string; created_by: string | null }[];
    return rows.map((r) => ({ accountId: r.account_id, id: r.id, createdBy: r.created_by }));
  },
};
