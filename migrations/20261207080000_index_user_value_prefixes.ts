import type { Knex } from 'knex';

// `emails.value sw "…"`, `phoneNumbers.value sw "…"` and `extensions sw "…"` (the console's Search Users with an
// "@" or digits, an identity provider looking an address up) as a range of a btree within the account, as
// 20261207051500 did for userName: the trigram indexes answer a prefix too, but across every account and by the
// posting lists of each trigram of it. The filter compiler reads these rows uncorrelated inside an `or` whose every
// branch an index answers (src/db/scim-filter-sql.ts, OwnedRows), so that `emails.value sw "x" or userName sw "x"`
// is two index ranges instead of every user of the account (100,000 users: 200,000 buffers and 1.35 s before).
// text_pattern_ops because LIKE uses a btree for a prefix only under the C collation; its equality is text's, so
// eq reads it as well. The phone numbers' plain btree of (account_id, value) answered only eq: this one replaces it.
// The unique index of the emails (account_id, lower(value)) and the primary key of the extensions stay: they
// enforce uniqueness, and name it in the 409 a duplicate gets.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create index user_emails_account_id_lower_value_pattern_idx on user_emails (account_id, lower(value) text_pattern_ops);
    comment on index user_emails_account_id_lower_value_pattern_idx is 'emails.value sw (a LIKE prefix) within an account, as a btree range.';
    create index user_phone_numbers_account_id_value_pattern_idx on user_phone_numbers (account_id, value text_pattern_ops);
    comment on index user_phone_numbers_account_id_value_pattern_idx is 'phoneNumbers.value eq and sw (a LIKE prefix) within an account.';
    drop index user_phone_numbers_account_id_value_idx;
    create index user_extensions_account_id_number_pattern_idx on user_extensions (account_id, number text_pattern_ops);
    comment on index user_extensions_account_id_number_pattern_idx is 'extensions sw (a LIKE prefix) within an account, as a btree range.';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop index user_extensions_account_id_number_pattern_idx;
    create index user_phone_numbers_account_id_value_idx on user_phone_numbers (account_id, value);
    drop index user_phone_numbers_account_id_value_pattern_idx;
    drop index user_emails_account_id_lower_value_pattern_idx;
  `);
}
