import type { Knex } from 'knex';

// Sync matching looks users up by their enterprise employeeNumber (a hard key) once per batch.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create index users_account_id_employee_number_idx
      on users (account_id, (data->'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'->>'employeeNumber'));
    comment on index users_account_id_employee_number_idx is 'Hard-key matching of source records by employeeNumber.';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists users_account_id_employee_number_idx');
}
