import path from 'node:path';

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
  logLevel: string;
  /** Absolute base URL clients reach us at; when unset, taken from each request's Host. */
  publicUrl: string | undefined;
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

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 8080);
  if (port > 65535) throw new ConfigError(`PORT must be at most 65535, got ${port}`);
  const bootstrapToken = env.SWITCHBOARD_BOOTSTRAP_TOKEN || undefined;
  if (bootstrapToken !== undefined && bootstrapToken.length < 32) {
    throw new ConfigError('SWITCHBOARD_BOOTSTRAP_TOKEN must be at least 32 characters long');
  }
  const host = env.HOST || '0.0.0.0';
  return {
    port,
    host,
    dataDir: path.resolve(env.DATA_DIR || './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    databasePoolMax: integer(env, 'DATABASE_POOL_MAX', 10, 1),
    bootstrapToken,
    bodyLimitBytes: bytes(env, 'BODY_LIMIT', 1024 * 1024),
    importMaxBytes: bytes(env, 'IMPORT_MAX_BYTES', 50 * 1024 * 1024),
    logLevel: logLevel(env),
    publicUrl: url(env, 'PUBLIC_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
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
