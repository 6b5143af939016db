import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { DomainError } from '../domain/errors.js';
import { checkJsonText } from '../lib/json-guard.js';

/**
 * Deepest nesting of arrays and objects a request body may have. SCIM resources nest three levels (a user's
 * extension, its complex attributes, their values); a PATCH or Bulk envelope adds three more.
 */
export const MAX_JSON_DEPTH = 32;

/** Headers every response carries (README Security). */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/** What the public HTML pages add: no framing, no scripts or styles from anywhere, never cached (the URL is a secret). */
export function setPageHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cache-Control', 'no-store');
}

const NUL_IN_URL = /%00|\u0000/i;

/** A refusal for the request line itself (a NUL in the path or the query), before any routing; undefined when fine. */
export function checkRequestLine(req: IncomingMessage): DomainError | undefined {
  const url = req.url ?? '/';
  if (NUL_IN_URL.test(url)) return new DomainError('invalidValue', 'The request path or query holds a NUL character (%00); remove it');
  return undefined;
}

/**
 * Node's middleware shape: express takes it as it is, and the direct dispatch (src/http/direct-dispatch.ts) runs
 * the same functions without express.
 */
export type NodeMiddleware = (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Refuses a JSON body nested deeper than MAX_JSON_DEPTH or holding a NUL in a string, before it is parsed. */
function verifyJson(_req: IncomingMessage, _res: ServerResponse, buffer: Buffer): void {
  const problem = checkJsonText(buffer, MAX_JSON_DEPTH);
  if (problem?.kind === 'depth') throw new DomainError('invalidSyntax', `The request body nests arrays and objects deeper than ${problem.limit} levels`);
  if (problem?.kind === 'nul') throw new DomainError('invalidValue', 'A string in the request body holds a NUL character (\\u0000); remove it');
}

/** A JSON body parser with the depth and NUL checks; `type` decides which requests it parses (default: application/json). */
export function jsonBody(limitBytes: number, options: { type?: (req: IncomingMessage) => boolean } = {}): NodeMiddleware {
  return express.json({ limit: limitBytes, strict: false, verify: verifyJson, ...(options.type ? { type: options.type } : {}) });
}

/**
 * A PATCH may carry at most `maxOperations` operations (SCIM_PATCH_MAX_OPERATIONS): 10,000 operations once took a
 * minute of one connection. Checked on the parsed body, before any operation is read.
 */
export function patchOperationsCap(maxOperations: number): NodeMiddleware {
  return (req, _res, next) => {
    if (req.method === 'PATCH' && req.body && typeof req.body === 'object' && !Array.isArray(req.body)) {
      const key = Object.keys(req.body as object).find((k) => k.toLowerCase() === 'operations');
      const operations = key === undefined ? undefined : (req.body as Record<string, unknown>)[key];
      if (Array.isArray(operations) && operations.length > maxOperations) {
        throw new DomainError('invalidValue', `The PATCH has ${operations.length} operations; the limit is ${maxOperations} operations per request: send them in several requests`);
      }
    }
    next();
  };
}
