import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Router, type Request, type Response } from 'express';
import type { Logger } from '../lib/logger.js';

/**
 * The policy of every console response: scripts and styles only from our own origin (no inline code, so an
 * injected string can never run), the API on the same origin, no framing.
 */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface StaticFile {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

function load(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (sub: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else {
        const body = fs.readFileSync(path.join(dir, rel));
        const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
        files.set(`/${rel}`, { body, gzip: zlib.gzipSync(body, { level: 9 }), type: types[path.extname(rel)] ?? 'application/octet-stream', etag });
      }
    }
  };
  walk('');
  return files;
}

/**
 * Serves the built console (src/console/build.ts) from memory: `/` is index.html, never cached, so a new build is
 * picked up on the next load; `/assets/*` carry a content hash in their names and are cached for a year.
 * Compressed once at start (the whole console is a few files), sent gzipped to clients that accept it.
 */
export function consoleRouter(deps: { dir: string; logger: Logger }): Router {
  const router = Router();
  let files: Map<string, StaticFile>;
  try {
    files = load(deps.dir);
  } catch (error) {
    deps.logger.warn({ err: error, dir: deps.dir }, 'the admin console is not built (npm run build): / will answer 404');
    return router;
  }
  const send = (req: Request, res: Response, file: StaticFile, cache: string): void => {
    res.setHeader('Content-Type', file.type);
    res.setHeader('Cache-Control', cache);
    res.setHeader('ETag', file.etag);
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    if (req.headers['if-none-match'] === file.etag) {
      res.status(304).end();
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    const body = gzip ? file.gzip : file.body;
    res.setHeader('Content-Length', String(body.length));
    res.status(200).end(req.method === 'HEAD' ? undefined : body);
  };
  const index = files.get('/index.html');
  router.get(['/', '/index.html'], (req: Request, res: Response) => {
    if (index) send(req, res, index, 'no-cache');
    else res.status(404).end();
  });
  router.get('/assets/:name', (req: Request, res: Response, next) => {
    const file = files.get(`/assets/${String(req.params.name)}`);
    if (!file) return next();
    send(req, res, file, 'public, max-age=31536000, immutable');
  });
  return router;
}
