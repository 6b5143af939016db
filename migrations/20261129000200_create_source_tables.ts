import type { Knex } from 'knex';

// Sources that feed users, the per-source staging copy of each record linked to one core user, and run history
// (README, design decisions–5). The SCIM push of an identity provider is a source too: kind 'scim', one per account.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table sources (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      name text not null,
      kind text not null check (kind in ('scim', 'ldap', 'entra', 'mivb', 'micloud', 'csv')),
      config jsonb not null default '{}'::jsonb,
      schedule text,
      enabled boolean not null default true,
      soft_match boolean not null default true,
      delete_threshold_count integer not null default 500,
      delete_threshold_percent integer not null default 20,
      grace_period_days integer not null default 30,
      state jsonb,
      status text not null default 'idle',
      consecutive_failures integer not null default 0,
      next_retry_at timestamptz,
      last_error text,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (account_id, id)
    );
    comment on table sources is 'A configured source of users for an account: an identity provider push, a directory or a phone system.';
    comment on column sources.config is 'Connector configuration; secrets are stored here and never returned by the API.';
    comment on column sources.state is 'The connector cursor, saved in the transaction of the batch it covers.';
    comment on column sources.consecutive_failures is 'Failed runs in a row; drives the retry back-off.';
    create unique index sources_account_id_lower_name_idx on sources (account_id, lower(name));
    create unique index sources_account_id_scim_idx on sources (account_id) where kind = 'scim';

    create table user_source_links (
      account_id uuid not null,
      user_id uuid not null,
      source_id uuid not null,
      source_kind text not null,
      anchor text not null,
      owned_attributes text[] not null default '{}',
      attributes jsonb not null default '{}'::jsonb,
      raw jsonb not null default '{}'::jsonb,
      hash text,
      missing_since timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (account_id, source_id, anchor),
      foreign key (account_id, user_id) references users(account_id, id) on delete cascade,
      foreign key (account_id, source_id) references sources(account_id, id) on delete cascade
    );
    comment on table user_source_links is 'Per-source staging: the last record a source gave for a user, its stable anchor, and the attributes it owns.';
    comment on column user_source_links.anchor is 'The source''s stable id: objectGUID, entryUUID, Graph id, PBX id or SCIM externalId.';
    comment on column user_source_links.owned_attributes is 'Top-level SCIM attributes this source writes (URN-qualified for extensions).';
    comment on column user_source_links.raw is 'The last raw record, shown to admins as the advanced data.';
    comment on column user_source_links.missing_since is 'Set when a complete read no longer saw the record: the user was deactivated and awaits the grace period.';
    create index user_source_links_account_id_user_id_idx on user_source_links (account_id, user_id);

    create table sync_runs (
      account_id uuid not null,
      id uuid not null default gen_random_uuid(),
      source_id uuid not null,
      mode text not null check (mode in ('full', 'incremental')),
      trigger text not null default 'manual',
      dry_run boolean not null default false,
      allow_deletes boolean not null default false,
      status text not null default 'running',
      counts jsonb not null default '{}'::jsonb,
      error text,
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      primary key (account_id, id),
      foreign key (account_id, source_id) references sources(account_id, id) on delete cascade
    );
    comment on table sync_runs is 'Run history of sources: mode, trigger, status and counts; kept 30 days.';
    create index sync_runs_account_id_source_id_started_at_idx on sync_runs (account_id, source_id, started_at);

    create table sync_run_results (
      account_id uuid not null,
      run_id uuid not null,
      seq integer not null,
      anchor text,
      user_id uuid,
      outcome text not null,
      changes jsonb not null default '{}'::jsonb,
      error text,
      primary key (account_id, run_id, seq),
      foreign key (account_id, run_id) references sync_runs(account_id, id) on delete cascade
    );
    comment on table sync_run_results is 'Per-object results of a run: created, updated, unchanged, deactivated, quarantined, with changed attributes (old → new).';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop table if exists sync_run_results;
    drop table if exists sync_runs;
    drop table if exists user_source_links;
    drop table if exists sources;
  `);
}
