import type { Knex } from 'knex';

// Records of a running sync whose manager was not linked yet when they were written (the report read before its
// manager), kept in the database rather than in the process, as sync_run_seen is: the run's manager phase sets
// them once the whole read is applied, so a run's memory does not grow with how many reports come first (in a
// directory read in no set order, up to about half of all entries).
// A manager the connector could not name by anchor (an LDAP manager DN read before its entry) is named by reference,
// found at the phase's start among the referenceKeys of the records the run read (a column of sync_run_seen).
// Unlogged: the rows live only while their run does (cleared at its end, and at the start of the source's next
// run after a crash). The primary key serves the phase's keyset read by anchor and a record read twice in one run.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create unlogged table sync_run_managers (
      account_id uuid not null,
      source_id uuid not null,
      run_id uuid not null,
      anchor text not null,
      manager_anchor text not null,
      manager_by text,
      attributes json not null,
      raw json not null,
      hash text not null,
      constraint sync_run_managers_pkey primary key (account_id, run_id, anchor)
    );
    comment on table sync_run_managers is 'Records of a running sync whose manager (manager_anchor) was not linked when they were written; set by its manager phase, cleared when the run ends.';
    comment on column sync_run_managers.manager_by is 'Null: manager_anchor is an anchor of the source; else it is a reference the connector could not resolve, matched against the referenceKeys of the records the run read (sync_run_seen) by this key (for LDAP: dn).';
    alter table sync_run_seen add column reference_keys jsonb;
    comment on column sync_run_seen.reference_keys is 'How other records of the source may refer to this one (the connector''s referenceKeys, for LDAP its dn): a manager named by reference is found by them.';
    comment on column sync_run_managers.attributes is 'The record''s attributes as the source sent them (its manager still an anchor); json, not jsonb: the link hash is taken over them in their order.';
    comment on column sync_run_managers.raw is 'The record as the source sent it; json for the same reason.';
    comment on column sync_run_managers.hash is 'The link hash the record wrote: a later record of the anchor in the same run changes it, and the row is then stale.';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table sync_run_managers; alter table sync_run_seen drop column reference_keys');
}
