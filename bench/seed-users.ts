/**
 * Seeds one account with N users (default 100,000) in a few set-based statements: `insert … select
 * generate_series` into users (typed columns + the stored SCIM `data`), then user_emails derived from the same
 * `data` in the same statement. The rows have the shape UserService.apply() writes for an admin writer (source
 * `local`, version 1, `data` = the cleaned document without id/meta/groups/password, one user_emails row per
 * email with its position). Row triggers are off while a batch is inserted (the per-row user_count trigger is
 * quadratic in one big transaction); the account's user count is then raised by the batch size, the count the trigger
 * keeps. No audit_log rows are written.
 *
 * Works on PostgreSQL and PGlite (any knex). Run:
 *   npx tsx bench/seed-users.ts --database-url=postgres://postgres@127.0.0.1:5432/switchboard_bench [--count=100000] [--account-id=UUID]
 */
import { backfillSql } from '../migrations/20261207010000_users_resource.js';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { migrateLatest, openDatabase } from '../src/db/database.js';
import { arg } from './bench-util.js';

const GIVEN = [
  'James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda', 'William', 'Elizabeth', 'David', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica',
  'Thomas', 'Sarah', 'Charles', 'Karen', 'Christopher', 'Nancy', 'Daniel', 'Lisa', 'Matthew', 'Betty', 'Anthony', 'Margaret', 'Mark', 'Sandra', 'Donald', 'Ashley',
  'Steven', 'Kimberly', 'Paul', 'Emily', 'Andrew', 'Donna', 'Joshua', 'Michelle', 'Kenneth', 'Dorothy', 'Kevin', 'Carol', 'Brian', 'Amanda', 'George', 'Melissa',
  'Edward', 'Deborah', 'Ronald', 'Stephanie', 'Timothy', 'Rebecca', 'Jason', 'Sharon', 'Jeffrey', 'Laura', 'Ryan', 'Cynthia', 'Jacob', 'Kathleen', 'Gary', 'Amy',
  'Nicholas', 'Shirley', 'Eric', 'Angela', 'Jonathan', 'Helen', 'Stephen', 'Anna', 'Larry', 'Brenda', 'Justin', 'Pamela', 'Scott', 'Nicole', 'Brandon', 'Emma',
  'Benjamin', 'Samantha', 'Samuel', 'Katherine', 'Gregory', 'Christine', 'Frank', 'Debra', 'Alexander', 'Rachel', 'Raymond', 'Catherine', 'Patrick', 'Carolyn', 'Jack', 'Janet',
  'Lucas', 'Sophie', 'Luc', 'Marie', 'Jan', 'Els', 'Pieter', 'Annelies', 'Koen', 'Griet', 'Bart', 'Inge', 'Wim', 'Hilde', 'Hans', 'Eva', 'Lars', 'Ingrid', 'Mateo', 'Lucia',
  'Pierre', 'Camille', 'Hugo', 'Chloé', 'Louis', 'Léa', 'Marco', 'Giulia', 'Luca', 'Francesca', 'Diego', 'Carmen', 'Javier', 'Elena', 'Yuki', 'Hiroshi', 'Wei', 'Mei',
  'Arjun', 'Priya', 'Rahul', 'Ananya', 'Omar', 'Fatima', 'Ahmed', 'Aisha', 'Olga', 'Dmitri', 'Ivan', 'Natalia', 'Kwame', 'Amara', 'Chidi', 'Zanele',
];
const FAMILY = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas',
  'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young',
  'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell',
  'Carter', 'Roberts', 'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz', 'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes', 'Stewart', 'Morris', 'Morales', 'Murphy',
  'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan', 'Cooper', 'Peterson', 'Bailey', 'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson',
  'Watson', 'Brooks', 'Chavez', 'Wood', 'James', 'Bennett', 'Gray', 'Mendoza', 'Ruiz', 'Hughes', 'Price', 'Alvarez', 'Castillo', 'Sanders', 'Patel', 'Myers',
  'Long', 'Ross', 'Foster', 'Jimenez', 'Powell', 'Jenkins', 'Perry', 'Russell', 'Sullivan', 'Bell', 'Coleman', 'Butler', 'Henderson', 'Barnes', 'Gonzales', 'Fisher',
  'Peeters', 'Janssens', 'Maes', 'Jacobs', 'Mertens', 'Willems', 'Claes', 'Goossens', 'Wouters', 'De Smet', 'Dubois', 'Lambert', 'Dupont', 'Martens', 'Smits', 'Smet',
  'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann', 'Rossi', 'Russo', 'Ferrari', 'Esposito', 'Bianchi', 'Romano',
  'Bernard', 'Durand', 'Moreau', 'Laurent', 'Lefebvre', 'Leroy', 'Smirnov', 'Ivanov', 'Kuznetsov', 'Popov', 'Sato', 'Suzuki', 'Takahashi', 'Tanaka', 'Wang', 'Li',
  'Zhang', 'Liu', 'Chen', 'Yang', 'Kumar', 'Singh', 'Sharma', 'Gupta', 'Khan', 'Ali', 'Hussain', 'Okafor', 'Mensah', 'Smithson', 'Smallwood', "O'Brien",
];
const DEPARTMENTS = ['Sales', 'Engineering', 'Support', 'Finance', 'Marketing', 'Operations', 'Legal', 'HR', 'Product', 'IT'];
const TITLES = ['Engineer', 'Senior Engineer', 'Account Executive', 'Support Agent', 'Analyst', 'Manager', 'Director', 'Consultant', 'Designer', 'Coordinator'];

export interface SeedOptions {
  accountId: string;
  /** How many users (default 100,000). */
  count?: number;
  /** Numbering starts after this (to seed more users into an account already seeded). */
  start?: number;
  /** users.updated_by, what the app records as the writer (default `seed`). */
  updatedBy?: string;
  /** Users per statement (default 25,000). */
  batchSize?: number;
  /** Domain of the work addresses and userNames (default corp.example). */
  domain?: string;
}

export interface SeedResult {
  count: number;
  ms: number;
}

const sqlArray = (values: string[]) => `array[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')}]::text[]`;

/**
 * The i-th user (1-based) gets a given and a family name spread by hash, userName `given.family<i>@domain`, a
 * work email equal to the userName (primary), and every third user a home email; title, enterprise
 * employeeNumber and department. created_at is spaced one second apart so that the default order (created_at,
 * id) is the numbering order.
 */
function batchSql(): string {
  return `
    with ins as (
      insert into users (account_id, user_name, display_name, given_name, family_name, active, primary_email, source, resource, data, created_at, updated_at, updated_by)
      select :accountId::uuid, n.user_name, n.display_name, n.given, n.family, true, n.user_name, 'local', '{}'::jsonb,
        jsonb_build_object(
          'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'),
          'userName', n.user_name,
          'name', jsonb_build_object('formatted', n.display_name, 'givenName', n.given, 'familyName', n.family),
          'displayName', n.display_name,
          'title', n.title,
          'active', true,
          'emails', case when n.i % 3 = 0
            then jsonb_build_array(jsonb_build_object('type', 'work', 'value', n.user_name, 'primary', true), jsonb_build_object('type', 'home', 'value', n.home))
            else jsonb_build_array(jsonb_build_object('type', 'work', 'value', n.user_name, 'primary', true)) end,
          'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', jsonb_build_object('employeeNumber', lpad(n.i::text, 6, '0'), 'department', n.department)
        ),
        :base::timestamptz + make_interval(secs => n.i), :base::timestamptz + make_interval(secs => n.i), :updatedBy
      from (
        select i, g.given, f.family, g.given || ' ' || f.family as display_name,
          lower(regexp_replace(g.given || '.' || f.family, '[^A-Za-z.]', '', 'g')) || i || '@' || :domain as user_name,
          lower(regexp_replace(g.given, '[^A-Za-z]', '', 'g')) || '.' || i || '@mail.example' as home,
          (${sqlArray(TITLES)})[1 + abs(hashint4(i * 7)) % ${TITLES.length}] as title,
          (${sqlArray(DEPARTMENTS)})[1 + abs(hashint4(i * 13)) % ${DEPARTMENTS.length}] as department
        from generate_series(:from::int, :to::int) i
        cross join lateral (select (${sqlArray(GIVEN)})[1 + abs(hashint4(i)) % ${GIVEN.length}] as given) g
        cross join lateral (select (${sqlArray(FAMILY)})[1 + abs(hashint4(i + 1000003)) % ${FAMILY.length}] as family) f
      ) n
      order by n.i
      returning account_id, id, data
    )
    insert into user_emails (account_id, user_id, position, value, type, is_primary)
    select ins.account_id, ins.id, (e.ord - 1)::smallint, e.v->>'value', e.v->>'type', coalesce((e.v->>'primary')::boolean, false)
    from ins cross join lateral jsonb_array_elements(ins.data->'emails') with ordinality as e(v, ord)`;
}

export async function seedUsers(knex: Knex, options: SeedOptions): Promise<SeedResult> {
  const count = options.count ?? 100_000;
  const start = options.start ?? 0;
  const batch = options.batchSize ?? 25_000;
  const started = performance.now();
  // Everyone is created "in the past", one second apart, ending about now.
  const base = new Date(Date.now() - (start + count + 60) * 1000).toISOString();
  const sql = batchSql();
  for (let from = start + 1; from <= start + count; from += batch) {
    const to = Math.min(start + count, from + batch - 1);
    await knex.transaction(async (trx) => {
      // Row triggers off for the batch (the per-row users_count trigger would update the same accounts row
      // 25,000 times in one transaction, which is quadratic), then the count it would have kept, in one update.
      // Seeding is no request: past the server's STATEMENT_TIMEOUT_MS (a loaded machine took longer for one batch).
      await trx.raw('set local statement_timeout = 0');
      await trx.raw('set local session_replication_role = replica');
      await trx.raw(sql, { accountId: options.accountId, from, to, base, updatedBy: options.updatedBy ?? 'seed', domain: options.domain ?? 'corp.example' });
      await trx.raw('set local session_replication_role = origin');
      // The stored representations (users.resource), rendered as the migration that added them renders existing users.
      await trx.raw(backfillSql("u.account_id = ? and u.resource = '{}'::jsonb"), [options.accountId]);
      await trx.raw(
        `insert into account_user_counts as c (account_id, shard, user_count) values (?, 0, ?)
         on conflict (account_id, shard) do update set user_count = c.user_count + excluded.user_count`,
        [options.accountId, to - from + 1],
      );
    });
  }
  await knex.raw('analyze users');
  await knex.raw('analyze user_emails');
  return { count, ms: Math.round(performance.now() - started) };
}

/** A customer account under the operator (when there is one), for seeding outside the API. */
export async function createSeedAccount(knex: Knex, name = 'Bench Corp'): Promise<string> {
  const operator = (await knex('accounts').where({ type: 'operator' }).first('id')) as { id: string } | undefined;
  const [row] = (await knex('accounts').insert({ type: 'customer', name, parent_id: operator?.id ?? null }).returning('id')) as { id: string }[];
  return row.id;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const databaseUrl = arg('database-url') ?? process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('usage: tsx bench/seed-users.ts --database-url=URL [--count=N] [--account-id=UUID]');
    process.exit(2);
  }
  const db = await openDatabase({ databaseUrl, poolMax: 2 });
  try {
    await migrateLatest(db.knex);
    const accountId = arg('account-id') ?? (await createSeedAccount(db.knex));
    const result = await seedUsers(db.knex, { accountId, count: Number(arg('count') ?? 100_000) });
    console.log(JSON.stringify({ accountId, ...result }));
  } finally {
    await db.close();
  }
}
