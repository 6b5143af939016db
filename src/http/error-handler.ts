import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '../domain/errors.js';
import type { Logger } from '../lib/logger.js';
import { sendError } from '../scim/scim-http.js';
import { databaseFault, RequestAbandonedError } from '../db/database-errors.js';

/** What a client is told to wait when the database cannot answer. */
const RETRY_AFTER_SECONDS = 5;

/** The answer to a request the server could not serve before it stopped: retry, here after a restart or elsewhere. */
export function shuttingDown(): DomainError {
  return new DomainError('unavailable', 'The server is shutting down; retry the request', { retryAfterSeconds: RETRY_AFTER_SECONDS });
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

/** Postgres errors that mean the input was wrong, not the server. */
function fromDatabase(error: { code?: string; constraint?: string; detail?: string }): DomainError | undefined {
  switch (error.code) {
    case '23505':
      return new DomainError('uniqueness', `One or more of the attribute values are already in use${error.constraint ? ` (${error.constraint})` : ''}`);
    case '22P02':
    case '22007':
    case '22008':
      return new DomainError('invalidValue', 'A value has the wrong format');
    case '40001':
    case '40P01':
      return new DomainError('conflict', 'A concurrent change conflicted with this one; retry the request');
    // A NUL in a string (from any path that reached the database without the edge's check): text cannot hold it.
    case '22021':
    case '22P05':
      return new DomainError('invalidValue', 'A value holds a NUL character or an invalid byte sequence; remove it');
    // A value longer than its column or index allows (a limit of the schema missed elsewhere).
    case '22001':
    case '54000':
      return new DomainError('invalidValue', 'A value is longer than the attribute allows');
    default:
      return undefined;
  }
}

/** The last resort: every error leaves as a SCIM error body, and nothing internal leaks into it. */
export function respondWithError(logger: Logger, error: unknown, req: IncomingMessage, res: ServerResponse, requestId: string): void {
  // Nobody is left to answer.
  if (error instanceof RequestAbandonedError) {
    res.destroy();
    return;
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  if (error instanceof DomainError) {
    sendError(res, error);
    return;
  }
  const parserError = error as BodyParserError;
  if (parserError.type === 'entity.too.large') {
    sendError(res, new DomainError('payloadTooLarge', `The request body is larger than the limit of ${parserError.limit ?? 'the configured'} bytes`));
    return;
  }
  if (parserError.type === 'entity.parse.failed') {
    sendError(res, new DomainError('invalidSyntax', `The request body is not valid JSON: ${parserError.message}`));
    return;
  }
  if (parserError.type === 'encoding.unsupported' || parserError.type === 'charset.unsupported') {
    sendError(res, new DomainError('invalidSyntax', parserError.message));
    return;
  }
  // express's router fails to decode a path parameter with a URIError (e.g. /Users/%E0%A4%A): the client's fault.
  if (error instanceof URIError) {
    sendError(res, new DomainError('invalidSyntax', `The request path has a malformed percent-encoding: ${req.url ?? ''}`));
    return;
  }
  const fromDb = fromDatabase(error as { code?: string });
  if (fromDb) {
    sendError(res, fromDb);
    return;
  }
  const fault = databaseFault(error);
  if (fault === 'statementTimeout') {
    sendError(res, new DomainError('unavailable', 'The request took longer than the statement timeout (STATEMENT_TIMEOUT_MS) allows; narrow the filter or retry later', { retryAfterSeconds: RETRY_AFTER_SECONDS }));
    return;
  }
  if (fault === 'unavailable') {
    logger.warn({ requestId, method: req.method, err: { message: (error as Error).message, code: (error as { code?: unknown }).code } }, 'database unavailable');
    sendError(res, new DomainError('unavailable', 'The database is unavailable; retry later', { retryAfterSeconds: RETRY_AFTER_SECONDS }));
    return;
  }
  logger.error({ err: error, requestId, method: req.method, path: (req.url ?? '/').split('?')[0] }, 'unhandled error');
  sendError(res, new DomainError('internal', `Internal error; quote request id ${requestId} when reporting it`));
}

/** respondWithError as express's error middleware. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    respondWithError(logger, error, req, res, String(res.locals.requestId ?? ''));
  };
}
