/** The console's only channel to the server: the public SCIM API, with the session cookie and its CSRF token. */

export const USER_EXT = 'urn:switchboard:scim:schemas:extension:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ACTION_URN = 'urn:switchboard:scim:schemas:core:2.0:Action';
export const ACCOUNT_URN = 'urn:switchboard:scim:schemas:core:2.0:Account';
export const SYNC_RUN_URN = 'urn:switchboard:scim:schemas:core:2.0:SyncRun';

export type Role = 'operator' | 'partner-admin' | 'account-admin';

export interface Session {
  id: string;
  accountId: string;
  accountType: 'operator' | 'partner' | 'customer';
  role: Role;
  userId: string | null;
  csrfToken: string;
  expiresAt: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly scimType?: string,
  ) {
    super(detail);
  }
}

let csrf = '';
let onSignedOut: () => void = () => undefined;
export const setSignedOutHandler = (handler: () => void): void => {
  onSignedOut = handler;
};

async function call(method: string, url: string, body?: unknown, signal?: AbortSignal, contentType = 'application/json'): Promise<Json | undefined> {
  const headers: Record<string, string> = { Accept: 'application/scim+json, application/json' };
  if (csrf) headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = contentType;
  const payload = body === undefined ? undefined : typeof body === 'string' || body instanceof Blob ? body : JSON.stringify(body);
  const res = await fetch(url, { method, headers, body: payload, credentials: 'same-origin', signal });
  if (res.status === 204) return undefined;
  const text = await res.text();
  const data = text ? (JSON.parse(text) as Json) : undefined;
  if (!res.ok) {
    if (res.status === 401 && !url.endsWith('/console/session')) {
      csrf = '';
      onSignedOut();
    }
    throw new ApiError(res.status, String(data?.detail ?? res.statusText), data?.scimType as string | undefined);
  }
  return data;
}

export async function currentSession(): Promise<Session | undefined> {
  const s = (await call('GET', '/console/session')) as (Session & { signedIn: true }) | { signedIn: false };
  if (!s.signedIn) return undefined;
  csrf = s.csrfToken;
  return s;
}

export async function signIn(body: { email: string; password: string } | { token: string }): Promise<Session> {
  const s = (await call('POST', '/console/session', body)) as Session;
  csrf = s.csrfToken;
  return s;
}

export async function signOut(): Promise<void> {
  await call('DELETE', '/console/session');
  csrf = '';
}

/** The SCIM API of one account. */
export function scim(accountId: string) {
  const base = `/accounts/${encodeURIComponent(accountId)}/scim/v2`;
  return {
    get: (path: string, query: Record<string, string | number | undefined> = {}, signal?: AbortSignal) => {
      const q = new URLSearchParams();
      // An empty value is sent: `cursor=` asks for the first page of cursor paging (RFC 9865).
      for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
      const qs = q.toString();
      return call('GET', `${base}${path}${qs ? `?${qs}` : ''}`, undefined, signal) as Promise<Json>;
    },
    post: (path: string, body: Json) => call('POST', `${base}${path}`, body) as Promise<Json>,
    patch: (path: string, operations: Json[]) => call('PATCH', `${base}${path}`, { schemas: [PATCH_URN], Operations: operations }) as Promise<Json>,
    del: (path: string) => call('DELETE', `${base}${path}`),
    /** A raw upload (the CSV of an import). */
    upload: (path: string, body: Blob, contentType: string) => call('POST', `${base}${path}`, body, undefined, contentType) as Promise<Json>,
    /** A non-JSON download (a report), with the session's headers. */
    download: async (path: string): Promise<Blob> => {
      const res = await fetch(`${base}${path}`, { headers: csrf ? { 'X-CSRF-Token': csrf } : {}, credentials: 'same-origin' });
      if (!res.ok) throw new ApiError(res.status, res.statusText);
      return res.blob();
    },
  };
}

/** A string as a SCIM filter literal. */
export const literal = (value: string): string => JSON.stringify(value);
