import type { Knex } from 'knex';

// Several instances schedule the same source: the one that moves last_scheduled_tick to a cron slot runs it, the
// others skip that slot, so a source runs once per tick however many instances there are and however long a run is.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table sources add column last_scheduled_tick timestamptz;
    comment on column sources.last_scheduled_tick is 'The latest cron slot an instance claimed for a scheduled run (one run per slot across instances).';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table sources drop column last_scheduled_tick');
}
