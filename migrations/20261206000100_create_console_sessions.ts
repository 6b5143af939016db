import type { Knex } from 'knex';

// The admin console's sign-in sessions (README, design decisions) and the failed sign-in counters behind its back-off.
// A session's cookie secret is stored as a SHA-256 only, like tokens; the CSRF token is no credential on its own
// (it is useless without the HttpOnly cookie) and is kept in clear so every page load can be given it.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table console_sessions (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      secret_hash text not null,
      csrf_token text not null,
      role text not null,
      user_id uuid,
      token_id uuid,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      expires_at timestamptz not null,
      ended_at timestamptz,
      primary key (account_id, id),
      check ((user_id is null) <> (token_id is null))
    );
    comment on table console_sessions is 'Signed-in admin console sessions: a platform account (user_id) or an operator token (token_id).';
    comment on column console_sessions.secret_hash is 'Hex SHA-256 of the 256-bit secret in the HttpOnly cookie; the secret is never stored.';
    comment on column console_sessions.csrf_token is 'Sent back by the console in X-CSRF-Token on every request made with the cookie.';
    comment on column console_sessions.last_seen_at is 'Last use, for the idle timeout (refreshed at most once a minute).';
    comment on column console_sessions.expires_at is 'The absolute timeout: the session ends then whatever its use.';
    comment on column console_sessions.ended_at is 'Set on sign-out.';
    create unique index console_sessions_secret_hash_idx on console_sessions (secret_hash);

    create table sign_in_failures (
      key_hash text primary key,
      failures integer not null,
      last_failed_at timestamptz not null,
      blocked_until timestamptz not null
    );
    comment on table sign_in_failures is 'Failed console sign-ins per email (or operator sign-in) and per client address; not tenant data: the email may belong to no account.';
    comment on column sign_in_failures.key_hash is 'Hex SHA-256 of "email:<lower-cased email>", "token" or "address:<ip>".';
    comment on column sign_in_failures.blocked_until is 'No sign-in for this key is checked before then (exponential back-off).';

    create index users_lower_primary_email_registered_idx on users (lower(primary_email)) where password_hash is not null;
    comment on index users_lower_primary_email_registered_idx is 'Console sign-in: a platform account is found by its email across accounts.';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists users_lower_primary_email_registered_idx; drop table if exists sign_in_failures; drop table if exists console_sessions');
}
