import type { Knex } from 'knex';

// Hybrid identity the other way round: an Active Directory record whose person Entra ID already linked is found by
// the onPremisesImmutableId (base64 of the objectGUID) on the Entra link's raw record, one index probe per record.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create index user_source_links_account_id_immutable_id_idx on user_source_links (account_id, (raw->>'onPremisesImmutableId'))
      where (raw->>'onPremisesImmutableId') is not null;
    comment on index user_source_links_account_id_immutable_id_idx is 'Entra links by onPremisesImmutableId: the hybrid hard match of an Active Directory record (objectGUID).';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index user_source_links_account_id_immutable_id_idx');
}
