import path from 'node:path';
import { defaultConsoleDir } from './console/paths.js';
import { roles, type Role } from './domain/principal.js';
import { DEFAULT_AUDIT_RETENTION_DAYS } from './domain/audit.js';
import { parseSecretKey, SecretKeyError } from './lib/secret-box.js';

/** Everything the process reads from its environment, parsed and validated once. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databasePoolMax: number;
  bootstrapToken: string | undefined;
  bodyLimitBytes: number;
  /** Largest CSV file POST /Imports takes (IMPORT_MAX_BYTES); larger → 413 before anything is written. */
  importMaxBytes: number;
  /** How far the heap grows past the live heap before a full collection (HEAP_GROWTH_PERCENT; 0: V8's own, up to 300 %): lib/heap-growth.ts. */
  heapGrowthPercent: number;
  logLevel: string;
  /** Absolute base URL clients reach us at; when unset, taken from each request's Host. */
  publicUrl: string | undefined;
  /**
   * Base of the links put in emails: PUBLIC_URL, or the listening address when that is a loopback one (a
   * development setup); undefined otherwise, and then link emails are refused (a request's Host header must never
   * decide where a registration link points).
   */
  linkBase: string | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  shutdownTimeoutMs: number;
  scim: {
    maxResults: number;
    bulkMaxOperations: number;
    bulkMaxPayloadBytes: number;
    cursorTtlSeconds: number;
  };
  schedulerEnabled: boolean;
  mailWorkerEnabled: boolean;
  /** Days audit events are kept (AUDIT_RETENTION_DAYS); older ones are pruned by a job started with the scheduler. */
  auditRetentionDays: number;
  /** How long a mail worker's claim on a message lasts: after a crash, its messages are sent by another worker then. */
  mailLeaseMs: number;
  /** The built admin console served at `/` (src/console/build.ts writes it). */
  consoleDir: string;
  /** Console sessions end after this long unused, and this long after sign-in whatever their use. */
  session: { idleMs: number; absoluteMs: number };
  limits: Limits;
  /**
   * SWITCHBOARD_SECRET_KEY: seals source secrets at rest; unset, the key in DATA_DIR/secret-key (generated on first
   * start, 0600). SWITCHBOARD_SECRET_KEY_PREVIOUS: keys that still open values during a rotation.
   */
  secretKey: Buffer | undefined;
  previousSecretKeys: Buffer[];
  /** `host:port` of a second listener serving only /metrics to anyone; unset: /metrics needs an operator token. */
  metricsAddress: { host: string; port: number } | undefined;
}

/** Request rates (README Security). `enabled: false` (RATE_LIMITS=off) turns every one off, for load tests. */
export interface RateLimitConfig {
  enabled: boolean;
  /** Per token, by role: `rate` requests per second on average, up to `burst` at once. */
  perRole: Record<Role, { rate: number; burst: number }>;
  /** Failed authentications per minute per client address, before 429. */
  failedAuthPerMinute: number;
  /** Requests to the public /register and /reset pages per minute per client address. */
  linkPagesPerMinute: number;
  /** Proxies in front of Switchboard whose X-Forwarded-For entries are trusted for the client address. */
  trustProxyHops: number;
}

/** The bounds on every request (README Security). */
export interface Limits {
  rate: RateLimitConfig;
  /** Time to receive a request's headers, and to receive its body without progress. */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** Longest one SQL statement of a request may run; a filter past it answers 503 with Retry-After. */
  statementTimeoutMs: number;
  /** Operations in one PATCH; values of one multi-valued attribute. */
  patchMaxOperations: number;
  maxMultiValues: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min) throw new ConfigError(`${name} must be at least ${min}, got ${value}`);
  return value;
}

function bytes(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(raw.trim());
  if (!match) throw new ConfigError(`${name} must be a size such as 1048576, 512kb or 1mb, got "${raw}"`);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit === 'gb' ? 1024 ** 3 : unit === 'mb' ? 1024 ** 2 : unit === 'kb' ? 1024 : 1;
  return Number(match[1]) * factor;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** A URL whose scheme is one of `protocols` (e.g. `['smtp:', 'smtps:']`): a wrong scheme only fails later, far from its cause. */
function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL, got "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got "${raw}"`);
  }
  return raw;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function logLevel(env: Env): string {
  const raw = env.LOG_LEVEL || 'info';
  // pino's own refusal ("default level:x must be included in custom levels") does not name the variable.
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return raw;
}

function hostPort(env: Env, name: string): { host: string; port: number } | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(raw.trim());
  if (!match || Number(match[3]) > 65535) throw new ConfigError(`${name} must be host:port (e.g. 127.0.0.1:9464), got "${raw}"`);
  return { host: match[1] ?? match[2], port: Number(match[3]) };
}

function rateLimits(env: Env): RateLimitConfig {
  const rate = integer(env, 'RATE_LIMIT_TOKEN_RATE', 50, 1);
  const burst = integer(env, 'RATE_LIMIT_TOKEN_BURST', 200, 1);
  const perRole = {} as Record<Role, { rate: number; burst: number }>;
  for (const role of roles) {
    const prefix = `RATE_LIMIT_${role.toUpperCase().replace('-', '_')}`;
    perRole[role] = { rate: integer(env, `${prefix}_RATE`, rate, 1), burst: integer(env, `${prefix}_BURST`, burst, 1) };
    if (perRole[role].burst < perRole[role].rate) throw new ConfigError(`${prefix}_BURST (or RATE_LIMIT_TOKEN_BURST) must be at least its rate`);
  }
  return {
    enabled: flag(env, 'RATE_LIMITS', true),
    perRole,
    failedAuthPerMinute: integer(env, 'RATE_LIMIT_FAILED_AUTH_PER_MINUTE', 20, 1),
    linkPagesPerMinute: integer(env, 'RATE_LIMIT_LINK_PAGES_PER_MINUTE', 10, 1),
    trustProxyHops: integer(env, 'TRUST_PROXY_HOPS', 0),
  };
}

function secretKeyOf(raw: string, name: string): Buffer {
  try {
    return parseSecretKey(raw, name);
  } catch (error) {
    if (error instanceof SecretKeyError) throw new ConfigError(error.message);
    throw error;
  }
}

function secretKey(env: Env, name: string): Buffer | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : secretKeyOf(raw, name);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/** `http://host:port` for a server that listens only on a loopback address, which no one else can reach. */
function loopbackBase(host: string, port: number): string | undefined {
  if (!LOOPBACK_HOSTS.has(host.toLowerCase())) return undefined;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 8080);
  if (port > 65535) throw new ConfigError(`PORT must be at most 65535, got ${port}`);
  const bootstrapToken = env.SWITCHBOARD_BOOTSTRAP_TOKEN || undefined;
  if (bootstrapToken !== undefined && bootstrapToken.length < 32) {
    throw new ConfigError('SWITCHBOARD_BOOTSTRAP_TOKEN must be at least 32 characters long');
  }
  // Loopback unless told otherwise: a fresh clone is a development setup whose mailed links may name the
  // listening address; a server meant for others sets HOST (and PUBLIC_URL, without which link emails are refused).
  const host = env.HOST || '127.0.0.1';
  const publicUrl = url(env, 'PUBLIC_URL', ['http:', 'https:'])?.replace(/\/+$/, '');
  return {
    port,
    host,
    dataDir: path.resolve(env.DATA_DIR || './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    databasePoolMax: integer(env, 'DATABASE_POOL_MAX', 10, 1),
    bootstrapToken,
    bodyLimitBytes: bytes(env, 'BODY_LIMIT', 1024 * 1024),
    importMaxBytes: bytes(env, 'IMPORT_MAX_BYTES', 50 * 1024 * 1024),
    heapGrowthPercent: integer(env, 'HEAP_GROWTH_PERCENT', 100),
    logLevel: logLevel(env),
    publicUrl,
    linkBase: publicUrl ?? loopbackBase(host, port),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    mailFrom: env.MAIL_FROM || 'Switchboard <no-reply@switchboard.local>',
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10000),
    scim: {
      maxResults: integer(env, 'SCIM_MAX_RESULTS', 1000, 1),
      bulkMaxOperations: integer(env, 'SCIM_BULK_MAX_OPERATIONS', 1000, 1),
      bulkMaxPayloadBytes: bytes(env, 'SCIM_BULK_MAX_PAYLOAD', 1024 * 1024),
      cursorTtlSeconds: integer(env, 'SCIM_CURSOR_TTL_SECONDS', 3600, 1),
    },
    schedulerEnabled: flag(env, 'SCHEDULER_ENABLED', true),
    mailWorkerEnabled: flag(env, 'MAIL_WORKER_ENABLED', true),
    auditRetentionDays: integer(env, 'AUDIT_RETENTION_DAYS', DEFAULT_AUDIT_RETENTION_DAYS, 1),
    mailLeaseMs: integer(env, 'MAIL_LEASE_SECONDS', 60, 1) * 1000,
    consoleDir: env.CONSOLE_DIR ? path.resolve(env.CONSOLE_DIR) : defaultConsoleDir(),
    session: { idleMs: integer(env, 'SESSION_IDLE_MINUTES', 30, 1) * 60_000, absoluteMs: integer(env, 'SESSION_MAX_HOURS', 12, 1) * 3600_000 },
    limits: {
      rate: rateLimits(env),
      headersTimeoutMs: integer(env, 'HEADERS_TIMEOUT_MS', 20_000, 1),
      bodyTimeoutMs: integer(env, 'BODY_TIMEOUT_MS', 30_000, 1),
      statementTimeoutMs: integer(env, 'STATEMENT_TIMEOUT_MS', 5_000, 0),
      patchMaxOperations: integer(env, 'SCIM_PATCH_MAX_OPERATIONS', 1000, 1),
      maxMultiValues: integer(env, 'SCIM_MAX_MULTI_VALUES', 100, 1),
    },
    metricsAddress: hostPort(env, 'METRICS_ADDRESS'),
    secretKey: secretKey(env, 'SWITCHBOARD_SECRET_KEY'),
    previousSecretKeys: (env.SWITCHBOARD_SECRET_KEY_PREVIOUS ?? '').split(',').filter((k) => k.trim() !== '').map((k) => secretKeyOf(k, 'SWITCHBOARD_SECRET_KEY_PREVIOUS')),
  };
}

/** What the CLI's client commands need: where the server is and which token to use. */
export interface ClientConfig {
  url: string;
  token: string | undefined;
}

export function loadClientConfig(env: Env = process.env, flags: { url?: string; token?: string } = {}): ClientConfig {
  const raw = flags.url ?? env.SWITCHBOARD_URL ?? `http://localhost:${env.PORT || 8080}`;
  try {
    new URL(raw);
  } catch {
    throw new ConfigError(`--url / SWITCHBOARD_URL must be a URL, got "${raw}"`);
  }
  return { url: raw.replace(/\/+$/, ''), token: flags.token ?? (env.SWITCHBOARD_TOKEN || undefined) };
}
