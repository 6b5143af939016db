import type { ClientConfig } from '../config.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const detail = (body as { detail?: string } | undefined)?.detail;
    super(`HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
}

/** A small SCIM client for the CLI's commands against a running server. */
export class ApiClient {
  constructor(private readonly config: ClientConfig) {}

  /** A SCIM request: the JSON answer of a success; an ApiError with the server's error (its text, when not JSON) otherwise. */
  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.raw(method, path, {
      headers: { Accept: 'application/scim+json', ...(body !== undefined ? { 'Content-Type': 'application/scim+json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * A request whose body or answer is not JSON (a CSV file up, a CSV list down): the response, unread, when it is
   * a success; an ApiError with the server's SCIM error otherwise.
   */
  async raw(method: string, path: string, init: { headers?: Record<string, string>; body?: ReadableStream<Uint8Array> | string } = {}): Promise<Response> {
    if (!this.config.token) throw new Error('No token: pass --token or set SWITCHBOARD_TOKEN');
    let response: Response;
    try {
      response = await fetch(`${this.config.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.config.token}`, ...init.headers },
        ...(init.body !== undefined ? { body: init.body, duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      throw new Error(`Cannot reach ${this.config.url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? (JSON.parse(text) as unknown) : undefined;
      } catch {
        // not a SCIM error body: keep the text
      }
      throw new ApiError(response.status, parsed);
    }
    return response;
  }

  /** The SCIM base for an account, or the token's own. */
  base(accountId?: string): string {
    return accountId ? `/accounts/${encodeURIComponent(accountId)}/scim/v2` : '/scim/v2';
  }
}
