import { SWITCHBOARD_URN } from '../domain/user-rules.js';
import type { Executor } from './database.js';

/**
 * Licences held by the users of an account: the one SQL reading of "a user holds a licence for a product", for
 * every rule that counts seats (a user edit, the assignLicense action, a subscription shrinking, the Manage
 * panel's count). Product names compare case-insensitively, as the seed's rules do (`miteam meetings` and
 * `MiTeam Meetings` are one product); a `licenses` that is not an array holds nothing.
 */
const licenceValues = `jsonb_array_elements_text(case when jsonb_typeof(u.data->?->'licenses') = 'array' then u.data->?->'licenses' else '[]'::jsonb end) l(v)`;

export const licencesRepo = {
  /** How many users of the account hold a licence for `product`. Count under the account row lock when seats depend on it. */
  async holders(db: Executor, accountId: string, product: string): Promise<number> {
    const { rows } = (await db.raw(
      `select count(*) as n from users u
        where u.account_id = ?
          and exists (select 1 from ${licenceValues} where lower(l.v) = lower(?))`,
      [accountId, SWITCHBOARD_URN, SWITCHBOARD_URN, product],
    )) as { rows: { n: number | string }[] };
    return Number(rows[0]!.n);
  },

  /** For each account: lower-cased product → how many of its users hold a licence for it. One statement for a page of accounts. */
  async holdersByProduct(db: Executor, accountIds: readonly string[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>(accountIds.map((id) => [id, new Map<string, number>()]));
    if (accountIds.length === 0) return out;
    const { rows } = (await db.raw(
      `select u.account_id, lower(l.v) as product, count(distinct u.id) as n
         from users u
         cross join lateral ${licenceValues}
        where u.account_id = any(?::uuid[])
        group by u.account_id, lower(l.v)`,
      [SWITCHBOARD_URN, SWITCHBOARD_URN, [...accountIds]],
    )) as { rows: { account_id: string; product: string; n: number | string }[] };
    for (const r of rows) out.get(r.account_id)?.set(r.product, Number(r.n));
    return out;
  },
};
