import type { Knex } from 'knex';

// Actions run in the background (more than 500 users) and are listed with filters: they record why they failed
// as a whole and when they last made progress; the list walks the account's actions newest first.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table actions add column error text;
    alter table actions add column updated_at timestamptz not null default now();
    comment on column actions.status is 'running, completed (per-user outcomes in results) or failed (error says why; nothing was changed).';
    comment on column actions.error is 'Why the action failed as a whole (a background run refused or interrupted).';
    comment on column actions.updated_at is 'Last progress written; a running action whose updated_at is old was interrupted.';
    comment on column actions.created_by is 'Who ran the action: role and token id.';
    create index actions_account_id_created_at_idx on actions (account_id, created_at desc, id desc);
    create index actions_status_updated_at_idx on actions (updated_at) where status = 'running';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop index if exists actions_status_updated_at_idx;
    drop index if exists actions_account_id_created_at_idx;
    alter table actions drop column if exists updated_at;
    alter table actions drop column if exists error;
  `);
}
