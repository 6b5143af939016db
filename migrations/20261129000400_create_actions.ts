import type { Knex } from 'knex';

// Admin actions (SCIM custom resource Actions) and the one-time links they send (registration, password reset).
// Links are stored as a SHA-256 of their token only; the token itself exists in the email alone.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table actions (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      type text not null,
      status text not null,
      targets jsonb not null default '{}'::jsonb,
      params jsonb not null default '{}'::jsonb,
      summary jsonb not null default '{}'::jsonb,
      results jsonb not null default '[]'::jsonb,
      created_by text,
      created_at timestamptz not null default now(),
      completed_at timestamptz,
      primary key (account_id, id)
    );
    comment on table actions is 'Admin operations run over a set of users (sendWelcomeEmail, resetPassword), with their per-user results.';

    create table registration_links (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      user_id uuid not null,
      purpose text not null check (purpose in ('register', 'reset')),
      token_hash text not null,
      action_id uuid,
      expires_at timestamptz not null,
      used_at timestamptz,
      created_at timestamptz not null default now(),
      primary key (account_id, id)
    );
    comment on column registration_links.token_hash is 'Hex SHA-256 of the 256-bit token sent in the link; the token is never stored.';
    create unique index registration_links_token_hash_idx on registration_links (token_hash);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists registration_links; drop table if exists actions');
}
