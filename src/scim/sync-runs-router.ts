/**
 * /SyncRuns: POST starts a run of a source in the background and answers 201 with it (status `running`);
 * GET /SyncRuns/{id} polls it and carries the per-object results; the list takes a SCIM filter over the SyncRun
 * attributes (sourceId, status, mode, trigger, dryRun, startedAt, …), compiled to SQL like every other list.
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
import type { SyncResult, SyncRunRecord } from '../db/sync-runs-repo.js';
import type { SyncRunsService } from '../services/sync-runs-service.js';
import { parseListParams } from './list-params.js';
import { listResponse, sendScim } from './scim-http.js';
import { SYNC_RUN_URN } from '../domain/sync-schema.js';

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

function requireSources(res: Response): void {
  if (!hasCapability(contextOf(res).principal, 'sources')) throw new DomainError('forbidden', 'This token cannot run sources');
}

export function syncRunsRouter(deps: { syncRuns: SyncRunsService; maxResults: number }): Router {
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
      const { sourceId, error } = await deps.syncRuns.check(accountId, body.sourceId);
      sendScim(res, 200, { schemas: [SYNC_RUN_URN], sourceId, mode: 'check', status: error ? 'failed' : 'succeeded', ...(error ? { error } : {}) });
      return;
    }
    const run = await deps.syncRuns.start(accountId, body.sourceId, { mode, dryRun: body.dryRun === true, allowDeletes: body.allowDeletes === true, trigger: 'manual' });
    sendScim(res, 201, toSyncRunResource(run, scimBase), { Location: `${scimBase}/SyncRuns/${run.id}` });
  });

  router.get('/SyncRuns', async (req, res) => {
    requireSources(res);
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, deps.maxResults);
    const page = await deps.syncRuns.list(accountId, { filter: params.filter, offset: params.startIndex - 1, limit: params.count });
    sendScim(res, 200, listResponse(page.runs.map((r) => toSyncRunResource(r, scimBase)), page.total, params.startIndex));
  });

  router.get('/SyncRuns/:id', async (req, res) => {
    requireSources(res);
    const { accountId, scimBase } = contextOf(res);
    const { run, results } = await deps.syncRuns.get(accountId, req.params.id!);
    sendScim(res, 200, toSyncRunResource(run, scimBase, results));
  });

  return router;
}
