import type { Knex } from 'knex';

// Request counters shared by every Switchboard instance on one PostgreSQL (rate-limiter-flexible's
// RateLimiterPostgres layout: it reads and upserts these three columns). Unlogged: counts are worth nothing
// after a crash, and an unlogged table skips the WAL on the hot path of every request.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create unlogged table rate_limits (
      key varchar(255) primary key,
      points integer not null default 0,
      expire bigint
    );
    comment on table rate_limits is 'Rate-limit counters per key (token, client address), shared across instances; rows past expire are stale';
    create index rate_limits_expire_idx on rate_limits (expire);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table rate_limits');
}
