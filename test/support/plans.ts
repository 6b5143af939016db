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
