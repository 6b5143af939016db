/**
 * Which driver errors mean "the database cannot answer now" (gone, restarting, unreachable, pool closed or
 * exhausted) rather than a bug: those answer 503 with Retry-After, never 500. And a statement cancelled by the
 * per-request statement timeout.
 */
export type DatabaseFault = 'unavailable' | 'statementTimeout';

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', // admin_shutdown (the server is stopping, or the database was dropped under us)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up)
  '3D000', // invalid_catalog_name: the database does not exist (dropped while running)
  '53300', // too_many_connections
]);

const UNAVAILABLE_MESSAGES = [
  /^Knex: Timeout acquiring a connection/,
  /^aborted$/, // tarn rejects pending acquisitions so when the pool is destroyed (shutdown)
  /Connection terminated/,
  /Client has encountered a connection error/,
  /PGlite is closed/,
  /Unable to acquire a connection/,
];

export function databaseFault(error: unknown): DatabaseFault | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown };
  if (code === '57014') return 'statementTimeout';
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return 'unavailable';
  if (name === 'KnexTimeoutError') return 'unavailable';
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return 'unavailable';
  // AggregateError of a connect to every address of a host (node's happy eyeballs).
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.length > 0 && errors.every((e) => databaseFault(e) === 'unavailable')) return 'unavailable';
  return undefined;
}

/** The client went away before its request was answered: its statements were cancelled, or not run. */
export class RequestAbandonedError extends Error {
  constructor() {
    super('The client closed the connection before the answer; its statements were cancelled');
  }
}
