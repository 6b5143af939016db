import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { currentSession, scim, setSignedOutHandler, signOut, type Json, type Session } from './api.js';
import { href, navigate, useRoute, type Route } from './router.js';
import { SignIn } from './pages/sign-in.js';
import { Accounts } from './pages/accounts.js';
import { Users } from './pages/users.js';
import { UserForm } from './pages/user-form.js';
import { Sources } from './pages/sources.js';
import { Settings } from './pages/settings.js';
import { ImportUsers } from './pages/import-users.js';

function landing(session: Session): string {
  return session.accountType === 'customer' ? href.users(session.accountId) : href.accounts();
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    setSignedOutHandler(() => setSession(null));
    currentSession().then((s) => setSession(s ?? null), () => setSession(null));
  }, []);
  useEffect(() => {
    if (session && route.page === 'home') navigate(landing(session));
  }, [session, route]);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null)
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s);
          navigate(landing(s));
        }}
      />
    );
  return <Shell session={session} route={route} onSignOut={() => setSession(null)} />;
}

function Shell(props: { session: Session; route: Route; onSignOut: () => void }) {
  const { session, route } = props;
  const accountId = 'accountId' in route ? route.accountId : undefined;
  const [account, setAccount] = useState<Json | undefined>(undefined);
  useEffect(() => {
    setAccount(undefined);
    if (accountId) scim(accountId).get(`/Accounts/${accountId}`).then(setAccount, () => setAccount(undefined));
  }, [accountId]);
  const partner = session.accountType !== 'customer';
  const doSignOut = async () => {
    await signOut().catch(() => undefined);
    history.replaceState(null, '', '/');
    props.onSignOut();
  };
  const current = (page: Route['page']) => (route.page === page ? 'page' : undefined);
  return (
    <div class="shell">
      <header>
        <span class="brand">Switchboard administration</span>
        {account && <span class="account-name">{String(account.name)}</span>}
        <button type="button" class="link" onClick={doSignOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Main">
        <ul>
          {partner && (
            <li>
              <a href={href.accounts()} aria-current={current('accounts')}>
                Accounts
              </a>
            </li>
          )}
          {accountId && (
            <li>
              <span class="nav-group">User Management</span>
              <ul>
                <li>
                  <a href={href.users(accountId)} aria-current={current('users')}>
                    Users
                  </a>
                </li>
                <li>
                  <a href={href.import(accountId)} aria-current={current('import')}>
                    Import Users
                  </a>
                </li>
                <li>
                  <a href={href.sources(accountId)} aria-current={current('sources')}>
                    Sources
                  </a>
                </li>
              </ul>
            </li>
          )}
          {accountId && (
            <li>
              <a href={href.settings(accountId)} aria-current={current('settings')}>
                Account settings
              </a>
            </li>
          )}
        </ul>
      </nav>
      <main>
        {route.page === 'accounts' && <Accounts session={session} />}
        {route.page === 'users' && <Users session={session} accountId={route.accountId} account={account} />}
        {route.page === 'new-user' && <UserForm session={session} accountId={route.accountId} account={account} />}
        {route.page === 'edit-user' && <UserForm session={session} accountId={route.accountId} userId={route.userId} account={account} />}
        {route.page === 'import' && <ImportUsers accountId={route.accountId} />}
        {route.page === 'sources' && <Sources accountId={route.accountId} />}
        {route.page === 'settings' && <Settings session={session} accountId={route.accountId} account={account} onSaved={setAccount} />}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
