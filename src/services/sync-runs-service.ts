/**
 * Sync runs as the API sees them: start one (the engine runs it in the background), check a source's connection,
 * list the account's runs with a SCIM filter (compiled to SQL), read one with its per-object results.
 */
import { isConnectorError } from '../../connectors/sdk/index.js';
import type { Executor } from '../db/database.js';
import { syncRunsRepo, type SyncMode, type SyncResult, type SyncRunRecord } from '../db/sync-runs-repo.js';
import { notFound } from '../domain/errors.js';
import { parseScimFilter } from '../domain/scim-filter.js';
import type { SourcesService } from './sources-service.js';

export interface SyncStartOptions {
  mode: SyncMode;
  dryRun?: boolean;
  allowDeletes?: boolean;
  trigger?: string;
}

/** What starts runs (the sync engine, built by the composition root): this service only asks it to. */
export interface SyncRunner {
  start(accountId: string, sourceId: string, options: SyncStartOptions): Promise<{ run: SyncRunRecord; done: Promise<SyncRunRecord> }>;
}

export interface ConnectionCheck {
  sourceId: string;
  error: string | undefined;
}

export class SyncRunsService {
  constructor(private readonly deps: { db: Executor; sources: SourcesService; runner: SyncRunner }) {}

  /** Starts a run of a source the account manages; answers with the run as started (status `running`). */
  async start(accountId: string, sourceId: string, options: SyncStartOptions): Promise<SyncRunRecord> {
    await this.deps.sources.get(accountId, sourceId);
    const { run } = await this.deps.runner.start(accountId, sourceId, options);
    return run;
  }

  /** Connects and authenticates with the source's configuration, reads nothing, records nothing. */
  async check(accountId: string, sourceId: string): Promise<ConnectionCheck> {
    const source = await this.deps.sources.get(accountId, sourceId);
    const connector = this.deps.sources.connectorOf(source.kind);
    try {
      await connector.check(connector.parseConfig(this.deps.sources.plainConfig(source)));
      return { sourceId: source.id, error: undefined };
    } catch (caught) {
      return { sourceId: source.id, error: isConnectorError(caught) ? `${caught.kind}: ${caught.message}` : String((caught as Error).message ?? caught) };
    }
  }

  /** The account's runs, newest first; `filter` is a SCIM filter over the SyncRun attributes. */
  async list(accountId: string, query: { filter?: string; offset: number; limit: number }): Promise<{ runs: SyncRunRecord[]; total: number }> {
    const filter = query.filter !== undefined && query.filter.trim() !== '' ? parseScimFilter(query.filter) : undefined;
    return syncRunsRepo.list(this.deps.db, accountId, { filter, offset: query.offset, limit: query.limit });
  }

  /** One run with its per-object results. */
  async get(accountId: string, id: string): Promise<{ run: SyncRunRecord; results: SyncResult[] }> {
    const run = await syncRunsRepo.findById(this.deps.db, accountId, id);
    if (!run) throw notFound(`SyncRun ${id}`);
    return { run, results: await syncRunsRepo.results(this.deps.db, accountId, run.id) };
  }
}
