import type { Knex } from 'knex';

// The core store: accounts, users (typed columns for what is filtered, sorted or unique; jsonb for the rest),
// multi-valued attributes that are filtered as rows, groups with members as rows, tokens and the audit log.
// Every tenant table carries account_id and leads its keys with it (README, design decisions, §2).

export async function up(knex: Knex): Promise<void> {
  await knex.raw('create extension if not exists pg_trgm');
  await knex.raw('create extension if not exists citext');

  await knex.raw(`
    create table accounts (
      id uuid primary key default gen_random_uuid(),
      parent_id uuid references accounts(id) on delete restrict,
      type text not null check (type in ('operator', 'partner', 'customer')),
      name text not null,
      external_id text,
      settings jsonb not null default '{}'::jsonb,
      user_count integer not null default 0,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      updated_by text
    );
    comment on table accounts is 'The tenant tree: the operator, its partner accounts, their customer accounts.';
    comment on column accounts.parent_id is 'Owning account: null for the operator, the operator for partners, a partner (or the operator) for customers.';
    comment on column accounts.settings is 'Integrations and options: sso, twilio {enabled, userNumbers, smsPool}, miTeamMeetings, miCollab, mivb, oigInCluster, contactCenter.';
    comment on column accounts.user_count is 'Number of users, kept by trigger, so an unfiltered list never counts rows.';
    comment on column accounts.version is 'Row version, also the weak ETag.';
    create index accounts_parent_id_idx on accounts (parent_id);
    create unique index accounts_operator_idx on accounts (type) where type = 'operator';

    create table account_subscriptions (
      account_id uuid not null references accounts(id) on delete cascade,
      product text not null,
      seats integer not null check (seats >= 0),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (account_id, product)
    );
    comment on table account_subscriptions is 'Products an account has ordered, with their seats (e.g. MiTeam Meetings: 25).';

    create table users (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      user_name text not null,
      external_id text,
      display_name text,
      given_name text,
      family_name text,
      active boolean not null default true,
      primary_email text,
      sms_number text,
      account_admin boolean not null default false,
      registered boolean not null default false,
      source text not null default 'local',
      password_hash text,
      data jsonb not null,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      updated_by text,
      primary key (account_id, id)
    );
    comment on table users is 'Core users: one row per person of an account, whatever the sources feeding it.';
    comment on column users.data is 'The stored SCIM representation (core, enterprise and switchboard extension attributes), without id, meta, groups and password.';
    comment on column users.primary_email is 'The primary (or first) email, for sorting and fast equality filters.';
    comment on column users.sms_number is 'E.164 number from the account''s Twilio pool; unique per account.';
    comment on column users.registered is 'The user has registered a platform (CloudLink) account.';
    comment on column users.source is 'Kind of the source that created the user: local, csv, scim, ldap, entra, mivb, micloud.';
    comment on column users.password_hash is 'argon2 hash; never returned.';
    comment on column users.version is 'Row version, also the weak ETag.';
    comment on column users.updated_by is 'Who last changed the user (token, source or admin), the seed''s Modified by.';
    create unique index users_account_id_lower_user_name_idx on users (account_id, lower(user_name));
    create index users_account_id_external_id_idx on users (account_id, external_id);
    create index users_account_id_lower_primary_email_idx on users (account_id, lower(primary_email));
    create unique index users_account_id_sms_number_idx on users (account_id, sms_number) where sms_number is not null;
    create index users_account_id_updated_at_idx on users (account_id, updated_at, id);
    create index users_account_id_created_at_idx on users (account_id, created_at, id);
    create index users_account_id_lower_family_name_idx on users (account_id, lower(family_name), id);
    create index users_account_id_lower_display_name_idx on users (account_id, lower(display_name), id);
    create index users_lower_user_name_trgm_idx on users using gin (lower(user_name) gin_trgm_ops);
    create index users_lower_display_name_trgm_idx on users using gin (lower(display_name) gin_trgm_ops);
    create index users_lower_given_name_trgm_idx on users using gin (lower(given_name) gin_trgm_ops);
    create index users_lower_family_name_trgm_idx on users using gin (lower(family_name) gin_trgm_ops);

    create table user_emails (
      account_id uuid not null,
      user_id uuid not null,
      position smallint not null,
      value text not null,
      type text,
      is_primary boolean not null default false,
      primary key (account_id, user_id, position),
      foreign key (account_id, user_id) references users(account_id, id) on delete cascade
    );
    comment on table user_emails is 'User emails as rows, for filters and per-account uniqueness; users.data holds the same values for output.';
    create unique index user_emails_account_id_lower_value_idx on user_emails (account_id, lower(value));
    create index user_emails_lower_value_trgm_idx on user_emails using gin (lower(value) gin_trgm_ops);

    create table user_phone_numbers (
      account_id uuid not null,
      user_id uuid not null,
      position smallint not null,
      value text not null,
      type text,
      is_primary boolean not null default false,
      primary key (account_id, user_id, position),
      foreign key (account_id, user_id) references users(account_id, id) on delete cascade
    );
    comment on table user_phone_numbers is 'User phone numbers as rows, for filters; users.data holds the same values for output.';
    create index user_phone_numbers_account_id_value_idx on user_phone_numbers (account_id, value);
    create index user_phone_numbers_value_trgm_idx on user_phone_numbers using gin (value gin_trgm_ops);

    create table user_extensions (
      account_id uuid not null,
      user_id uuid not null,
      number text not null,
      primary key (account_id, number),
      foreign key (account_id, user_id) references users(account_id, id) on delete cascade
    );
    comment on table user_extensions is 'PBX extension numbers, unique per account.';
    create index user_extensions_account_id_user_id_idx on user_extensions (account_id, user_id);

    create table groups (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      display_name text not null,
      external_id text,
      data jsonb not null default '{}'::jsonb,
      member_count integer not null default 0,
      version integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      updated_by text,
      primary key (account_id, id)
    );
    comment on table groups is 'SCIM groups; members live in group_members so that one member change costs the same in any group size.';
    create index groups_account_id_lower_display_name_idx on groups (account_id, lower(display_name));
    create index groups_account_id_external_id_idx on groups (account_id, external_id);
    create index groups_lower_display_name_trgm_idx on groups using gin (lower(display_name) gin_trgm_ops);

    create table group_members (
      account_id uuid not null,
      group_id uuid not null,
      member_id uuid not null,
      member_type text not null default 'User' check (member_type in ('User', 'Group')),
      created_at timestamptz not null default now(),
      primary key (account_id, group_id, member_id),
      foreign key (account_id, group_id) references groups(account_id, id) on delete cascade
    );
    comment on table group_members is 'Group membership as rows; a user''s groups attribute is read from here.';
    create index group_members_account_id_member_id_idx on group_members (account_id, member_id);

    create table tokens (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      secret_hash text not null,
      role text not null check (role in ('operator', 'partner-admin', 'account-admin', 'provisioning', 'user')),
      description text,
      user_id uuid,
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz,
      created_at timestamptz not null default now(),
      created_by text,
      primary key (account_id, id)
    );
    comment on table tokens is 'Bearer tokens. Only the SHA-256 of the secret is stored; the secret is shown once.';
    create unique index tokens_secret_hash_idx on tokens (secret_hash);

    create table audit_log (
      account_id uuid not null references accounts(id) on delete cascade,
      id bigint generated always as identity,
      at timestamptz not null default now(),
      actor text not null,
      action text not null,
      target_type text,
      target_id text,
      details jsonb not null default '{}'::jsonb,
      primary key (account_id, id)
    );
    comment on table audit_log is 'Who did what, when: every user change and every action.';
    create index audit_log_account_id_target_id_idx on audit_log (account_id, target_id, at);

    create function users_count_trigger() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        update accounts set user_count = user_count + 1 where id = new.account_id;
      elsif tg_op = 'DELETE' then
        update accounts set user_count = user_count - 1 where id = old.account_id;
      end if;
      return null;
    end $$;
    create trigger users_count after insert or delete on users for each row execute function users_count_trigger();

    create function groups_member_count_trigger() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        update groups set member_count = member_count + 1 where account_id = new.account_id and id = new.group_id;
      elsif tg_op = 'DELETE' then
        update groups set member_count = member_count - 1 where account_id = old.account_id and id = old.group_id;
      end if;
      return null;
    end $$;
    create trigger group_members_count after insert or delete on group_members for each row execute function groups_member_count_trigger();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop table if exists audit_log;
    drop table if exists tokens;
    drop table if exists group_members;
    drop table if exists groups;
    drop table if exists user_extensions;
    drop table if exists user_phone_numbers;
    drop table if exists user_emails;
    drop table if exists users;
    drop function if exists users_count_trigger();
    drop function if exists groups_member_count_trigger();
    drop table if exists account_subscriptions;
    drop table if exists accounts;
  `);
}
