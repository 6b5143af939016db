import express, { Router, type Request, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { sendError } from '../scim/scim-http.js';
import { SIGN_IN_REFUSED, type OpenSession, type SessionService } from '../services/session-service.js';
import { isHttps, sessionCookie, sessionOf } from './session-auth.js';

export interface SessionRouterDeps {
  sessions: SessionService;
  publicUrl: string | undefined;
}

const describe = (s: OpenSession) => ({
  id: s.id,
  accountId: s.principal.accountId,
  accountType: s.principal.accountType,
  role: s.principal.role,
  userId: s.userId,
  csrfToken: s.csrfToken,
  expiresAt: s.expiresAt.toISOString(),
});

/**
 * Sign-in and sign-out for the console, at /console/session: the only routes the console has beside the public
 * SCIM API, and they only open and close the session (the data all comes from SCIM).
 */
export function sessionRouter(deps: SessionRouterDeps): Router {
  const router = Router();
  const json = express.json({ limit: '16kb' });

  router.get('/console/session', async (req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    // Signed out is a normal state of the page, not an error: 200 with signedIn false.
    const session = await sessionOf(deps.sessions, req, deps.publicUrl, false).catch(() => undefined);
    res.json(session ? { signedIn: true, ...describe(session) } : { signedIn: false });
  });

  router.post('/console/session', json, async (req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    // Only JSON: a cross-site HTML form cannot send it, so no page can sign a browser in to someone else's account.
    if (!req.is('application/json')) return sendError(res, new DomainError('invalidSyntax', 'Sign in with a JSON body {"email", "password"} or {"token"}'));
    const body = (req.body ?? {}) as Record<string, unknown>;
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    let result;
    if (typeof body.token === 'string' && body.token) result = await deps.sessions.signInWithToken(body.token, address);
    else if (typeof body.email === 'string' && typeof body.password === 'string' && body.email && body.password) {
      result = await deps.sessions.signIn(body.email, body.password, address);
    } else return sendError(res, new DomainError('invalidValue', 'Enter your email and password'));
    if (!result.ok) {
      if (result.reason === 'backoff') {
        res.setHeader('Retry-After', String(result.retryAfterSeconds));
        res.status(429).type('application/scim+json').json({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
          status: '429',
          detail: `Too many failed sign-ins: try again in ${result.retryAfterSeconds} seconds`,
        });
        return;
      }
      return sendError(res, new DomainError('unauthorized', SIGN_IN_REFUSED));
    }
    const maxAge = Math.max(1, Math.floor((result.session.expiresAt.getTime() - Date.now()) / 1000));
    res.setHeader('Set-Cookie', sessionCookie(result.secret, isHttps(req, deps.publicUrl), maxAge));
    res.status(201).json({ signedIn: true, ...describe(result.session) });
  });

  router.delete('/console/session', async (req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    let session: OpenSession | undefined;
    try {
      session = await sessionOf(deps.sessions, req, deps.publicUrl, true);
    } catch (error) {
      // A session that has already ended signs out by clearing its cookie; a missing CSRF token is still refused.
      if (!(error instanceof DomainError && error.kind === 'unauthorized')) throw error;
    }
    if (session) await deps.sessions.signOut(session);
    res.setHeader('Set-Cookie', sessionCookie('', isHttps(req, deps.publicUrl), 0));
    res.status(204).end();
  });
  return router;
}
