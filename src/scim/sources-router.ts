/** /Sources: sources of users run by the sync engine (LDAP / AD). Secrets in `config` are write-only. */
import { Router, type Request, type Response } from 'express';
import type { SourceRecord } from '../db/sources-repo.js';
import { DomainError } from '../domain/errors.js';
import { hasCapability } from '../domain/principal.js';
import { contextOf } from '../http/request-context.js';
import type { SyncRunRecord } from '../db/sync-runs-repo.js';
import type { SourceHealth, SourceInput, SourcesService } from '../services/sources-service.js';
import { parseListParams } from './list-params.js';
import { applyPatch, parsePatchRequest } from './patch/index.js';
import { projectionFor } from './projection.js';
import { etagOf, ifMatchVersion, listResponse, sendScim } from './scim-http.js';
import { SOURCE_URN, sourceResourceType, sourceResourceTypeFor } from '../domain/sync-schema.js';

type JsonObject = Record<string, unknown>;

/** The newest run as a source's status shows it: what it did and when (its per-record results are on the SyncRun). */
function lastRunOf(run: SyncRunRecord): JsonObject {
  return {
    id: run.id,
    mode: run.mode,
    trigger: run.trigger,
    dryRun: run.dryRun,
    status: run.status,
    idle: run.idle,
    counts: run.counts,
    startedAt: run.startedAt.toISOString(),
    ...(run.finishedAt ? { finishedAt: run.finishedAt.toISOString() } : {}),
    ...(run.error ? { error: run.error } : {}),
  };
}

export function toSourceResource(source: SourceRecord, config: JsonObject, scimBase: string, health: SourceHealth = {}): JsonObject {
  return {
    schemas: [SOURCE_URN],
    id: source.id,
    name: source.name,
    kind: source.kind,
    config,
    ...(source.schedule ? { schedule: source.schedule } : {}),
    enabled: source.enabled,
    softMatch: source.softMatch,
    deleteThreshold: { count: source.deleteThresholdCount, percent: source.deleteThresholdPercent },
    gracePeriodDays: source.gracePeriodDays,
    status: {
      state: source.status,
      ...(health.lastRun ? { lastRun: lastRunOf(health.lastRun) } : {}),
      ...(health.nextRunAt ? { nextRunAt: health.nextRunAt.toISOString() } : {}),
      consecutiveFailures: source.consecutiveFailures,
      ...(health.backoffUntil ? { backoffUntil: health.backoffUntil.toISOString() } : {}),
      ...(source.lastError ? { lastError: source.lastError } : {}),
      hasState: source.state !== null && source.state !== undefined,
    },
    meta: {
      resourceType: 'Source',
      created: source.createdAt.toISOString(),
      lastModified: source.updatedAt.toISOString(),
      location: `${scimBase}/Sources/${source.id}`,
      version: etagOf(source.version),
    },
  };
}

function requireSources(res: Response): void {
  if (!hasCapability(contextOf(res).principal, 'sources')) throw new DomainError('forbidden', 'This token cannot manage sources');
}

const bool = (value: unknown, name: string, fallback: boolean): boolean => {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new DomainError('invalidValue', `${name} must be a boolean`);
};
const int = (value: unknown, name: string, fallback: number): number => {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new DomainError('invalidValue', `${name} must be an integer`);
};

/** A resource body (POST/PUT, or the result of a PATCH) → the service input; absent attributes take `base`'s values. */
export function sourceInputOf(body: unknown, base?: SourceRecord): SourceInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new DomainError('invalidSyntax', 'The body must be a Source resource (a JSON object)');
  const b = body as JsonObject;
  if (base && b.kind !== undefined && b.kind !== base.kind) throw new DomainError('mutability', 'kind is immutable');
  const kind = base?.kind ?? b.kind;
  if (typeof kind !== 'string') throw new DomainError('invalidValue', 'kind is required (e.g. "ldap")');
  const name = b.name ?? base?.name;
  if (typeof name !== 'string') throw new DomainError('invalidValue', 'name is required');
  const config = b.config ?? (base ? {} : undefined);
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new DomainError('invalidValue', 'config is required: the connector configuration object');
  const threshold = (b.deleteThreshold ?? {}) as JsonObject;
  const schedule = b.schedule === undefined ? (base ? null : null) : b.schedule;
  if (schedule !== null && typeof schedule !== 'string') throw new DomainError('invalidValue', 'schedule must be a cron expression');
  return {
    name,
    kind,
    config: structuredClone(config as JsonObject),
    schedule: schedule === '' ? null : (schedule as string | null),
    enabled: bool(b.enabled, 'enabled', true),
    softMatch: bool(b.softMatch, 'softMatch', true),
    deleteThresholdCount: int(threshold.count, 'deleteThreshold.count', 500),
    deleteThresholdPercent: int(threshold.percent, 'deleteThreshold.percent', 20),
    gracePeriodDays: int(b.gracePeriodDays, 'gracePeriodDays', 30),
  };
}

export function sourcesRouter(deps: { sources: SourcesService; maxResults: number }): Router {
  const router = Router({ mergeParams: true });
  const send = async (req: Request, res: Response, status: number, source: SourceRecord) => {
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, 1);
    const health = (await deps.sources.health(accountId, [source])).get(source.id);
    const body = projectionFor(sourceResourceType, params.attributes, params.excludedAttributes).apply(toSourceResource(source, deps.sources.redacted(source), scimBase, health));
    const headers: Record<string, string> = { ETag: etagOf(source.version) };
    if (status === 201) headers.Location = `${scimBase}/Sources/${source.id}`;
    sendScim(res, status, body, headers);
  };

  router.get('/Sources', async (req, res) => {
    requireSources(res);
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, deps.maxResults);
    if (params.filter) throw new DomainError('invalidFilter', 'Sources cannot be filtered; list them all (an account has few)');
    const page = await deps.sources.list(accountId, params.startIndex - 1, params.count);
    const projection = projectionFor(sourceResourceType, params.attributes, params.excludedAttributes);
    const health = await deps.sources.health(accountId, page.sources);
    sendScim(res, 200, listResponse(page.sources.map((s) => projection.apply(toSourceResource(s, deps.sources.redacted(s), scimBase, health.get(s.id)))), page.total, params.startIndex));
  });

  router.post('/Sources', async (req, res) => {
    requireSources(res);
    await send(req, res, 201, await deps.sources.create(contextOf(res).accountId, sourceInputOf(req.body), contextOf(res).principal));
  });

  router.get('/Sources/:id', async (req, res) => {
    requireSources(res);
    await send(req, res, 200, await deps.sources.get(contextOf(res).accountId, req.params.id!));
  });

  router.put('/Sources/:id', async (req, res) => {
    requireSources(res);
    const source = await deps.sources.update(contextOf(res).accountId, req.params.id!, (current) => sourceInputOf(req.body, current), contextOf(res).principal, ifMatchVersion(req));
    await send(req, res, 200, source);
  });

  router.patch('/Sources/:id', async (req, res) => {
    requireSources(res);
    const { accountId, scimBase } = contextOf(res);
    const ops = parsePatchRequest(req.body);
    const source = await deps.sources.update(
      accountId,
      req.params.id!,
      (current) => {
        // Patched on the config without its secrets: a secret the operations give is set, one they leave out is kept by
        // the service, unless where it is sent changes (then it must be given again).
        const type = sourceResourceTypeFor(deps.sources.connectorOf(current.kind).configSchema);
        const { resource } = applyPatch(toSourceResource(current, deps.sources.redacted(current) as JsonObject, scimBase), ops, type);
        return sourceInputOf(resource, current);
      },
      contextOf(res).principal,
      ifMatchVersion(req),
    );
    await send(req, res, 200, source);
  });

  router.delete('/Sources/:id', async (req, res) => {
    requireSources(res);
    await deps.sources.delete(contextOf(res).accountId, req.params.id!, contextOf(res).principal, ifMatchVersion(req));
    sendScim(res, 204);
  });

  return router;
}
