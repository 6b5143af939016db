import type { IncomingMessage, ServerResponse } from 'node:http';
import fresh from 'fresh';
import { DomainError } from '../domain/errors.js';
import { URN } from './urns.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * RFC 7644 §3.8: application/scim+json unless the client's Accept names application/json and not
 * application/scim+json (service providers SHOULD support "Accept: application/json").
 */
function contentTypeFor(req: IncomingMessage | undefined): string {
  const accept = req?.headers.accept;
  if (accept === undefined || !accept.includes('application/json')) return SCIM_CONTENT_TYPE;
  return accept.includes('application/scim+json') ? SCIM_CONTENT_TYPE : JSON_CONTENT_TYPE;
}

export function errorBody(error: DomainError): Record<string, unknown> {
  return {
    schemas: [URN.error],
    status: String(error.status),
    ...(error.scimType ? { scimType: error.scimType } : {}),
    detail: error.detail,
  };
}

/**
 * Writes a SCIM response. Node's own request and response types (express's extend them): the hottest routes are
 * answered without express (src/http/direct-dispatch.ts), through this same function.
 */
export function sendScim(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  for (const name in headers) res.setHeader(name, headers[name]);
  res.statusCode = status;
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', contentTypeFor(res.req));
  sendJsonText(res, JSON.stringify(body));
}

/** express's `req.fresh`: a GET or HEAD whose validators match the response's ETag or Last-Modified. */
function isFresh(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const status = res.statusCode;
  if (!((status >= 200 && status < 300) || status === 304)) return false;
  return fresh(req.headers, { etag: res.getHeader('ETag') as string | undefined, 'last-modified': res.getHeader('Last-Modified') as string | undefined });
}

/**
 * What express's `res.send(text)` does for a string whose Content-Type is already set with its charset (304 when
 * the request is fresh, no body for HEAD, 204 and 304), minus its per-call costs: re-parsing the Content-Type,
 * copying the body into a Buffer (a string goes out in one write with the headers) and hashing it for an ETag (the
 * app sets none: SCIM resources carry theirs).
 */
function sendJsonText(res: ServerResponse, text: string): void {
  const req = res.req;
  if (!res.getHeader('Transfer-Encoding')) res.setHeader('Content-Length', String(Buffer.byteLength(text, 'utf8')));
  // Only a conditional request can be fresh; checking costs header parsing on every other one.
  if ((req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) && isFresh(req, res)) res.statusCode = 304;
  if (res.statusCode === 204 || res.statusCode === 304) {
    res.removeHeader('Content-Type');
    res.removeHeader('Content-Length');
    res.removeHeader('Transfer-Encoding');
    text = '';
  }
  if (req.method === 'HEAD') res.end();
  else res.end(text, 'utf8');
}

export function sendError(res: ServerResponse, error: DomainError): void {
  if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="switchboard"');
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
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
const header = (req: IncomingMessage, name: 'if-match' | 'if-none-match'): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

export function checkIfMatch(req: IncomingMessage, currentVersion: number): void {
  const condition = versionsIn(header(req, 'if-match'));
  if (!condition || condition.any) return;
  if (!condition.versions.includes(currentVersion)) {
    throw new DomainError('preconditionFailed', `The resource is at version ${etagOf(currentVersion)}; If-Match named ${header(req, 'if-match')}. Read it again and retry.`);
  }
}

/** The single version an If-Match names, to enforce under the row lock. */
export function ifMatchVersion(req: IncomingMessage): number | undefined {
  const condition = versionsIn(header(req, 'if-match'));
  if (!condition || condition.any) return undefined;
  if (condition.versions.length === 0) throw new DomainError('preconditionFailed', `If-Match ${header(req, 'if-match')} names no version of this resource`);
  return condition.versions[0];
}

export function notModified(req: IncomingMessage, currentVersion: number): boolean {
  const condition = versionsIn(header(req, 'if-none-match'));
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
