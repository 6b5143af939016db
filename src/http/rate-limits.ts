import type { IncomingMessage } from 'node:http';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitConfig } from '../config.js';
import { DomainError } from '../domain/errors.js';
import { roles, type Principal, type Role } from '../domain/principal.js';
import type { LimiterSpec } from '../db/rate-limit-store.js';
import { noTelemetry, type Telemetry } from '../lib/telemetry.js';

/**
 * Per-token and per-client-address request limits (README Security). A token may send `rate` requests per second
 * on average and `burst` at once: a window of burst/rate seconds holding `burst` requests. Failed authentications
 * and the public link pages are counted per client address. Over a limit: 429 with Retry-After.
 */
export class RateLimits {
  private readonly perRole: Map<Role, RateLimiterAbstract> | undefined;
  private readonly failedAuthLimiter: RateLimiterAbstract | undefined;
  private readonly linkPageLimiter: RateLimiterAbstract | undefined;

  constructor(
    private readonly config: RateLimitConfig,
    createLimiter: (spec: LimiterSpec) => RateLimiterAbstract,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {
    if (!config.enabled) return;
    this.perRole = new Map(
      roles.map((role) => {
        const { rate, burst } = config.perRole[role];
        return [role, createLimiter({ keyPrefix: `token-${role}`, points: burst, durationSeconds: burst / rate })];
      }),
    );
    this.failedAuthLimiter = createLimiter({ keyPrefix: 'auth-failed', points: config.failedAuthPerMinute, durationSeconds: 60 });
    this.linkPageLimiter = createLimiter({ keyPrefix: 'link-pages', points: config.linkPagesPerMinute, durationSeconds: 60 });
  }

  /** One request by an authenticated token. */
  async request(principal: Principal): Promise<void> {
    const limiter = this.perRole?.get(principal.role);
    if (limiter) await this.consume('token', limiter, principal.tokenId, `This token sent more than ${this.config.perRole[principal.role].burst} requests in ${this.windowOf(principal.role)}`);
  }

  /** One failed authentication from the request's client address. */
  async failedAuthentication(req: IncomingMessage): Promise<void> {
    if (this.failedAuthLimiter) await this.consume('failed_auth', this.failedAuthLimiter, this.clientAddress(req), `More than ${this.config.failedAuthPerMinute} failed authentications in a minute from this address`);
  }

  /** One request to a public registration or reset page. */
  async linkPage(req: IncomingMessage): Promise<void> {
    if (this.linkPageLimiter) await this.consume('link_pages', this.linkPageLimiter, this.clientAddress(req), `More than ${this.config.linkPagesPerMinute} registration or reset requests in a minute from this address`);
  }

  /**
   * The client's address: the socket's peer, or, behind `trustProxyHops` proxies, the X-Forwarded-For entry that
   * many hops from the right (entries further left are whatever the client chose to send).
   */
  clientAddress(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? 'unknown';
    const hops = this.config.trustProxyHops;
    if (hops === 0) return peer;
    const header = req.headers['x-forwarded-for'];
    const chain = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    return chain[chain.length - hops] ?? chain[0] ?? peer;
  }

  private async consume(limit: string, limiter: RateLimiterAbstract, key: string, detail: string): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (rejection) {
      // Over the limit: the library rejects with the counter's state. A store error (the insurance limiter took over
      // or failed too) is not the client's fault and does not refuse the request.
      if (rejection instanceof RateLimiterRes) {
        this.telemetry.rateLimitRefused(limit);
        throw new DomainError('tooManyRequests', `${detail}; retry after the Retry-After delay`, { retryAfterSeconds: rejection.msBeforeNext / 1000 });
      }
    }
  }

  private windowOf(role: Role): string {
    const { rate, burst } = this.config.perRole[role];
    return `${burst / rate} s (${rate} per second on average)`;
  }
}
