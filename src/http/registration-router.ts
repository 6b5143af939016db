import express, { Router, type Request, type Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { escapeHtml } from '../services/mail/mail-templates.js';
import type { LinkPurpose, RegistrationService } from '../services/registration-service.js';
import type { RateLimits } from './rate-limits.js';
import { jsonBody, setPageHeaders } from './request-guards.js';

function refuseEncodedNul(_req: unknown, _res: unknown, buffer: Buffer): void {
  if (/%00/i.test(buffer.toString('latin1'))) throw new DomainError('invalidValue', 'A form field holds a NUL character (%00); remove it');
}

function page(title: string, body: string): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body>\n<h1>${escapeHtml(title)}</h1>\n${body}\n</body></html>\n`;
}

const titles: Record<LinkPurpose, string> = { register: 'Complete your registration', reset: 'Choose a new password' };

/** Public (unauthenticated) pages behind the one-time links: GET shows a form, POST sets the password. */
export function registrationRouter(deps: { registration: RegistrationService; limits: RateLimits }): Router {
  const router = Router();
  // The links are secrets guessed only by trying: every request to the pages counts against the client's address.
  for (const purpose of ['register', 'reset'] as const) {
    router.use(`/${purpose}`, async (req: Request, res: Response, next) => {
      setPageHeaders(res);
      try {
        await deps.limits.linkPage(req);
      } catch (error) {
        if (error instanceof DomainError && error.retryAfterSeconds !== undefined) {
          res.status(429).setHeader('Retry-After', String(error.retryAfterSeconds));
          res.type('html').send(page('Too many requests', `<p>${escapeHtml(error.detail)}</p>`));
          return;
        }
        throw error;
      }
      next();
    });
  }
  const gone = (res: Response, reason: string) => {
    res.status(410).type('html').send(page('Link no longer valid', `<p>${escapeHtml(reason)}</p><p>Ask your administrator to send you a new one.</p>`));
  };
  for (const purpose of ['register', 'reset'] as const) {
    router.get(`/${purpose}/:token`, async (req: Request, res: Response) => {
      const found = await deps.registration.check(String(req.params.token), purpose);
      if (found.state !== 'valid') return gone(res, found.reason);
      res
        .status(200)
        .type('html')
        .send(
          page(
            titles[purpose],
            `<form method="post"><label>Password <input type="password" name="password" minlength="8" required autocomplete="new-password"></label> <button type="submit">Save</button></form>`,
          ),
        );
    });
    router.post(`/${purpose}/:token`, express.urlencoded({ extended: false, verify: refuseEncodedNul }), jsonBody(100 * 1024), async (req: Request, res: Response) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const password = typeof body.password === 'string' ? body.password : '';
      const check = await deps.registration.check(String(req.params.token), purpose);
      if (check.state !== 'valid') return gone(res, check.reason);
      let result;
      try {
        result = await deps.registration.consume(String(req.params.token), purpose, password);
      } catch (error) {
        if (error instanceof DomainError && error.status === 400) {
          res.status(400).type('html').send(page(titles[purpose], `<p>${escapeHtml(error.detail)}</p>`));
          return;
        }
        throw error;
      }
      if (result.state !== 'valid') return gone(res, result.reason);
      res.status(200).type('html').send(page('Password saved', '<p>Your password has been saved. You can now sign in.</p>'));
    });
  }
  return router;
}
