import type { NextFunction, Request, Response, Router } from 'express';
import { DomainError } from '../domain/errors.js';

/**
 * Answers 405 with an Allow header (RFC 9110 §15.5.6) when a path the router serves gets another method, instead
 * of the catch-all 404 that says the endpoint does not exist. Mount after the path's own routes.
 */
export function refuseOtherMethods(router: Router, path: string | string[], allowed: string[]): void {
  router.all(path, (req: Request, res: Response, next: NextFunction) => {
    if (allowed.includes(req.method) || (req.method === 'HEAD' && allowed.includes('GET'))) {
      next();
      return;
    }
    res.setHeader('Allow', allowed.join(', '));
    throw new DomainError('methodNotAllowed', `${req.method} is not supported on ${req.path}; this endpoint accepts ${allowed.join(', ')}`);
  });
}
