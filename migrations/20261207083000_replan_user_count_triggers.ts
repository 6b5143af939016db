import type { Knex } from 'knex';

// The user-count triggers (20261207020200) run their statements through PL/pgSQL's plan cache: after five calls a
// pool connection keeps a generic plan, chosen while account_user_counts was one page, and a table growing under
// it never replans it. Autovacuum off (this machine), every write's update of a shard leaves a dead version, and
// the table grows with the writes (44 pages at 20,000 POSTs into one account, bench post-load): the connections
// that cached a sequential scan then read all of it on every write (15,684 sequential scans of it in 27,000 POSTs,
// pg_stat_user_tables). A custom plan each call (a few tens of µs of planning) takes the primary key once the
// table is larger than a page or so.
// ALTER, not a new definition: the bodies stay those of 20261207020200 (a later CREATE OR REPLACE must keep it).

const functions = ['users_count_inserted_trigger()', 'users_count_deleted_trigger()'];

export async function up(knex: Knex): Promise<void> {
  for (const fn of functions) {
    await knex.raw(`alter function ${fn} set plan_cache_mode = force_custom_plan`);
    await knex.raw(`comment on function ${fn} is 'Keeps account_user_counts; planned each call (plan_cache_mode), as the shard table grows under a pooled connection.'`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const fn of functions) {
    await knex.raw(`alter function ${fn} reset plan_cache_mode`);
    await knex.raw(`comment on function ${fn} is null`);
  }
}
