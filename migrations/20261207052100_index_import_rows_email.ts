import type { Knex } from 'knex';

// An import finds the first line of the file that gave an email (a second row with it fails naming that line) in
// import_rows, the rows of the batches already committed, instead of a map of every email of the file held in the
// server's memory for the whole import (about 77 bytes a row: 7.7 MB at 100,000 rows, 40 MB at the 50 MB limit).

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create index import_rows_account_id_import_id_lower_email_idx on import_rows (account_id, import_id, lower(email));
    comment on index import_rows_account_id_import_id_lower_email_idx is 'The first line of an import that gave an email (ImportService: a later row with it fails naming that line).';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists import_rows_account_id_import_id_lower_email_idx');
}
