/**
 * Import Users from CSV (the seed's bulk import): every row goes through the single write path (UserService
 * UserService.write) as the importing admin, with the rules of the Add User form; rows are matched to users by email
 * (mode upsert) and written in batches, each batch in one transaction with its rows' outcomes; a failing row
 * never stops the others. The file is read twice: once whole before anything is written (header, charset, CSV
 * syntax, row count), then batch by batch, the next batch read and planned while the database writes the one
 * before (startBatch).
 */
import type { Knex } from 'knex';
import type { Account } from '../domain/account.js';
import { DomainError, notFound } from '../domain/errors.js';
import type { Writer } from '../domain/ownership.js';
import { cellsOf, emailKey, resolveHeader, rowToDocument, type ColumnIndex, type RowCells } from '../domain/user-csv.js';
import { auditRepo } from '../db/audit-repo.js';
import type { Trx } from '../db/database.js';
import { emptyCounts, importsRepo, type ImportCounts, type ImportMode, type ImportRow, type StoredImport } from '../db/imports-repo.js';
import { usersRepo, type StoredUser } from '../db/users-repo.js';
import type { Clock } from '../lib/clock.js';
import { CsvReadError, readCsv, UnsupportedCharsetError } from '../lib/csv.js';
import type { Logger } from '../lib/logger.js';
import type { PlannedWrite } from '../domain/write-plan.js';
import type { JsonObject } from '../domain/user-rules.js';
import type { UserService, WriteRequest } from './user-service.js';

/** Up to this many rows, POST answers when the import is done (201); more run in the background (202). */
export const SYNC_ROW_LIMIT = 1000;
/**
 * Rows per transaction: one lookup of the batch's emails, one UserService.write (one uniqueness query, one statement per
 * table), one insert of its outcomes; the locks of a batch are held for one batch only. bench csv-import measures it.
 */
export const BATCH_ROWS = 500;
/** An import that wrote at least this many users refreshes the planner's statistics of the users tables at its end (usersRepo.analyze). */
const ANALYZE_AFTER_ROWS = 1000;
/** And every this many users written during a long import. */
const ANALYZE_EVERY_ROWS = 10_000;
/** Imports are kept this long, then deleted. */
export const RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** A running import with no progress for this long was interrupted (its process stopped). */
const INTERRUPTED_AFTER_MS = 30 * 60 * 1000;

/** The seed's Add User welcome email for a user the import created, in the batch's transaction. */
export type WelcomeCreatedUser = (trx: Trx, account: Account, user: StoredUser, writer: Writer & { type: 'admin' }) => Promise<{ outcome: string; reason?: string }>;

export interface ImportRequest {
  accountId: string;
  /** Who imports: role and token id, as on every write. */
  actor: string;
  /** Opens the file from its start; called once per pass. */
  open: () => AsyncIterable<Buffer | Uint8Array>;
  /** Called once the file is no longer needed (a spooled body is deleted). */
  release?: () => Promise<void>;
  charset?: string;
  dryRun: boolean;
  sendWelcomeEmail: boolean;
  mode: ImportMode;
  ignoreUnknownColumns: boolean;
}

interface Scan {
  header: string[];
  columns: ColumnIndex;
  delimiter: ',' | ';';
  rows: number;
}

interface Run {
  request: ImportRequest;
  importId: string;
  columns: ColumnIndex;
  writer: Writer & { type: 'admin' };
  counts: ImportCounts;
  /**
   * Email key → the line that first gave it, of the last batch started only: when a batch is planned, the batches
   * before that one have committed, and the lines they gave are found in import_rows (importsRepo.firstLines). So
   * the import holds the emails of two batches, not of the whole file (7.7 MB at 100,000 rows, measured).
   */
  lastBatchEmails: Map<string, number>;
  /** Rows handed to batches so far. */
  rowsPlanned: number;
  /** The last line of the last batch started, and of the first batch that failed. */
  lastLine: number;
  failedAtLine?: number;
}

type UncommittedUsers = readonly { id: string; doc: JsonObject }[];

/** A batch whose transaction is running (ImportService.startBatch). */
interface InFlight {
  /** Resolved once its writes are planned: the users it creates, or 'wait' when the next batch must wait for it to end. */
  planned: Promise<UncommittedUsers | 'wait'>;
  /** Resolved once its users are written (UserService.write returned), or it failed. */
  written: Promise<void>;
  /** Settled when it has committed, or failed. */
  committed: Promise<void>;
  /** The batch before it has committed (or failed). */
  before: Promise<void>;
}

/** What a batch knows of the one before it. */
interface Overlap {
  uncommitted: UncommittedUsers;
  /** UserService.write's `planned`: hands the plan to the next batch. */
  planned: (writes: readonly PlannedWrite<StoredUser>[]) => void;
  /** UserService.write's `after`: the batch before has written its users. */
  previousWritten: Promise<void>;
  /** Called once the batch's users are written. */
  wrote: () => void;
  /** The batch before has committed; rejects when it failed. */
  before: Promise<void> | undefined;
}

interface PendingRow {
  line: number;
  cells: string[];
}

/** Thrown inside a dry run's batch transaction to roll it back once its outcomes are known. */
class DryRunRollback extends Error {}

function readError(error: unknown): never {
  if (error instanceof CsvReadError || error instanceof UnsupportedCharsetError) throw new DomainError('invalidValue', error.message);
  throw error;
}

export class ImportService {
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly options: { db: Knex; clock: Clock; logger: Logger; users: UserService; welcome?: WelcomeCreatedUser },
  ) {}

  /**
   * Reads the whole file (a bad header, charset or CSV syntax is a 400 and nothing is written), records the import
   * and runs it: to the end when it has at most SYNC_ROW_LIMIT rows, otherwise in the background (status running).
   */
  async start(request: ImportRequest): Promise<StoredImport> {
    const { db, clock } = this.options;
    let scan: Scan;
    try {
      scan = await this.scan(request);
    } catch (error) {
      await request.release?.();
      throw error;
    }
    const now = clock.now();
    let created: StoredImport;
    try {
      await importsRepo.purge(db, new Date(now.getTime() - RETENTION_MS));
      created = await importsRepo.create(db, request.accountId, {
        dryRun: request.dryRun, mode: request.mode, sendWelcomeEmail: request.sendWelcomeEmail, header: scan.header, delimiter: scan.delimiter, rows: scan.rows,
        createdBy: request.actor, at: now,
      });
    } catch (error) {
      await request.release?.();
      throw error;
    }
    const run: Run = {
      request, importId: created.id, columns: scan.columns, writer: { type: 'admin', actor: request.actor, via: 'import' }, counts: emptyCounts(scan.rows), lastBatchEmails: new Map(), rowsPlanned: 0, lastLine: 1,
    };
    const task = this.execute(run).finally(() => request.release?.());
    if (scan.rows > SYNC_ROW_LIMIT) {
      const tracked: Promise<void> = task
        .catch((error: unknown) => this.options.logger.error({ err: error, importId: created.id }, 'background import failed'))
        .finally(() => this.background.delete(tracked));
      this.background.add(tracked);
      return created;
    }
    await task;
    return this.get(request.accountId, created.id);
  }

  async get(accountId: string, id: string): Promise<StoredImport> {
    const found = await importsRepo.get(this.options.db, accountId, id, this.retainedSince());
    if (!found) throw notFound(`Import ${id}`);
    return found;
  }

  list(accountId: string, page: { offset: number; limit: number }) {
    return importsRepo.list(this.options.db, accountId, this.retainedSince(), page);
  }

  /** The per-row outcomes of an import, in file order, a page at a time. */
  async rows(accountId: string, id: string, afterLine: number, limit: number): Promise<ImportRow[]> {
    return importsRepo.rows(this.options.db, accountId, id, afterLine, limit);
  }

  /** Waits for the background imports of this process (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** On start: imports left running by a stopped process are marked failed; expired ones are deleted. */
  async recover(): Promise<{ interrupted: number; purged: number }> {
    const { db, clock } = this.options;
    const now = clock.now();
    const purged = await importsRepo.purge(db, new Date(now.getTime() - RETENTION_MS));
    const interrupted = await importsRepo.failInterrupted(
      db, new Date(now.getTime() - INTERRUPTED_AFTER_MS), now, 'Interrupted: the server stopped while the import was running; the rows processed before are in results and were written',
    );
    for (const i of interrupted) {
      await auditRepo.record(db, { accountId: i.accountId, actor: 'system', writer: 'system', action: 'import.failed', targetType: 'Import', targetId: i.id, details: { error: 'interrupted' } }, now);
    }
    return { interrupted: interrupted.length, purged };
  }

  private retainedSince(): Date {
    return new Date(this.options.clock.now().getTime() - RETENTION_MS);
  }

  /** The first pass: header, columns, delimiter and the number of records, before anything is written. */
  private async scan(request: ImportRequest): Promise<Scan> {
    let header: string[] | undefined;
    let columns: ColumnIndex | undefined;
    let delimiter: ',' | ';' = ',';
    let rows = 0;
    try {
      for await (const record of readCsv(request.open(), { charset: request.charset })) {
        if (!header) {
          header = record.cells;
          delimiter = record.delimiter;
          columns = resolveHeader(header, request.ignoreUnknownColumns);
        } else rows++;
      }
    } catch (error) {
      readError(error);
    }
    if (!header || !columns) throw new DomainError('invalidValue', 'The file is empty: send the header row (GET /Imports/template) and one row per user');
    return { header, columns, delimiter, rows };
  }

  /**
   * The second pass: the rows in batches; the import ends succeeded, completed_with_errors, or failed on an
   * unexpected error. Batches overlap (see startBatch): while the database writes one, the next is read from the
   * file and planned.
   */
  private async execute(run: Run): Promise<void> {
    const { logger } = this.options;
    const { request } = run;
    let batch: PendingRow[] = [];
    let previous: InFlight | undefined;
    // The statistics refreshed during the import: beside the batches, not between them (ANALYZE takes no lock an insert waits for).
    let analyzing: Promise<void> = Promise.resolve();
    try {
      let first = true;
      for await (const record of readCsv(request.open(), { charset: request.charset })) {
        if (first) {
          first = false;
          continue;
        }
        batch.push({ line: record.line, cells: record.cells });
        if (batch.length >= BATCH_ROWS) {
          previous = await this.startBatch(run, batch, previous);
          batch = [];
          // Backpressure: the next rows are read once the batch before the one just started has committed, so at
          // most two batches are held (one writing, one planned or reading), not a third read ahead of them. The
          // reading still overlaps the database's work on the batch just started.
          await previous.before;
          // Every ANALYZE_EVERY_ROWS rows, the planner learns how many there are now (usersRepo.analyze).
          if (!request.dryRun && Math.floor(run.rowsPlanned / ANALYZE_EVERY_ROWS) > Math.floor((run.rowsPlanned - BATCH_ROWS) / ANALYZE_EVERY_ROWS)) {
            await analyzing;
            analyzing = this.analyze(run);
          }
        }
      }
      if (batch.length > 0) previous = await this.startBatch(run, batch, previous);
      await previous?.committed;
      await analyzing;
      if (!request.dryRun && run.counts.created + run.counts.updated >= ANALYZE_AFTER_ROWS) await this.analyze(run);
    } catch (error) {
      // The batches after the failed one were rolled back; wait for them to end before saying so.
      await previous?.committed.catch(() => undefined);
      await analyzing;
      logger.error({ err: error, importId: run.importId }, 'import stopped');
      const detail = error instanceof DomainError ? error.detail : 'an unexpected error';
      await this.finish(run, 'failed', `The import stopped at the batch ending on line ${run.failedAtLine ?? run.lastLine} on ${detail}; the rows before it were ${request.dryRun ? 'checked' : 'written'} and are in results`);
      return;
    }
    await this.finish(run, run.counts.failed > 0 ? 'completed_with_errors' : 'succeeded', null);
  }

  /**
   * Starts one batch and answers once its writes are planned, while the database still writes them: the caller
   * then reads and plans the next batch, so Node's share of a batch (about 0.3 ms a row: the CSV, the documents, the
   * plan) runs beside the database's instead of after it (bench csv-import). At most two batches are in flight, and
   * they commit in file order: a batch waits for the one before it to commit before it commits, and rolls back when
   * that one failed. Planned before the one before it has committed, a batch counts the users that one creates
   * (WriteFacts.uncommittedUsers); after a batch that updates users, or in a dry run (whose batches are rolled back),
   * the next is planned once it has ended, as if one at a time.
   */
  private async startBatch(run: Run, batch: readonly PendingRow[], previous: InFlight | undefined): Promise<InFlight> {
    let uncommitted: UncommittedUsers = [];
    if (previous) {
      await previous.before;
      const planned = await previous.planned;
      if (planned === 'wait') await previous.committed;
      else uncommitted = planned;
    }
    run.rowsPlanned += batch.length;
    run.lastLine = batch[batch.length - 1]!.line;
    let signal: (users: UncommittedUsers | 'wait') => void = () => undefined;
    const planned = new Promise<UncommittedUsers | 'wait'>((resolve) => (signal = resolve));
    let wrote: () => void = () => undefined;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const previousWritten = previous?.written ?? Promise.resolve();
    const committed = this.writeBatch(run, batch, {
      uncommitted,
      planned: (writes) => signal(run.request.dryRun || writes.some((w) => w.user === 'update') ? 'wait' : writes.filter((w) => w.user === 'insert').map((w) => ({ id: w.id, doc: w.next }))),
      previousWritten,
      wrote,
      before: previous?.committed,
    })
      .catch((error: unknown) => {
        run.failedAtLine ??= batch[batch.length - 1]!.line;
        throw error;
      })
      .finally(() => {
        signal('wait');
        wrote();
      });
    // Awaited later (by the next batch, or at the end); a failure is handled there.
    committed.catch(() => undefined);
    return { planned, written, committed, before: previous?.committed ?? Promise.resolve() };
  }

  /** Refreshes the planner's statistics; a failure only costs speed, so it is logged and the import goes on. */
  private async analyze(run: Run): Promise<void> {
    try {
      await usersRepo.analyze(this.options.db);
    } catch (error) {
      this.options.logger.warn({ err: error, importId: run.importId }, 'analyze after imported users failed');
    }
  }

  private async finish(run: Run, status: 'succeeded' | 'completed_with_errors' | 'failed', error: string | null): Promise<void> {
    const { db, clock } = this.options;
    const now = clock.now();
    await db.transaction(async (trx) => {
      await importsRepo.finish(trx, run.request.accountId, run.importId, status, run.counts, error, now);
      await auditRepo.record(
        trx,
        {
          accountId: run.request.accountId, actor: run.request.actor, writer: 'import', action: `import.${status}`, targetType: 'Import', targetId: run.importId,
          details: { counts: run.counts, dryRun: run.request.dryRun, mode: run.request.mode, ...(error ? { error } : {}) },
        },
        now,
      );
    });
  }

  /**
   * One batch in one transaction: the rows' users found by email (locked), the rows the file itself refuses (an
   * unreadable cell, an email seen on an earlier line, an existing user in mode create), the others through
   * UserService.write, the welcome emails of the users created, and the rows' outcomes with the import's progress. A dry
   * run does the same and rolls the transaction back, then records the outcomes alone.
   */
  private async writeBatch(run: Run, batch: readonly PendingRow[], overlap: Overlap): Promise<void> {
    const { db, clock, users, welcome } = this.options;
    const { request, writer } = run;
    const outcomes: ImportRow[] = batch.map((row) => ({ line: row.line, email: null, outcome: 'failed', reason: null, userId: null, cells: row.cells }));
    const duplicate = (i: number, email: string, first: number) => {
      outcomes[i]!.reason = `Email ${email} is already on line ${first} of the file; a user is imported once`;
    };
    // The batch's emails: a repeat of the batch before it (which may not have committed yet) fails here; a repeat
    // within the batch, and an email of an earlier batch, once import_rows has told which line came first
    // (importsRepo.firstLines, inside the transaction).
    const before = run.lastBatchEmails;
    const emails = new Map<string, number>();
    run.lastBatchEmails = emails;
    const parsed: ({ cells: RowCells; key: string; repeat: boolean } | undefined)[] = batch.map((row, i) => {
      try {
        const cells = cellsOf(row.cells, run.columns);
        const email = cells.email ?? '';
        outcomes[i]!.email = email === '' ? null : email;
        if (email === '') throw new DomainError('invalidValue', 'Email is mandatory: the cell is empty');
        const key = emailKey(email);
        const first = before.get(key);
        if (first !== undefined) {
          duplicate(i, email, first);
          return undefined;
        }
        const repeat = emails.has(key);
        if (!repeat) emails.set(key, row.line);
        return { cells, key, repeat };
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        outcomes[i]!.reason = error.detail;
        return undefined;
      }
    });

    const write = async (trx: Trx) => {
      const earlier = await importsRepo.firstLines(trx, request.accountId, run.importId, [...emails.keys()]);
      // The next batch reads the first lines from here.
      for (const [key, line] of earlier) emails.set(key, line);
      parsed.forEach((p, i) => {
        if (!p || (!p.repeat && !earlier.has(p.key))) return;
        duplicate(i, outcomes[i]!.email!, emails.get(p.key)!);
        parsed[i] = undefined;
      });
      const keys = parsed.flatMap((p) => (p ? [p.key] : []));
      const existing = await usersRepo.findByEmailsForUpdate(trx, request.accountId, keys);
      const account = await users.account(trx, request.accountId);
      const items: WriteRequest[] = [];
      const itemRow: number[] = [];
      parsed.forEach((p, i) => {
        if (!p) return;
        const current = existing.get(p.key);
        try {
          if (current && request.mode === 'create') {
            throw new DomainError('uniqueness', `One or more of the attribute values are already in use: emails (${outcomes[i]!.email}) belongs to user ${current.id}; mode create adds new users only (use mode upsert to update it)`);
          }
          items.push({ current, next: rowToDocument(current?.doc, p.cells) });
          itemRow.push(i);
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          outcomes[i]!.reason = error.detail;
        }
      });
      const results = await users.write(trx, request.accountId, writer, items, { account, uncommittedUsers: overlap.uncommitted, planned: overlap.planned, after: overlap.previousWritten });
      overlap.wrote();
      for (let k = 0; k < results.length; k++) {
        const result = results[k]!;
        const row = outcomes[itemRow[k]!]!;
        if (!result.ok) {
          row.reason = result.error.detail;
          continue;
        }
        const { user, created, changed } = result.result;
        row.userId = created && request.dryRun ? null : user.id;
        row.outcome = created ? 'created' : changed.length > 0 ? 'updated' : 'unchanged';
        if (created && request.sendWelcomeEmail && !request.dryRun && welcome) {
          const sent = await welcome(trx, account, user, writer);
          if (sent.outcome !== 'done') row.reason = `welcome email not sent: ${sent.reason ?? sent.outcome}`;
        }
      }
    };

    const record = async (executor: Knex | Trx) => {
      await importsRepo.insertRows(executor, request.accountId, run.importId, outcomes);
      // The counts so far: the batch before this one has committed (overlap.before).
      await importsRepo.progress(executor, request.accountId, run.importId, this.tally(run, outcomes), clock.now());
    };
    if (request.dryRun) {
      await overlap.before;
      try {
        await db.transaction(async (trx) => {
          await write(trx);
          throw new DryRunRollback();
        });
      } catch (error) {
        if (!(error instanceof DryRunRollback)) throw error;
      }
      await record(db);
    } else {
      await db.transaction(async (trx) => {
        await write(trx);
        await overlap.before;
        await record(trx);
      });
    }
    run.counts = this.tally(run, outcomes);
  }

  /** The import's counts with this batch's outcomes added (not kept until the batch commits). */
  private tally(run: Run, outcomes: readonly ImportRow[]): ImportCounts {
    const counts = { ...run.counts };
    for (const row of outcomes) counts[row.outcome]++;
    return counts;
  }
}
