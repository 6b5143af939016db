import { RateLimiterMemory, RateLimiterPostgres, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from './database.js';

export interface LimiterSpec {
  /** Distinguishes the counters of one limit from another's in the shared table. */
  keyPrefix: string;
  /** Requests allowed per window. */
  points: number;
  /** The window, in seconds. */
  durationSeconds: number;
}

/**
 * A counter store for one limit: the `rate_limits` table on PostgreSQL, so that every instance behind a load
 * balancer counts against the same numbers; memory for embedded PGlite (one process per data directory). A
 * PostgreSQL store that fails falls back to this process's memory (the insurance limiter) rather than failing the
 * request, and a key over its limit is refused from memory until its window ends (no database round trip).
 */
export function createLimiter(db: Database, spec: LimiterSpec): RateLimiterAbstract {
  const base = { keyPrefix: spec.keyPrefix, points: spec.points, duration: spec.durationSeconds };
  const memory = new RateLimiterMemory(base);
  if (db.kind !== 'postgres') return memory;
  return new RateLimiterPostgres({
    ...base,
    storeClient: db.knex,
    storeType: 'knex',
    tableName: 'rate_limits',
    tableCreated: true,
    clearExpiredByTimeout: true,
    insuranceLimiter: memory,
    inMemoryBlockOnConsumed: spec.points,
    inMemoryBlockDuration: spec.durationSeconds,
  });
}
