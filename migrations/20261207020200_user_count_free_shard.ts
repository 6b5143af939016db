import type { Knex } from 'knex';

// A statement inserting or deleting users added to the shard of its backend (pg_backend_pid() % 16). Pool
// connections whose pids share a shard then wait for each other's commit on every write: sampled while loading
// users by POST at 8 concurrent requests (bench post-load, 2026-12-07), two of the eight connections' pairs shared
// a shard and 16 % of the active backends waited on Lock/transactionid in the write statement. The statement now
// adds to a shard no other open transaction holds (FOR UPDATE SKIP LOCKED), and only when all are held to one
// chosen by its transaction id, so fewer than 16 concurrent writers into one account never wait on the count.

const add = (table: string, sign: string) => `
    declare r record; s smallint;
    begin
      for r in select account_id, count(*) as n from ${table} group by account_id loop
        select c.shard into s from account_user_counts c where c.account_id = r.account_id for update skip locked limit 1;
        if found then
          update account_user_counts set user_count = user_count ${sign} r.n where account_id = r.account_id and shard = s;
        else
          insert into account_user_counts as c (account_id, shard, user_count) values (r.account_id, (txid_current() % 16)::smallint, ${sign === '-' ? '-' : ''}r.n)
            on conflict (account_id, shard) do update set user_count = c.user_count + excluded.user_count;
        end if;
      end loop;
      return null;
    end`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function users_count_inserted_trigger() returns trigger language plpgsql as $$${add('inserted', '+')} $$;
    create or replace function users_count_deleted_trigger() returns trigger language plpgsql as $$${add('deleted', '-')} $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
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
  `);
}
