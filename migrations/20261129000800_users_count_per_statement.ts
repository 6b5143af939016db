import type { Knex } from 'knex';

// accounts.user_count was kept by a row trigger: a batch of N inserted users updated the account row N times in
// one transaction, and each update (and each foreign-key check on the account by later rows: users, audit_log)
// walked the growing chain of that row's dead versions, so a batch cost grew with its square. Statement
// triggers with transition tables update the account once per statement and per account.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    drop trigger users_count on users;
    create function users_count_inserted_trigger() returns trigger language plpgsql as $$
    begin
      update accounts a set user_count = a.user_count + n.count
        from (select account_id, count(*) as count from inserted group by account_id) n
       where a.id = n.account_id;
      return null;
    end $$;
    create function users_count_deleted_trigger() returns trigger language plpgsql as $$
    begin
      update accounts a set user_count = a.user_count - n.count
        from (select account_id, count(*) as count from deleted group by account_id) n
       where a.id = n.account_id;
      return null;
    end $$;
    create trigger users_count_inserted after insert on users referencing new table as inserted
      for each statement execute function users_count_inserted_trigger();
    create trigger users_count_deleted after delete on users referencing old table as deleted
      for each statement execute function users_count_deleted_trigger();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop trigger if exists users_count_inserted on users;
    drop trigger if exists users_count_deleted on users;
    drop function if exists users_count_inserted_trigger();
    drop function if exists users_count_deleted_trigger();
    create trigger users_count after insert or delete on users for each row execute function users_count_trigger();
  `);
}
