import { useEffect, useState } from 'preact/hooks';

/** Hash routes (#/a/{accountId}/users): the server serves one page at `/`, so deep links need no server routes. */
export type Route =
  | { page: 'accounts' }
  | { page: 'users'; accountId: string }
  | { page: 'new-user'; accountId: string }
  | { page: 'edit-user'; accountId: string; userId: string }
  | { page: 'import'; accountId: string }
  | { page: 'sources'; accountId: string }
  | { page: 'settings'; accountId: string }
  | { page: 'home' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'accounts') return { page: 'accounts' };
  if (parts[0] === 'a' && parts[1]) {
    const accountId = parts[1];
    if (parts[2] === 'users' && parts[3] === 'new') return { page: 'new-user', accountId };
    if (parts[2] === 'users' && parts[3]) return { page: 'edit-user', accountId, userId: parts[3] };
    if (parts[2] === 'import') return { page: 'import', accountId };
    if (parts[2] === 'sources') return { page: 'sources', accountId };
    if (parts[2] === 'settings') return { page: 'settings', accountId };
    return { page: 'users', accountId };
  }
  return { page: 'home' };
}

export const href = {
  accounts: () => '#/accounts',
  users: (a: string) => `#/a/${encodeURIComponent(a)}/users`,
  newUser: (a: string) => `#/a/${encodeURIComponent(a)}/users/new`,
  editUser: (a: string, u: string) => `#/a/${encodeURIComponent(a)}/users/${encodeURIComponent(u)}`,
  import: (a: string) => `#/a/${encodeURIComponent(a)}/import`,
  sources: (a: string) => `#/a/${encodeURIComponent(a)}/sources`,
  settings: (a: string) => `#/a/${encodeURIComponent(a)}/settings`,
};

export function navigate(to: string): void {
  if (location.hash !== to) location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const listener = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', listener);
    return () => removeEventListener('hashchange', listener);
  }, []);
  return route;
}
