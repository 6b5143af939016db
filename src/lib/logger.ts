import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Paths that must never reach a log line: secrets in headers, bodies and configs. */
export const redactedPaths = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  'password',
  'bindPassword',
  '*.password',
  '*.token',
  '*.secret',
  '*.bindPassword',
  '*.clientSecret',
  'config.bindPassword',
  'config.clientSecret',
];

/** The one-time link secrets in a path (`/register/<token>`, `/reset/<token>`): whoever reads them could use them. */
const LINK_SECRET = /\/(register|reset)\/[^/?#\s"]+/g;

export function redactLinkSecrets(text: string): string {
  return text.replace(LINK_SECRET, '/$1/[redacted]');
}

/** Every string field of a log line, one level deep (path, url, msg, an error's message), without link secrets. */
function withoutLinkSecrets(object: Record<string, unknown>): Record<string, unknown> {
  for (const key in object) {
    const value = object[key];
    if (typeof value === 'string' && value.includes('/re')) object[key] = redactLinkSecrets(value);
  }
  return object;
}

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: redactedPaths, censor: '[redacted]' },
    base: { service: 'switchboard' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: withoutLinkSecrets },
    hooks: {
      // The message too: formatters.log sees only the object.
      logMethod(args, method) {
        const redacted = args.map((arg) => (typeof arg === 'string' && arg.includes('/re') ? redactLinkSecrets(arg) : arg));
        return method.apply(this, redacted as Parameters<typeof method>);
      },
    },
  };
  return options.destination ? pino(opts, options.destination as pino.DestinationStream) : pino(opts);
}

export const silentLogger: Logger = pino({ level: 'silent' });
