import type { Request, Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { URN } from './urns.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

export function errorBody(error: DomainError): Record<string, unknown> {
  return {
    schemas: [URN.error],
    status: String(error.status),
    ...(error.scimType ? { scimType: error.scimType } : {}),
    detail: error.detail,
  };
}

export function sendScim(res: Response, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  for (const name in headers) res.setHeader(name, headers[name]);
  if (body === undefined) {
    res.status(status).end();
    return;
  }
  res.status(status).setHeader('Content-Type', SCIM_CONTENT_TYPE);
  sendJsonText(res, JSON.stringify(body));
}

/**
 * What express's `res.send(text)` does for a string whose Content-Type is already set with its charset (ETag from
 * the app's etag function when none is set, 304 when the request is fresh, no body for HEAD, 204 and 304), minus
 * its per-call costs: re-parsing the Content-Type and copying the body into a Buffer (a string goes out in one
 * write with the headers).
 */
function sendJsonText(res: Response, text: string): void {
  const req = res.req;
  const etagFn = res.app.get('etag fn') as ((body: string, encoding: BufferEncoding) => string | undefined) | undefined;
  const generateETag = !res.getHeader('ETag') && typeof etagFn === 'function';
  if (!res.getHeader('Transfer-Encoding')) res.setHeader('Content-Length', String(Buffer.byteLength(text, 'utf8')));
  if (generateETag) {
    const etag = etagFn(text, 'utf8');
    if (etag) res.setHeader('ETag', etag);
  }
  if (req.fresh) res.statusCode = 304;
  if (res.statusCode === 204 || res.statusCode === 304) {
    res.removeHeader('Content-Type');
    res.removeHeader('Content-Length');
    res.removeHeader('Transfer-Encoding');
    text = '';
  }
  if (req.method === 'HEAD') res.end();
  else res.end(text, 'utf8');
}

export function sendError(res: Response, error: DomainError): void {
  if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="switchboard"');
  sendScim(res, error.status, errorBody(error));
}

export const etagOf = (version: number): string => `W/"${version}"`;

/**
 * The version an If-Match / If-None-Match header names: a number, '*' for any, undefined when absent.
 * Weak and strong forms both compare by version (RFC 7232 weak comparison is what SCIM clients expect).
 */
export function versionsIn(header: string | undefined): { any: boolean; versions: number[] } | undefined {
  if (!header) return undefined;
  if (header.trim() === '*') return { any: true, versions: [] };
  const versions: number[] = [];
  for (const part of header.split(',')) {
    const match = /^\s*(?:W\/)?"(\d+)"\s*$/.exec(part);
    if (match) versions.push(Number(match[1]));
  }
  return { any: false, versions };
}

/** Precondition for writes: If-Match that matches no current version → 412. */
export function checkIfMatch(req: Request, currentVersion: number): void {
  const condition = versionsIn(req.get('If-Match'));
  if (!condition || condition.any) return;
  if (!condition.versions.includes(currentVersion)) {
    throw new DomainError('preconditionFailed', `The resource is at version ${etagOf(currentVersion)}; If-Match named ${req.get('If-Match')}. Read it again and retry.`);
  }
}

/** The single version an If-Match names, to enforce under the row lock. */
export function ifMatchVersion(req: Request): number | undefined {
  const condition = versionsIn(req.get('If-Match'));
  if (!condition || condition.any) return undefined;
  if (condition.versions.length === 0) throw new DomainError('preconditionFailed', `If-Match ${req.get('If-Match')} names no version of this resource`);
  return condition.versions[0];
}

export function notModified(req: Request, currentVersion: number): boolean {
  const condition = versionsIn(req.get('If-None-Match'));
  if (!condition) return false;
  return condition.any || condition.versions.includes(currentVersion);
}

export function listResponse(resources: unknown[], totalResults: number, startIndex: number | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemas: [URN.listResponse],
    totalResults,
    itemsPerPage: resources.length,
    ...(startIndex !== undefined ? { startIndex } : {}),
    ...extra,
    Resources: resources,
  };
}
