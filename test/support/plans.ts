import type { Knex } from 'knex';

/** A node of `explain (analyze, format json)`, the fields the plan tests read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Rows a plan read from `relation`: what its scans returned plus what their filters threw away. */
export function rowsRead(node: PlanNode, relation: string): number {
  const own =
    node['Relation Name'] === relation
      ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * node['Actual Loops']
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child, relation), 0);
}

/** The indexes a plan scans (a bitmap heap scan's index is its child's). */
export function indexesUsed(node: PlanNode): string[] {
  return [...(node['Index Name'] ? [node['Index Name']] : []), ...(node.Plans ?? []).flatMap(indexesUsed)];
}

/** Runs the statement under `explain (analyze, format json)` and returns its plan. */
export async function analyse(db: Knex | Knex.Transaction, sql: string, bindings: readonly unknown[]): Promise<PlanNode> {
  const result = (await db.raw(`explain (analyze, format json) ${sql}`, bindings as Knex.RawBinding[])) as { rows: { 'QUERY PLAN': { Plan: PlanNode }[] | string }[] };
  const shown = result.rows[0]!['QUERY PLAN'];
  // node-pg parses the json column; PGlite may hand it over as text.
  return (typeof shown === 'string' ? (JSON.parse(shown) as { Plan: PlanNode }[]) : shown)[0]!.Plan;
}

/** What one table's scans did in a transaction, as pg_stat_xact_user_tables counts them. */
export interface TableScans {
  seqScans: number;
  indexScans: number;
  /** Rows read: fetched through indexes plus read by sequential scans. */
  rowsRead: number;
}

/**
 * The scans of `table` made by `step`, run inside `trx`: this backend's counters are not flushed to the statistics
 * before the transaction ends (and may include its earlier transactions'), so the difference across the step is
 * the step's.
 */
export async function scansDuring(trx: Knex.Transaction, table: string, step: () => Promise<unknown>): Promise<TableScans> {
  const read = async (): Promise<TableScans> => {
    const { rows } = (await trx.raw('select seq_scan, idx_scan, idx_tup_fetch, seq_tup_read from pg_stat_xact_user_tables where relname = ?', [table])) as {
      rows: Record<'seq_scan' | 'idx_scan' | 'idx_tup_fetch' | 'seq_tup_read', string | number | null>[];
    };
    const row = rows[0];
    return { seqScans: Number(row?.seq_scan ?? 0), indexScans: Number(row?.idx_scan ?? 0), rowsRead: Number(row?.idx_tup_fetch ?? 0) + Number(row?.seq_tup_read ?? 0) };
  };
  const before = await read();
  await step();
  const after = await read();
  return { seqScans: after.seqScans - before.seqScans, indexScans: after.indexScans - before.indexScans, rowsRead: after.rowsRead - before.rowsRead };
}
