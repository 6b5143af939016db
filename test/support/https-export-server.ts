/**
 * A local HTTPS web share for file-connector tests and benches: a self-signed certificate generated per start
 * (selfsigned), files served from memory with an ETag and Last-Modified, 304 for a matching If-None-Match or
 * If-Modified-Since, and optional bearer or basic credentials. `requests` lists what was asked.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';

export interface ExportServer {
  url(path: string): string;
  caCertPem: string;
  put(path: string, content: string | Buffer, lastModified?: Date): void;
  /** Every request: path, status answered, and the conditional headers sent. */
  requests: Array<{ path: string; status: number; ifNoneMatch?: string; ifModifiedSince?: string; authorization?: string }>;
  stop(): Promise<void>;
}

export interface ExportServerOptions {
  bearerToken?: string;
  basic?: { user: string; password: string };
}

export async function startExportServer(options: ExportServerOptions = {}): Promise<ExportServer> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const files = new Map<string, { body: Buffer; etag: string; lastModified: Date }>();
  const requests: ExportServer['requests'] = [];
  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    const entry = { path, status: 200, ifNoneMatch: req.headers['if-none-match'], ifModifiedSince: req.headers['if-modified-since'], authorization: req.headers.authorization };
    requests.push(entry);
    const answer = (status: number, headers: Record<string, string> = {}, body?: Buffer) => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    const expected = options.bearerToken
      ? `Bearer ${options.bearerToken}`
      : options.basic ? `Basic ${Buffer.from(`${options.basic.user}:${options.basic.password}`).toString('base64')}` : undefined;
    if (expected && req.headers.authorization !== expected) return answer(401, { 'www-authenticate': options.bearerToken ? 'Bearer' : 'Basic' });
    const file = files.get(path);
    if (!file) return answer(404);
    const headers = { etag: file.etag, 'last-modified': file.lastModified.toUTCString(), 'content-type': 'text/csv' };
    if (req.headers['if-none-match'] === file.etag) return answer(304, headers);
    const since = req.headers['if-modified-since'] ? Date.parse(req.headers['if-modified-since']) : NaN;
    if (!req.headers['if-none-match'] && !Number.isNaN(since) && Math.floor(file.lastModified.getTime() / 1000) * 1000 <= since) return answer(304, headers);
    answer(200, { ...headers, 'content-length': String(file.body.length) }, file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `https://127.0.0.1:${port}${path}`,
    caCertPem: pems.cert,
    put(path, content, lastModified = new Date()) {
      const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
      files.set(path, { body, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`, lastModified });
    },
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
