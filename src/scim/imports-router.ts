/**
 * /Imports: POST a CSV of users (Content-Type: text/csv, streamed to a file first, at most IMPORT_MAX_BYTES),
 * GET /Imports (newest first), GET /Imports/{id} (with per-row results), GET /Imports/{id}/report (text/csv: the
 * input with Line, Outcome and Reason) and GET /Imports/template (the header row). The body is not JSON: the app
 * leaves text/csv bodies to this router.
 */
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Router, type Request, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { hasCapability, writerOf } from '../domain/principal.js';
import { escapeCell, headerKey, reportColumns, templateHeader } from '../domain/user-csv.js';
import type { ImportRow, StoredImport } from '../db/imports-repo.js';
import { contextOf } from '../http/request-context.js';
import { NO_LINK_BASE } from '../services/action-service.js';
import { spoolBody } from '../http/spool-body.js';
import { formatCsvRow } from '../lib/csv.js';
import type { ImportService } from '../services/import-service.js';
import { IMPORT_URN } from '../domain/import-schema.js';
import { parseListParams } from './list-params.js';
import { listResponse, sendScim } from './scim-http.js';

export { IMPORT_URN };

const CSV_TYPES = new Set(['text/csv', 'application/csv']);

/** The media type and charset of a request, lower-cased; undefined without a Content-Type. */
export function csvBodyOf(contentType: string | undefined): { csv: boolean; charset?: string } {
  if (!contentType) return { csv: false };
  const [type, ...params] = contentType.split(';').map((p) => p.trim());
  const charset = params.map((p) => /^charset\s*=\s*"?([^";]+)"?$/i.exec(p)?.[1]).find((c) => c !== undefined);
  return { csv: CSV_TYPES.has(type!.toLowerCase()), ...(charset ? { charset } : {}) };
}

function flag(query: Record<string, unknown>, name: string): boolean {
  const key = Object.keys(query).find((k) => k.toLowerCase() === name.toLowerCase());
  const raw = key === undefined ? undefined : query[key];
  if (raw === undefined || raw === '') return false;
  if (typeof raw === 'string' && /^(true|false)$/i.test(raw)) return raw.toLowerCase() === 'true';
  throw new DomainError('invalidValue', `${name} must be true or false, got "${String(raw)}"`);
}

function modeOf(query: Record<string, unknown>): 'upsert' | 'create' {
  const key = Object.keys(query).find((k) => k.toLowerCase() === 'mode');
  const raw = key === undefined ? undefined : query[key];
  if (raw === undefined || raw === '' || raw === 'upsert') return 'upsert';
  if (raw === 'create') return 'create';
  throw new DomainError('invalidValue', `mode must be upsert (the default: existing users, matched by email, are updated) or create, got "${String(raw)}"`);
}

export function toImportResource(imp: StoredImport, scimBase: string, results?: readonly ImportRow[]): Record<string, unknown> {
  const location = `${scimBase}/Imports/${imp.id}`;
  return {
    schemas: [IMPORT_URN],
    id: imp.id,
    status: imp.status,
    dryRun: imp.dryRun,
    mode: imp.mode,
    sendWelcomeEmail: imp.sendWelcomeEmail,
    ...(imp.error ? { error: imp.error } : {}),
    counts: imp.counts,
    ...(results
      ? { results: results.map((r) => ({ line: r.line, ...(r.email ? { email: r.email } : {}), outcome: r.outcome, ...(r.reason ? { reason: r.reason } : {}), ...(r.userId ? { userId: r.userId } : {}) })) }
      : {}),
    report: `${location}/report`,
    ...(imp.createdBy ? { createdBy: imp.createdBy } : {}),
    created: imp.createdAt.toISOString(),
    ...(imp.completedAt ? { completed: imp.completedAt.toISOString() } : {}),
    meta: { resourceType: 'Import', created: imp.createdAt.toISOString(), lastModified: imp.updatedAt.toISOString(), location },
  };
}

const PAGE = 5000;

/** Writes a chunk, waiting when the socket's buffer is full: a large report streams in constant memory. */
async function write(res: ServerResponse, text: string): Promise<void> {
  if (!res.write(text)) await once(res, 'drain');
}

function startCsv(res: ServerResponse, fileName: string): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${fileName}"`);
}

/** `linkBase`: config.linkBase; without it an import that would mail welcome links is refused with 409. */
export function importsRouter(deps: { imports: ImportService; maxBytes: number; maxResults: number; linkBase: string | undefined }): Router {
  const router = Router({ mergeParams: true });
  const requireAdmin = (res: Response) => {
    // Imports write as the admin who imports (the Add User form's rules): admin tokens only.
    if (!hasCapability(contextOf(res).principal, 'actions')) throw new DomainError('forbidden', 'This token cannot import users; an admin token can');
  };
  const allResults = async (accountId: string, id: string): Promise<ImportRow[]> => {
    const out: ImportRow[] = [];
    for (let after = 0; ; ) {
      const page = await deps.imports.rows(accountId, id, after, PAGE);
      out.push(...page);
      if (page.length < PAGE) return out;
      after = page[page.length - 1]!.line;
    }
  };
  const wantsResults = (req: Request) => !parseListParams(req.query as Record<string, unknown>, 1).excludedAttributes.some((a) => a.toLowerCase() === 'results');

  router.get('/Imports/template', (_req, res) => {
    requireAdmin(res);
    startCsv(res, 'users-import-template.csv');
    res.end(formatCsvRow(templateHeader));
  });

  router.post('/Imports', async (req, res) => {
    requireAdmin(res);
    const { accountId, principal, scimBase } = contextOf(res);
    const query = req.query as Record<string, unknown>;
    const body = csvBodyOf(req.headers['content-type']);
    if (!body.csv) {
      req.resume();
      throw new DomainError('unsupportedMediaType', 'Send the file as the request body with Content-Type: text/csv (GET /Imports/template gives the header row)');
    }
    const options = {
      dryRun: flag(query, 'dryRun'), sendWelcomeEmail: flag(query, 'sendWelcomeEmail'), mode: modeOf(query), ignoreUnknownColumns: flag(query, 'ignoreUnknownColumns'),
    };
    if (options.sendWelcomeEmail && !options.dryRun && !deps.linkBase) {
      req.resume();
      throw new DomainError('conflict', NO_LINK_BASE);
    }
    const spooled = await spoolBody(req, deps.maxBytes);
    const imp = await deps.imports.start({
      accountId, actor: writerOf(principal), open: () => createReadStream(spooled.path, { highWaterMark: 256 * 1024 }), release: spooled.release,
      ...(body.charset ? { charset: body.charset } : {}), ...options,
    });
    const running = imp.status === 'running';
    const results = running || !wantsResults(req) ? undefined : await allResults(accountId, imp.id);
    sendScim(res, running ? 202 : 201, toImportResource(imp, scimBase, results), { Location: `${scimBase}/Imports/${imp.id}` });
  });

  router.get('/Imports', async (req, res) => {
    requireAdmin(res);
    const { accountId, scimBase } = contextOf(res);
    const params = parseListParams(req.query as Record<string, unknown>, deps.maxResults);
    if (params.filter) throw new DomainError('invalidFilter', 'Imports are listed newest first without a filter');
    const page = await deps.imports.list(accountId, { offset: params.startIndex - 1, limit: params.count });
    sendScim(res, 200, listResponse(page.imports.map((i) => toImportResource(i, scimBase)), page.total, params.startIndex));
  });

  router.get('/Imports/:id', async (req, res) => {
    requireAdmin(res);
    const { accountId, scimBase } = contextOf(res);
    const imp = await deps.imports.get(accountId, req.params.id!);
    sendScim(res, 200, toImportResource(imp, scimBase, wantsResults(req) ? await allResults(accountId, imp.id) : undefined));
  });

  router.get('/Imports/:id/report', async (req, res) => {
    requireAdmin(res);
    const { accountId } = contextOf(res);
    const imp = await deps.imports.get(accountId, req.params.id!);
    // A report imported back and reported again keeps one Line, Outcome and Reason: the new ones.
    const reportKeys = new Set(reportColumns.map(headerKey));
    const kept = imp.header.map((h, i) => (reportKeys.has(headerKey(h)) ? -1 : i)).filter((i) => i !== -1);
    const width = imp.header.length;
    startCsv(res, `import-${imp.id}-report.csv`);
    await write(res, formatCsvRow([...kept.map((i) => imp.header[i]!), ...reportColumns].map(escapeCell), imp.delimiter));
    for (let after = 0; ; ) {
      const page = await deps.imports.rows(accountId, imp.id, after, PAGE);
      let text = '';
      for (const row of page) {
        const cells = kept.map((i) => (i < width ? (row.cells[i] ?? '') : ''));
        text += formatCsvRow([...cells, String(row.line), row.outcome, row.reason ?? ''].map(escapeCell), imp.delimiter);
      }
      if (text !== '') await write(res, text);
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.line;
    }
    res.end();
  });
  return router;
}
