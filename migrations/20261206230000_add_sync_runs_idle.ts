import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table sync_runs add column idle boolean not null default false;
    comment on column sync_runs.idle is 'The source had not changed since the last run (an unchanged export, an HTTP 304): nothing was read or touched, every count is zero.';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table sync_runs drop column idle');
}
