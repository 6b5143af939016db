import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatch } from './dispatch.js';
import { markInternal } from './internal-request.js';

/**
 * Replays a request through the app over a private loopback listener, started on first use and unref'd.
 * In-process request injection (light-my-request) corrupts express 5's outer response socket, so bulk
 * operations take a real, local HTTP round trip instead: each gets exactly its own endpoint's behaviour.
 */
export function loopbackDispatch(app: http.RequestListener): Dispatch {
  let listening: Promise<number> | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const port = () =>
    (listening ??= new Promise<number>((resolve, reject) => {
      const server = http.createServer((req, res) => {
        markInternal(req);
        app(req, res);
      });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.unref();
        resolve((server.address() as AddressInfo).port);
      });
    }));
  return async (request) => {
    const target = await port();
    const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: target, method: request.method, path: request.url, agent, headers: { ...request.headers, ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 500, headers: res.headers as Record<string, string>, body: text ? (JSON.parse(text) as unknown) : undefined });
          });
        },
      );
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  };
}
