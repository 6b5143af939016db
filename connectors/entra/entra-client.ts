/**
 * Talking to Entra: tokens through `@azure/msal-node` (OAuth 2.0 client credentials, its token cache and renewal
 * before expiry) and Graph requests through the SDK's HTTP client (timeouts, 429/503/504 retried after
 * `Retry-After` with backoff). A 401 on a Graph request is answered by one forced token renewal and one retry.
 * `caCertPem` is trusted for both hosts (one undici agent serves msal's requests and Graph's).
 */
import { ConfidentialClientApplication, LogLevel, type Configuration, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { Agent, fetch as undiciFetch } from 'undici';
import { ConnectorError, HttpError, abortableSleep, createHttpClient, type HttpClient } from '../sdk/index.js';
import { CLOUD_HOSTS, type EntraConfig } from './config.js';

export const USERS_PERMISSION = 'User.Read.All';
export const GROUPS_PERMISSION = 'GroupMember.Read.All';

/** A fetch that trusts `caCertPem` on top of the system's CAs when one is configured. */
export function fetchTrusting(caCertPem: string | undefined): typeof fetch {
  if (caCertPem === undefined) return fetch;
  const dispatcher = new Agent({ connect: { ca: caCertPem } });
  // undici's fetch is the implementation behind Node's global fetch; its types differ only nominally.
  return ((input: string | URL | Request, init?: RequestInit) => undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}

/** The tenant's OpenID metadata, built from the host root, so msal needs no discovery request. */
function authorityMetadata(config: EntraConfig): { authority: string; metadata: string; cloudDiscovery: string; host: string } {
  const root = config.authorityUrl;
  const authority = `${root}/${config.tenantId}`;
  const host = new URL(root).host;
  const metadata = {
    token_endpoint: `${authority}/oauth2/v2.0/token`,
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
    jwks_uri: `${root}/${config.tenantId}/discovery/v2.0/keys`,
    issuer: `${root}/${config.tenantId}/v2.0`,
  };
  const cloudDiscovery = {
    tenant_discovery_endpoint: `${authority}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
  return { authority, metadata: JSON.stringify(metadata), cloudDiscovery: JSON.stringify(cloudDiscovery), host };
}

/** msal's requests through our fetch (so `caCertPem` and timeouts apply to sign-in too). */
function networkClient(doFetch: typeof fetch, timeoutMs: number): INetworkModule {
  const send = async <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
    let response: Response;
    try {
      response = await doFetch(url, { method, headers: options?.headers, body: options?.body, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new ConnectorError('network', `${method} ${new URL(url).origin}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => (headers[key.toLowerCase()] = value));
    const text = await response.text();
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: 'invalid_response', error_description: text.slice(0, 200) };
    }
    return { headers, body: body as T, status: response.status };
  };
  return {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

export interface TokenSource {
  /** A valid access token; `renew` skips msal's cache (after a 401). */
  token(renew?: boolean): Promise<string>;
}

/** One msal application per read or check: a token cached for an earlier configuration is never used. */
export function createTokenSource(config: EntraConfig, doFetch: typeof fetch): TokenSource {
  const { authority, metadata, cloudDiscovery, host } = authorityMetadata(config);
  const credential: Pick<Configuration['auth'], 'clientSecret' | 'clientCertificate'> =
    config.credential.kind === 'secret'
      ? { clientSecret: config.credential.clientSecret }
      : { clientCertificate: { thumbprintSha256: config.credential.thumbprintSha256, privateKey: config.credential.privateKeyPem, x5c: config.credential.certificatePem } };
  const app = new ConfidentialClientApplication({
    auth: { clientId: config.clientId, authority, knownAuthorities: [host], authorityMetadata: metadata, cloudDiscoveryMetadata: cloudDiscovery, ...credential },
    system: { networkClient: networkClient(doFetch, config.timeoutMs), loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined } },
  });
  // The token's audience is the cloud's Graph whatever host Graph is reached through (a proxy, a private endpoint).
  const scopes = [`${CLOUD_HOSTS[config.cloud].graphUrl}/.default`];
  return {
    async token(renew = false): Promise<string> {
      let result;
      try {
        result = await app.acquireTokenByClientCredential({ scopes, skipCache: renew });
      } catch (error) {
        throw signInError(config, error);
      }
      if (!result?.accessToken) throw new ConnectorError('auth', `sign-in to tenant ${config.tenantId} returned no access token`);
      return result.accessToken;
    },
  };
}

/** An msal failure as a connector error that says what to fix (AADSTS codes are Entra's own). */
function signInError(config: EntraConfig, error: unknown): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = /AADSTS\d+/.exec(message)?.[0];
  const hints: Record<string, string> = {
    AADSTS7000215: 'the client secret is wrong (give the secret Value, not its ID)',
    AADSTS7000222: 'the client secret has expired: create a new one',
    AADSTS700016: `no application ${config.clientId} in tenant ${config.tenantId} (check clientId and tenantId)`,
    AADSTS90002: `tenant ${config.tenantId} not found (check tenantId and cloud)`,
    AADSTS700027: 'the certificate is not the one uploaded to the app registration, or has expired',
  };
  const hint = code ? hints[code] : undefined;
  const isNetwork = /network|ECONNREFUSED|ENOTFOUND|certificate|fetch failed|timeout/i.test(message) && !code;
  return new ConnectorError(isNetwork ? 'network' : 'auth', `sign-in to tenant ${config.tenantId} as ${config.clientId} failed: ${hint ?? message}`, { cause: error });
}

export interface GraphClientOptions {
  /** Called before each wait for a retry (429, 503, 504, or no answer), for the run's `counts.retries`. */
  onRetry?: (detail: { waitMs: number }) => void;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface GraphPage {
  value: Array<Record<string, unknown>>;
  nextLink?: string;
  deltaLink?: string;
}

/** Graph refused a delta token: the state is no good and a full read must start over. */
export class ResyncRequired extends ConnectorError {
  override readonly name: string = 'ResyncRequired';
  constructor(message: string) {
    super('protocol', message);
  }
}

/** Graph takes at most 20 requests in one JSON batch. */
export const BATCH_LIMIT = 20;

export interface GraphClient {
  /** GET a Graph path (under `/v1.0/`) or an absolute `@odata.nextLink` / `@odata.deltaLink` of the same host. */
  get<T = Record<string, unknown>>(pathOrLink: string, options?: { signal?: AbortSignal; headers?: Record<string, string>; permission?: string }): Promise<T>;
  page(pathOrLink: string, options: { signal?: AbortSignal; pageSize: number; permission: string }): Promise<GraphPage>;
  /**
   * GETs of Graph paths in JSON batches (`POST /$batch`, 20 a request), bodies in the order asked; a 404 is
   * undefined. A request throttled inside a batch (429/503/504) is sent again after its `Retry-After`.
   */
  batchGet(paths: string[], options: { signal?: AbortSignal; permission: string }): Promise<Array<Record<string, unknown> | undefined>>;
}

interface BatchResponse {
  responses?: Array<{ id?: string; status?: number; headers?: Record<string, string>; body?: unknown }>;
}

const THROTTLED = new Set([429, 503, 504]);

export function createGraphClient(config: EntraConfig, options: GraphClientOptions = {}): GraphClient {
  const baseFetch = fetchTrusting(config.caCertPem);
  const tokens = createTokenSource(config, baseFetch);
  const graphRoot = `${config.graphUrl}/v1.0/`;
  const graphOrigin = new URL(config.graphUrl).origin;
  let current: Promise<string> | undefined;
  const token = (renew: boolean): Promise<string> => {
    if (renew || !current) {
      current = tokens.token(renew);
      // A failed sign-in is not cached: the next request tries again.
      current.catch(() => (current = undefined));
    }
    return current;
  };

  const http: HttpClient = createHttpClient({
    baseUrl: graphRoot,
    timeoutMs: config.timeoutMs,
    maxRetries: config.maxRetries,
    maxRetryDelayMs: 120_000,
    fetch: baseFetch,
    sleep: async (ms, signal) => {
      options.onRetry?.({ waitMs: ms });
      await (options.sleep ?? abortableSleep)(ms, signal);
    },
  });

  async function get<T>(
    pathOrLink: string,
    opts: { signal?: AbortSignal; headers?: Record<string, string>; permission?: string; method?: 'GET' | 'POST'; body?: unknown } = {},
  ): Promise<T> {
    if (/^https?:/i.test(pathOrLink) && new URL(pathOrLink).origin !== graphOrigin) {
      throw new ConnectorError('protocol', `Graph sent a link to ${new URL(pathOrLink).origin}, not ${graphOrigin}: refused (the token is only sent to graphUrl)`);
    }
    const send = async (renew: boolean): Promise<T> => {
      const bearer = await token(renew);
      const response = await http.request<T>(pathOrLink.replace(/^\//, ''), {
        method: opts.method,
        body: opts.body,
        signal: opts.signal,
        headers: { ...opts.headers, authorization: `Bearer ${bearer}` },
      });
      return response.data;
    };
    try {
      try {
        return await send(false);
      } catch (error) {
        // An expired or revoked token mid-run: one renewal skipping msal's cache, then the same request once more.
        if (error instanceof HttpError && error.status === 401) return await send(true);
        throw error;
      }
    } catch (error) {
      throw graphError(error, config, opts.permission);
    }
  }

  return {
    get,
    async page(pathOrLink, opts) {
      // Delta pages are sized by the Prefer header (Graph ignores $top on a nextLink).
      const body = await get<Record<string, unknown>>(pathOrLink, { signal: opts.signal, permission: opts.permission, headers: { prefer: `odata.maxpagesize=${opts.pageSize}` } });
      if (!body || typeof body !== 'object' || !Array.isArray(body.value)) throw new ConnectorError('protocol', `Graph answered ${pathOrLink.split('?')[0]} without a value array`);
      const page: GraphPage = { value: body.value as GraphPage['value'] };
      if (typeof body['@odata.nextLink'] === 'string') page.nextLink = body['@odata.nextLink'];
      if (typeof body['@odata.deltaLink'] === 'string') page.deltaLink = body['@odata.deltaLink'];
      if (!page.nextLink && !page.deltaLink) throw new ConnectorError('protocol', 'a Graph delta page had neither @odata.nextLink nor @odata.deltaLink');
      return page;
    },
    async batchGet(paths, opts) {
      const out: Array<Record<string, unknown> | undefined> = new Array<Record<string, unknown> | undefined>(paths.length);
      for (let start = 0; start < paths.length; start += BATCH_LIMIT) {
        let waiting = paths.slice(start, start + BATCH_LIMIT).map((path, i) => ({ index: start + i, path }));
        for (let attempt = 0; waiting.length > 0; attempt++) {
          const body = await get<BatchResponse>('$batch', {
            method: 'POST',
            signal: opts.signal,
            permission: opts.permission,
            body: { requests: waiting.map((w) => ({ id: String(w.index), method: 'GET', url: `/${w.path.replace(/^\//, '')}` })) },
          });
          const again: typeof waiting = [];
          let wait = 0;
          for (const w of waiting) {
            const response = body?.responses?.find((r) => r.id === String(w.index));
            const status = response?.status ?? 0;
            if (status >= 200 && status < 300) out[w.index] = response!.body as Record<string, unknown>;
            else if (status === 404) out[w.index] = undefined;
            else if (THROTTLED.has(status) && attempt < config.maxRetries) {
              again.push(w);
              const header = Object.entries(response?.headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
              wait = Math.max(wait, header && /^\d+$/.test(header) ? Number(header) * 1000 : 500 * 2 ** attempt);
            } else {
              const text = JSON.stringify(response?.body ?? null);
              throw graphError(new HttpError(status, `GET ${graphOrigin}/v1.0/${w.path.split('?')[0]} (in $batch): HTTP ${status} ${text.slice(0, 200)}`, text), config, opts.permission);
            }
          }
          if (again.length > 0) {
            options.onRetry?.({ waitMs: wait });
            await (options.sleep ?? abortableSleep)(wait, opts.signal);
          }
          waiting = again;
        }
      }
      return out;
    },
  };
}

function graphErrorCode(body: string): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    return { code: typeof parsed.error?.code === 'string' ? parsed.error.code : undefined, message: typeof parsed.error?.message === 'string' ? parsed.error.message : undefined };
  } catch {
    return {};
  }
}

/** A failed Graph request as what the admin must do about it. */
function graphError(error: unknown, config: EntraConfig, permission: string | undefined): unknown {
  if (!(error instanceof HttpError)) return error;
  const { code, message } = graphErrorCode(error.body);
  if (error.status === 410 || /^(syncStateNotFound|resyncRequired|syncStateInvalid)$/i.test(code ?? '')) {
    return new ResyncRequired(`Graph no longer accepts the saved delta token (${code ?? `HTTP ${error.status}`}): reading everything again`);
  }
  if (error.status === 403) {
    const needed = permission ? `the application permission ${permission} (Microsoft Graph, Application type) with admin consent` : 'an application permission';
    return new ConnectorError('auth', `Graph refused the request (${code ?? 'HTTP 403'}${message ? `: ${message}` : ''}): app ${config.clientId} needs ${needed}`);
  }
  if (error.status === 401) {
    return new ConnectorError('auth', `Graph refused the access token even after a renewal (${code ?? 'HTTP 401'}${message ? `: ${message}` : ''})`);
  }
  return error;
}
