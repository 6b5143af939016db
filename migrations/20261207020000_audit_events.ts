import type { Knex } from 'knex';

// The audit trail as a resource (/AuditEvents): the writer each change came through, the user it is about, and the
// indexes its list walks (an account's events in time order; one user's events). The index by target goes: nothing
// reads by it any more, and every user write pays for each index of this table. Rows written before this
// migration get the writer their actor implies; which of an admin's changes came from a CSV import, or from the
// console rather than a token, was not recorded then, so those read as `token`.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table audit_log add column writer text;
    update audit_log set writer = case
      when actor = 'scim' or actor like 'source:%' then 'source'
      when actor = 'system' then 'system'
      when action in ('user.register', 'user.password_reset') then 'link'
      when action like 'import.%' then 'import'
      else 'token' end;
    alter table audit_log alter column writer set not null;
    alter table audit_log add constraint audit_log_writer_check check (writer in ('admin', 'token', 'source', 'import', 'link', 'system'));
    comment on column audit_log.writer is 'Through which writer the change came: admin (console session), token (API token), source (sync run or identity provider push), import (CSV import), link (registration or reset link), system.';
    alter table audit_log add column user_id text generated always as (case when target_type = 'User' then target_id end) stored;
    comment on column audit_log.user_id is 'The user the event is about (target_type User): the userId filter of /AuditEvents.';
    create index audit_log_account_id_at_id_idx on audit_log (account_id, at, id);
    create index audit_log_account_id_user_id_at_idx on audit_log (account_id, user_id, at, id) where user_id is not null;
    drop index audit_log_account_id_target_id_idx;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create index audit_log_account_id_target_id_idx on audit_log (account_id, target_id, at);
    drop index audit_log_account_id_user_id_at_idx;
    drop index audit_log_account_id_at_id_idx;
    alter table audit_log drop column user_id;
    alter table audit_log drop constraint audit_log_writer_check;
    alter table audit_log drop column writer;
  `);
}
