import type { Knex } from 'knex';

// The rows written under a user (emails, phone numbers, extensions, source links) reference the user by its id
// alone, not by (account_id, id). PostgreSQL checks a foreign key of every row it inserts with
// `select 1 from users where <the key's columns> = <the row's> for key share`. With (account_id, id), every index of
// users that leads with account_id (a dozen: created_at, userName, its prefix, employee number...) could serve that
// check, and the planner, estimating `account_id = X` from statistics that do not know the account, ties them with
// the primary key: planned for the values (plan_cache_mode, src/db/database.ts), after statistics were gathered
// while another account held every row, the check of a new account's rows took the employee-number index and read
// every user of the new account for each row (measured: 1,358 users read for one check at 2,000; COPY of 10,000
// imported rows 11.8 s instead of 1.5 s): a bulk load into a second account grew with its square. Planned once for
// the connection (PostgreSQL's default), a plan made while users was nearly empty did the same for every later
// POST. `id = X` has one index that serves it, unique, whatever the statistics say. The rows' account_id stays
// (their indexes lead with it), written by the one write path from the user's own row.

const TABLES = ['user_emails', 'user_phone_numbers', 'user_extensions', 'user_source_links'] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.raw('create unique index users_id_key on users (id)');
  for (const table of TABLES) {
    await knex.raw(`
      alter table ${table}
        drop constraint ${table}_account_id_user_id_fkey,
        add constraint ${table}_user_id_fkey foreign key (user_id) references users (id) on delete cascade
    `);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of TABLES) {
    await knex.raw(`
      alter table ${table}
        drop constraint ${table}_user_id_fkey,
        add constraint ${table}_account_id_user_id_fkey foreign key (account_id, user_id) references users (account_id, id) on delete cascade
    `);
  }
  await knex.raw('drop index users_id_key');
}
