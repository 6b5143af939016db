import type { Knex } from 'knex';

// The anchors a sync run's read yielded, kept in the database rather than in the process: the deletion phase is an
// anti-join of the source's links against them, so a run's memory does not grow with the source (a Set of a
// million anchors and the million links read back to compare took the 1,000,000-entry LDAP sync past 400 MiB).
// Unlogged: the rows live only while their run does (cleared at its end, and at the start of the source's next run
// after a crash), so they need no WAL; a crash empties the table, which is what a killed run's leftovers should be.
// No index: the rows are written once and read once, by a hash anti-join over the whole run.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create unlogged table sync_run_seen (
      account_id uuid not null,
      source_id uuid not null,
      run_id uuid not null,
      anchor text not null
    );
    comment on table sync_run_seen is 'Anchors a running sync run has read (its deletion phase deactivates the links not among them); cleared when the run ends.';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table sync_run_seen');
}
