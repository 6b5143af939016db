/**
 * The audit trail read through the API (/AuditEvents) and kept for a configured period (AUDIT_RETENTION_DAYS).
 * Events are written by the services that make the changes (auditRepo, in the change's transaction); this service
 * only reads them and prunes the old ones.
 */
import type { Knex } from 'knex';
import { tryTransactionLock } from '../db/advisory-locks.js';
import { auditRepo, type AuditListQuery, type StoredAuditEvent } from '../db/audit-repo.js';
import type { Database } from '../db/database.js';
import { compileListCriteria, type ListCriteria } from '../db/list-filter.js';
import { notFound } from '../domain/errors.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';

/** A list request: its SCIM filter and sortBy as the client wrote them, and the page. */
export type AuditListRequest = ListCriteria & Omit<AuditListQuery, 'where'>;

/** Events deleted per statement when pruning: a long backlog goes in several, none holding its locks for long. */
const PRUNE_BATCH = 5000;

export class AuditService {
  constructor(private readonly deps: { db: Pick<Database, 'knex' | 'kind'>; clock: Clock; logger: Logger; retentionDays: number }) {}

  /**
   * A page of the account's events. The filter is compiled to SQL (the one filter compiler: 400 naming what is not
   * filterable); sortBy is checked like any list's (an unknown attribute is 400), but the order is always time, then id.
   */
  list(accountId: string, request: AuditListRequest): Promise<(StoredAuditEvent & { sortValue: string })[]> {
    const { filter, sortBy, ...page } = request;
    const { where } = compileListCriteria('auditEvent', { filter, sortBy });
    return auditRepo.list(this.deps.db.knex, accountId, { ...page, ...(where ? { where } : {}) });
  }

  count(accountId: string, filter: string | undefined): Promise<number> {
    return auditRepo.count(this.deps.db.knex, accountId, compileListCriteria('auditEvent', { filter }).where);
  }

  async get(accountId: string, id: string): Promise<StoredAuditEvent> {
    const event = await auditRepo.findById(this.deps.db.knex, accountId, id);
    if (!event) throw notFound(`AuditEvent ${id}`);
    return event;
  }

  /**
   * Deletes the events older than the retention period, in every account. On PostgreSQL one instance prunes at a
   * time: an advisory lock held by a transaction of its own for the whole prune; the others skip (answer
   * undefined). PGlite is one process.
   */
  async prune(): Promise<number | undefined> {
    const { knex, kind } = this.deps.db;
    const before = new Date(this.deps.clock.now().getTime() - this.deps.retentionDays * 86_400_000);
    let lock: Knex.Transaction | undefined;
    if (kind === 'postgres') {
      lock = await knex.transaction();
      if (!(await tryTransactionLock(lock, 'switchboard:audit-retention'))) {
        await lock.rollback();
        return undefined;
      }
    }
    try {
      let total = 0;
      for (;;) {
        const n = await auditRepo.prune(knex, before, PRUNE_BATCH);
        total += n;
        if (n < PRUNE_BATCH) return total;
      }
    } finally {
      await lock?.commit();
    }
  }

  /** The pruning job: at start, then every `everyMs`; started with the scheduler. */
  worker(everyMs = 3600_000): { name: string; start(): void; stop(): Promise<void> } {
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> = Promise.resolve();
    const run = () => {
      running = this.prune()
        .then((n) => {
          if (n) this.deps.logger.info({ pruned: n, retentionDays: this.deps.retentionDays }, 'audit events past their retention pruned');
        })
        .catch((err: unknown) => this.deps.logger.error({ err }, 'pruning audit events failed'));
    };
    return {
      name: 'audit-retention',
      start: () => {
        run();
        timer = setInterval(run, everyMs);
        timer.unref();
      },
      stop: async () => {
        if (timer) clearInterval(timer);
        await running;
      },
    };
  }
}
