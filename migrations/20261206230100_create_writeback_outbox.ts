import type { Knex } from 'knex';

// Write-backs to phone systems (README, design decisions, §7): the seed's MiVB username, set by an admin together with the
// MiVoice Business service, is written in the transaction of that edit and delivered by a worker as a MiCollab
// bulk-provisioning file. One row per user and kind (the unique index), so it is applied once and never again.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table writeback_outbox (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      source_id uuid not null,
      user_id uuid not null,
      kind text not null check (kind in ('username')),
      payload jsonb not null,
      status text not null default 'pending' check (status in ('pending', 'sending', 'delivered', 'failed')),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      lease_until timestamptz,
      last_error text,
      target text,
      created_at timestamptz not null default now(),
      delivered_at timestamptz,
      primary key (account_id, id),
      foreign key (account_id, source_id) references sources(account_id, id) on delete cascade
    );
    comment on table writeback_outbox is 'Changes to write back to a source system (the MiVB username as a MiCollab provisioning file), delivered by the write-back worker.';
    comment on column writeback_outbox.source_id is 'The source that receives the change (the MiVB source linking the user, else the account''s first MiVB source).';
    comment on column writeback_outbox.payload is 'The connector''s WriteBackMessage (type, userId, username, names, email).';
    comment on column writeback_outbox.status is 'pending (due at next_attempt_at), sending (claimed until lease_until), delivered, failed (permanently or out of attempts).';
    comment on column writeback_outbox.attempts is 'Delivery attempts so far, counted at claim; also the claim''s fencing token.';
    comment on column writeback_outbox.target is 'Where the change was delivered (the file''s location).';
    create unique index writeback_outbox_account_id_user_id_kind_idx on writeback_outbox (account_id, user_id, kind);
    create index writeback_outbox_status_next_attempt_at_idx on writeback_outbox (status, next_attempt_at) where status in ('pending', 'sending');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists writeback_outbox');
}
