/**
 * /SyncRuns: POST starts a run of a source in the background and answers 201 with it (status `running`);
 * GET /SyncRuns/{id} polls it and carries the per-object results; the list filters by `sourceId` and `status`
 * (`eq` only, joined by `and`).
 *
 * Checking a source's connection (the CLI's `sources check`) is `POST /SyncRuns` with `mode: "check"`: the
 * connector connects and authenticates, reads nothing, and the answer is 200 with a transient SyncRun
 * (`status` succeeded or failed, `error`), recorded nowhere. This keeps to the two resources instead of
 * inventing a non-SCIM action endpoint.
 */
import { Router, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { hasCapability } from '../domain/principal.js';
import { contextOf } from '../http/request-context.js';
import type { SyncEngine } from '../sync/sync-engine.js';
import { syncRunsRepo, type SyncResult, type SyncRunRecord } from '../sync/sync-runs-repo.js';
import type { SourcesService } from '../sync/sources-service.js';
import type { Executor } from '../db/database.js';
import { isConnectorError } from '../../connectors/sdk/index.js';
import { parseListParams } from './list-params.js';
import { listResponse, sendScim } from './scim-http.js';
import { SYNC_RUN_URN } from './sync-schemas.js';

type JsonObject = Record<string, unknown>;

export function toSyncRunResource(run: SyncRunRecord, scimBase: string, results?: SyncResult[]): JsonObject {
  return {
    schemas: [SYNC_RUN_URN],
    id: run.id,
    sourceId: run.sourceId,
    mode: run.mode,
    dryRun: run.dryRun,
    allowDeletes: run.allowDeletes,
    trigger: run.trigger,
    status: run.status,
    counts: run.counts,
    idle: run.idle,
    ...(run.error ? { error: run.error } : {}),
    startedAt: run.startedAt.toISOString(),
    ...(run.finishedAt ? { finishedAt: run.finishedAt.toISOString() } : {}),
    ...(run.durationMs !== null ? { durationMs: run.durationMs } : {}),
    ...(results ? { results: results.map((r) => ({ anchor: r.anchor, userId: r.userId, outcome: r.outcome, changes: r.changes, ...(r.error ? { error: r.error } : {}) })) } : {}),
    meta: {
      resourceType: 'SyncRun',
      created: run.startedAt.toISOString(),
      lastModified: (run.finishedAt ?? run.startedAt).toISOString(),
      location: `${scimBase}/SyncRuns/${run.id}`,
    },
  };
}

/** `sourceId eq "…" and status eq "…"`: the only filters of the list. */
export function parseRunFilter(filter: string | undefined): { sourceId?: string; status?: string } {
  if (!filter || filter.trim() === '') return {};
  const out: { sourceId?: string; status?: string } = {};
  for (const part of filter.split(/\s+and\s+/i)) {
    const m = /^\s*(sourceId|status)\s+eq\s+"([^"]*)"\s*$/i.exec(part);
    if (!m) throw new DomainError('invalidFilter', `SyncRuns filter supports only sourceId eq "…" and status eq "…", joined by and; got "${part.trim()}"`);
    out[m[1]!.toLowerCase() === 'sourceid' ? 'sourceId' : 'status'] = m[2]!;
  }
  return out;
}

function requireSources(res: Response): void {
  if (!hasCapability(contextOf(res).principal, 'sources')) throw new DomainError('forbidden', 'This token cannot run sources');
}

export function syncRunsRouter(deps: { db: Executor; engine: SyncEngine; sources: SourcesService; maxResults: number }): Router {
  const router = Router({ mergeParams: true });

  router.post('/SyncRuns', async (req, res) => {
    requireSources(res);
    const { accountId, scimBase } = contextOf(res);
    const body = (req.body ?? {}) as JsonObject;
    if (typeof body.sourceId !== 'string') throw new DomainError('invalidValue', 'sourceId is required');
    const mode = body.mode ?? 'incremental';
    if (mode !== 'full' && mode !== 'incremental' && mode !== 'check') throw new DomainError('invalidValue', 'mode must be "full", "incremental" or "check"');
    for (const name of ['dryRun', 'allowDeletes']) if (body[name] !== undefined && typeof body[name] !== 'boolean') throw new DomainError('invalidValue', `${name} must be a boolean`);
    if (mode === 'check') {
      const source = await deps.sources.get(accountId, body.sourceId);
      const connector = deps.sources.connectorOf(source.kind);
      let error: string | undefined;
      try {
        await connector.check(connector.parseConfig(source.config));
      } catch (caught) {
        error = isConnectorError(caught) ? `${caught.kind}: ${caught.message}` : String((caught as Error).message ?? caught);
      }
      sendScim(res, 200, { schemas: [SYNC_RUN_URN], sourceId: source.id, mode: 'check', status: error ? 'failed' : 'succeeded', ...(error ? { error } : {}) });
      return;
    }
    await deps.sources.get(accountId, body.sourceId);
    const { run } = await deps.engine.start(accountId, body.sourceId, { mode, dryRun: body.dryRun === true, allowDeletes: body.allowDeletes === true, trigger: 'manual' });
    sendScim(res, 201, toSyncRunResource(run, scimBase), { Location: `${scimBase}/SyncRuns/${run.id}` });
  });

  router.get('/SyncRuns', async (req, res) => {
    requireSources(res);
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, deps.maxResults);
    const page = await syncRunsRepo.list(deps.db, accountId, { ...parseRunFilter(params.filter), offset: params.startIndex - 1, limit: params.count });
    sendScim(res, 200, listResponse(page.runs.map((r) => toSyncRunResource(r, scimBase)), page.total, params.startIndex));
  });

  router.get('/SyncRuns/:id', async (req, res) => {
    requireSources(res);
    const { accountId, scimBase } = contextOf(res);
    const run = await syncRunsRepo.findById(deps.db, accountId, req.params.id!);
    if (!run) throw new DomainError('notFound', `SyncRun ${req.params.id} not found`);
    sendScim(res, 200, toSyncRunResource(run, scimBase, await syncRunsRepo.results(deps.db, accountId, run.id)));
  });

  return router;
}
