import type { Knex } from 'knex';

// Groups read from a source (Entra ID with syncGroups): the source that owns a group and the group's anchor there.
// An owned group is written only by its source's runs; an admin's edit is refused naming the source.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table groups add column source_id uuid;
    alter table groups add column source_anchor text;
    alter table groups add constraint groups_source_fk foreign key (account_id, source_id) references sources(account_id, id) on delete set null (source_id);
    alter table groups add constraint groups_source_anchor_check check (source_id is null or source_anchor is not null);
    comment on column groups.source_id is 'The source that owns the group (its runs alone write it); null for groups created over SCIM or by an admin. A deleted source leaves its groups unowned.';
    comment on column groups.source_anchor is 'The group''s id in its source (a Graph group id), unique per source.';
    create unique index groups_account_id_source_id_source_anchor_idx on groups (account_id, source_id, source_anchor) where source_id is not null;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop index groups_account_id_source_id_source_anchor_idx;
    alter table groups drop constraint groups_source_anchor_check;
    alter table groups drop constraint groups_source_fk;
    alter table groups drop column source_anchor;
    alter table groups drop column source_id;
  `);
}
