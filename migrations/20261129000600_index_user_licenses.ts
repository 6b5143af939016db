import type { Knex } from 'knex';

// Seat checks count the users holding a product (`licenses @> '["MiTeam Meetings"]'`) on every assignment;
// without an index that is a scan of the account per assigned user.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create index users_licenses_idx on users using gin ((data->'urn:switchboard:scim:schemas:extension:2.0:User'->'licenses'));
    comment on index users_licenses_idx is 'Seat counting per licensed product.';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists users_licenses_idx');
}
