import type { Knex } from 'knex';

// CSV imports of users (SCIM custom resource Imports) and one row per input record: its cells as read, so the
// report gives back the input with each record's outcome, and the record's outcome itself. Kept 30 days.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table imports (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      status text not null check (status in ('running', 'succeeded', 'completed_with_errors', 'failed')),
      dry_run boolean not null,
      mode text not null check (mode in ('upsert', 'create')),
      send_welcome_email boolean not null,
      header jsonb not null default '[]'::jsonb,
      delimiter text not null default ',',
      counts jsonb not null default '{}'::jsonb,
      error text,
      created_by text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      completed_at timestamptz,
      primary key (account_id, id)
    );
    comment on table imports is 'CSV imports of users (POST /Imports): options, status and counts; rows in import_rows. Deleted 30 days after created_at.';
    comment on column imports.status is 'running, succeeded (no row failed), completed_with_errors (some rows failed, the others were written) or failed (error says why).';
    comment on column imports.header is 'The header cells of the file as sent: the report repeats them before Line, Outcome and Reason.';
    comment on column imports.counts is '{rows, created, updated, unchanged, failed}: rows read from the file, and the outcome of those processed so far.';
    comment on column imports.updated_at is 'Last progress written; a running import whose updated_at is old was interrupted.';
    create index imports_account_id_created_at_idx on imports (account_id, created_at desc);
    create index imports_created_at_idx on imports (created_at);

    create table import_rows (
      account_id uuid not null,
      import_id uuid not null,
      line integer not null,
      email text,
      outcome text not null check (outcome in ('created', 'updated', 'unchanged', 'failed')),
      reason text,
      user_id uuid,
      cells jsonb not null,
      primary key (account_id, import_id, line),
      foreign key (account_id, import_id) references imports (account_id, id) on delete cascade
    );
    comment on table import_rows is 'One row per record of an import: where it starts in the file (the header is line 1), its cells as read and its outcome.';
    comment on column import_rows.user_id is 'The user created, updated or found unchanged (none for a failed row or a dry run creating it).';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists import_rows; drop table if exists imports');
}
