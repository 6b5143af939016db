import type { Knex } from 'knex';

// Each user's SCIM representation kept on its row (users.resource, jsonb), written by the write path in the same
// statement as the row, so GET /Users/{id} and the `userName eq` lookup read one column of one row instead of the
// row, its groups and its links, and render them (about 45 % of a one-document read before, issue 10). Kept
// without the request's base URL: meta has no location, groups are `{ value, display }` (src/domain/user-resource.ts).
//
// The backfill renders existing users here, in SQL, as src/domain/user-resource.ts renders them at this version
// (frozen: a migration imports nothing of the app). test/db/stored-resource.test.ts runs it and holds it equal.

const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SB = 'urn:switchboard:scim:schemas:extension:2.0:User';
const TELEPHONY = [`${SB}:extensions`, `${SB}:username`, `${SB}:voicemail`, `${SB}:mivbService`];

/** The rendering of the users of `where` (a condition on `u`), as an update. */
export function backfillSql(where = 'true'): string {
  const telephony = TELEPHONY.map((a) => `'${a}'`).join(', ');
  return `
    update users as u set resource = u.data
      || jsonb_build_object('schemas', case when jsonb_typeof(u.data->'schemas') <> 'array' then jsonb_build_array('${CORE}', '${SB}')
                                            when u.data->'schemas' @> jsonb_build_array('${SB}') then u.data->'schemas'
                                            else u.data->'schemas' || jsonb_build_array('${SB}') end,
                            'id', u.id)
      || case when u.data->'active' is null then '{"active": true}'::jsonb else '{}'::jsonb end
      || jsonb_build_object('${SB}',
           case when jsonb_typeof(u.data->'${SB}') = 'object' then u.data->'${SB}' else '{}'::jsonb end
           || jsonb_build_object('registered', u.registered, 'source', u.source,
                'connections', jsonb_build_object(
                  'pbx', exists (select 1 from user_source_links l where l.account_id = u.account_id and l.user_id = u.id and l.source_kind = 'mivb'),
                  'micloud', exists (select 1 from user_source_links l where l.account_id = u.account_id and l.user_id = u.id and l.source_kind = 'micloud'),
                  'iot', false))
           || coalesce((
                select jsonb_build_object('lockedAttributes', jsonb_agg(jsonb_build_object('attribute', o.attribute, 'source', o.kind, 'sourceId', o.source_id) order by o.attribute collate "C"))
                  from (select distinct on (a.attribute) a.attribute, l.source_kind as kind, l.source_id
                          from user_source_links l cross join unnest(l.owned_attributes) as a(attribute)
                         where l.account_id = u.account_id and l.user_id = u.id
                         order by a.attribute,
                                  array_position(case when a.attribute in (${telephony}) then array['mivb', 'micloud', 'scim', 'entra', 'ldap', 'csv']
                                                      else array['scim', 'entra', 'ldap', 'micloud', 'mivb', 'csv'] end, l.source_kind),
                                  l.source_id) as o
                having count(*) > 0), '{}'::jsonb)
           || case when coalesce(u.updated_by, '') <> '' then jsonb_build_object('modifiedBy', u.updated_by) else '{}'::jsonb end)
      || jsonb_build_object('groups', (
           select coalesce(jsonb_agg(jsonb_build_object('value', g.id, 'display', g.display_name) order by g.display_name, g.id), '[]'::jsonb)
             from group_members gm join groups g on g.account_id = gm.account_id and g.id = gm.group_id
            where gm.account_id = u.account_id and gm.member_id = u.id))
      || jsonb_build_object('meta', jsonb_build_object('resourceType', 'User',
           'created', to_char(u.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'lastModified', to_char(u.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'version', 'W/"' || u.version || '"'))
    where ${where}`;
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table users add column resource jsonb');
  await knex.raw(backfillSql());
  await knex.raw('alter table users alter column resource set not null');
  await knex.raw(`comment on column users.resource is 'The user''s SCIM representation without the base URL, written with the row (src/domain/user-resource.ts): what GET by id and userName eq read.'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table users drop column resource');
}
