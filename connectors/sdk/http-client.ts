import { ConnectorError } from './errors.js';

/**
 * A small fetch-based HTTP client for connectors (PBX, Graph): a timeout per attempt, retries of
 * 429/503 (and network failures for idempotent methods) honouring `Retry-After`, errors mapped to
 * `ConnectorError` kinds (401/403 → auth, other non-2xx → protocol, no answer → network).
 */
export interface HttpClientOptions {
  baseUrl: string;
  /** Per attempt, default 30 s. */
  timeoutMs?: number;
  /** Retries after the first attempt, default 3. */
  maxRetries?: number;
  /** Upper bound for one wait (a `Retry-After` beyond it fails the request), default 60 s. */
  maxRetryDelayMs?: number;
  /** First backoff when the server gives no `Retry-After`, doubled each retry, default 500 ms. */
  baseDelayMs?: number;
  headers?: Record<string, string>;
  /** Injected for tests. */
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
  signal?: AbortSignal;
}

export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  data: T;
}

export class HttpError extends ConnectorError {
  override readonly name: string = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly body: string,
  ) {
    super(status === 401 || status === 403 ? 'auth' : 'protocol', message);
  }
}

export interface HttpClient {
  request<T = unknown>(path: string, request?: HttpRequest): Promise<HttpResponse<T>>;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const IDEMPOTENT = new Set(['GET', 'PUT', 'DELETE']);

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRetries = options.maxRetries ?? 3;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
  const baseDelayMs = options.baseDelayMs ?? 500;

  return {
    async request<T>(path: string, request: HttpRequest = {}): Promise<HttpResponse<T>> {
      const method = request.method ?? 'GET';
      const url = new URL(path, options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
      for (const [key, value] of Object.entries(request.query ?? {})) {
        if (value !== undefined) url.searchParams.set(key, String(value));
      }
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers, ...request.headers };
      let body: string | undefined;
      if (request.body !== undefined) {
        body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
        if (typeof request.body !== 'string') headers['content-type'] ??= 'application/json';
      }

      for (let attempt = 0; ; attempt++) {
        const signals = [AbortSignal.timeout(timeoutMs), ...(request.signal ? [request.signal] : [])];
        let response: Response;
        try {
          response = await doFetch(url, { method, headers, body, signal: AbortSignal.any(signals) });
        } catch (error) {
          if (request.signal?.aborted) throw request.signal.reason;
          const timedOut = error instanceof Error && error.name === 'TimeoutError';
          const what = timedOut ? `no answer within ${timeoutMs} ms` : describe(error);
          if (IDEMPOTENT.has(method) && attempt < maxRetries) {
            await sleep(backoff(baseDelayMs, attempt), request.signal);
            continue;
          }
          throw new ConnectorError('network', `${method} ${url.origin}${url.pathname}: ${what}`, { cause: error });
        }
        if (RETRYABLE_STATUS.has(response.status) && attempt < maxRetries && (response.status === 429 || IDEMPOTENT.has(method))) {
          const wait = retryAfterMs(response.headers.get('retry-after'), now()) ?? backoff(baseDelayMs, attempt);
          if (wait <= maxRetryDelayMs) {
            await response.body?.cancel();
            await sleep(wait, request.signal);
            continue;
          }
        }
        const text = await response.text();
        if (!response.ok) {
          throw new HttpError(response.status, `${method} ${url.origin}${url.pathname}: HTTP ${response.status} ${truncate(text)}`.trim(), text);
        }
        let data: unknown = text;
        if (text && (response.headers.get('content-type') ?? '').includes('json')) {
          try {
            data = JSON.parse(text);
          } catch (error) {
            throw new ConnectorError('protocol', `${method} ${url.origin}${url.pathname}: invalid JSON in response`, { cause: error });
          }
        } else if (!text) data = undefined;
        return { status: response.status, headers: response.headers, data: data as T };
      }
    },
  };
}

/** `Retry-After` as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function backoff(baseDelayMs: number, attempt: number): number {
  return baseDelayMs * 2 ** attempt;
}

/** `setTimeout` as a promise that an abort rejects at once. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String((cause as { code: unknown }).code)})` : '';
    return `${error.message}${code}`;
  }
  return String(error);
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
