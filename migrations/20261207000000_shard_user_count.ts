import type { Knex } from 'knex';

// accounts.user_count was raised by every statement inserting users (a statement trigger updating the account
// row). Concurrent writers into one account then queued on that one row: each update holds its row lock to
// commit, so eight identity-provider POSTs ran one after the other on it (Lock/transactionid waits), and the row's
// versions piled up between vacuums. The count now lives in account_user_counts, 16 rows (shards) per account:
// a statement adds to the shard of its backend (pg_backend_pid() % 16), so writers on different connections
// never wait for each other's commit; the count is the shards' sum (16 index entries, read with the account).
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table account_user_counts (
      account_id uuid not null references accounts(id) on delete cascade,
      shard smallint not null,
      user_count bigint not null default 0,
      primary key (account_id, shard)
    );
    comment on table account_user_counts is 'Users per account, kept by trigger in 16 shards per account (a writer adds to its backend''s shard): an unfiltered list never counts rows, and concurrent writers do not queue on one row.';
    insert into account_user_counts (account_id, shard, user_count) select id, 0, user_count from accounts where user_count <> 0;

    create or replace function users_count_inserted_trigger() returns trigger language plpgsql as $$
    begin
      insert into account_user_counts as c (account_id, shard, user_count)
        select account_id, pg_backend_pid() % 16, count(*) from inserted group by account_id
        on conflict (account_id, shard) do update set user_count = c.user_count + excluded.user_count;
      return null;
    end $$;
    create or replace function users_count_deleted_trigger() returns trigger language plpgsql as $$
    begin
      insert into account_user_counts as c (account_id, shard, user_count)
        select account_id, pg_backend_pid() % 16, -count(*) from deleted group by account_id
        on conflict (account_id, shard) do update set user_count = c.user_count + excluded.user_count;
      return null;
    end $$;
    alter table accounts drop column user_count;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table accounts add column user_count integer not null default 0;
    comment on column accounts.user_count is 'Number of users, kept by trigger, so an unfiltered list never counts rows.';
    update accounts a set user_count = c.n from (select account_id, sum(user_count)::int as n from account_user_counts group by account_id) c where a.id = c.account_id;
    create or replace function users_count_inserted_trigger() returns trigger language plpgsql as $$
    begin
      update accounts a set user_count = a.user_count + n.count
        from (select account_id, count(*) as count from inserted group by account_id) n
       where a.id = n.account_id;
      return null;
    end $$;
    create or replace function users_count_deleted_trigger() returns trigger language plpgsql as $$
    begin
      update accounts a set user_count = a.user_count - n.count
        from (select account_id, count(*) as count from deleted group by account_id) n
       where a.id = n.account_id;
      return null;
    end $$;
    drop table account_user_counts;
  `);
}
