/**
 * Batch lookups of many keys, each key answered by its own index probe.
 *
 * `where account_id = ? and col = any(?)` lets the planner read the whole account and filter it: it does so on
 * tables a bulk load has not let autovacuum analyse yet (it then takes the account for a few hundred rows), and
 * even with statistics it prices a scan of a mid-sized table below a thousand probes. Either way a sync batch
 * then costs in proportion to the account, not to the batch, and a full sync grows with its square. A lateral
 * subquery per key (`offset 0` keeps it from being flattened into a join the planner may hash) leaves only the
 * probe of the index the key leads.
 */

/**
 * `unnest(<keys>) as k(v) cross join lateral (<probe> offset 0 [for update]) as p`: the probe refers to the key
 * as `k.v`, and its columns are read as `p.<column>`. Bindings: the keys array first, then the probe's.
 */
export function perKeyFrom(keysParameter: string, probe: string, options: { forUpdate?: boolean } = {}): string {
  return perRowFrom(`unnest(${keysParameter}) as k(v)`, probe, options);
}

/**
 * The same probe per row of a relation of composite keys (`jsonb_to_recordset(?::jsonb) as v(…)`): the probe
 * refers to the row's columns as `v.<column>` (whatever alias `rows` gives them), its own as `p.<column>`.
 */
export function perRowFrom(rows: string, probe: string, options: { forUpdate?: boolean } = {}): string {
  return `${rows} cross join lateral (${probe} offset 0${options.forUpdate ? ' for update' : ''}) as p`;
}
