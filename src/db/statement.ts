import type { Knex } from 'knex';
import type { Executor } from './database.js';

/** One SQL statement with `?` placeholders, as knex.raw takes it. */
export interface Statement {
  sql: string;
  bindings: readonly unknown[];
  /** The name the statements after it in one `runAsOne` read its rows by (default `w<i>`, named by position). */
  name?: string;
}

/**
 * Values many rows of one statement hold alike, sent once: the statement binds `binding()` (a JSON array) where its
 * SQL reads a row's value as `(?::jsonb) -> v.<index column>`, and each row carries `indexOf(value)`. Rows of one
 * source's users mostly share their claims (owned attributes, lockedAttributes), each hundreds of bytes a row.
 * Equal values are found by `key` (default: the value itself, by identity).
 */
export class SharedValues {
  private readonly index = new Map<unknown, number>();
  private readonly values: unknown[] = [];

  indexOf(value: unknown, key: unknown = value): number {
    let at = this.index.get(key);
    if (at === undefined) {
      at = this.values.push(value) - 1;
      this.index.set(key, at);
    }
    return at;
  }

  binding(): string {
    return JSON.stringify(this.values);
  }
}

/** The statement a knex query builder would run, to be run with others by `runAsOne`. */
export function statementOf(query: Knex.QueryBuilder): Statement {
  const { sql, bindings } = query.toSQL();
  return { sql, bindings };
}

/**
 * Runs several writes in one round trip: all but the last as data-modifying CTEs of the last, whose rows (its
 * `returning`) come back. A round trip costs a system call and a wake-up on both sides, more than most of these
 * small statements themselves (written together with the account read only when a rule needs it, a user's row, value
 * rows, source link and audit entry took an identity provider's PATCH from about 1.8 to 1.3 ms of server CPU, and
 * its throughput up by half). They share one snapshot, so none may read
 * what another writes, and no two may write the same rows or unique values (a delete and the insert replacing it
 * go in separate calls); foreign keys are checked when the statement ends, so a row may reference one that
 * another of them inserts.
 */
export async function runAsOne<T>(db: Executor, statements: readonly Statement[]): Promise<T[]> {
  if (statements.length === 0) return [];
  const main = statements[statements.length - 1]!;
  const ctes = statements.slice(0, -1);
  const sql = ctes.length === 0 ? main.sql : `with ${ctes.map((s, i) => `${s.name ?? `w${i}`} as (${s.sql})`).join(', ')} ${main.sql}`;
  const result = (await db.raw(sql, [...ctes.flatMap((s) => s.bindings), ...main.bindings] as Knex.RawBinding[])) as { rows?: T[] };
  return result.rows ?? [];
}
