import { useEffect, useState } from 'preact/hooks';
import { ApiError, scim, type Json, type Session } from '../api.js';
import { ErrorNote } from '../components.js';
import { href } from '../router.js';

/** A partner's (or the operator's) customer accounts; a click opens the account's Users page. */
export function Accounts(props: { session: Session }) {
  const [accounts, setAccounts] = useState<Json[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    scim(props.session.accountId)
      .get('/Accounts', { count: 1000, sortBy: 'name' })
      .then((list) => setAccounts(((list.Resources ?? []) as Json[]).filter((a) => a.id !== props.session.accountId || a.type !== 'operator')))
      .catch((e: unknown) => setError(e instanceof ApiError ? e.detail : String(e)));
  }, [props.session.accountId]);
  return (
    <section>
      <h1>Accounts</h1>
      <ErrorNote error={error} />
      {!accounts && !error && <p>Loading…</p>}
      {accounts && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Users</th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((a) => (
              <tr key={a.id}>
                <td>
                  <a href={href.users(String(a.id))}>{String(a.name)}</a>
                </td>
                <td>{a.type === 'partner' ? 'Partner' : a.type === 'customer' ? 'Customer' : String(a.type)}</td>
                <td>{Number(a.userCount ?? 0).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
