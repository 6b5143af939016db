import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { ConnectorError, createHttpClient, HttpError, retryAfterMs } from './index.js';

describe('connectors/sdk http-client', () => {
  let server: Server;
  let baseUrl: string;
  let replies: Array<{ status: number; headers?: Record<string, string>; body?: string; delayMs?: number }>;
  let hits: number;

  beforeEach(async () => {
    hits = 0;
    replies = [];
    server = createServer((req, res) => {
      hits++;
      const reply = replies.shift() ?? { status: 200, body: '{}' };
      setTimeout(() => {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body ?? '');
      }, reply.delayMs ?? 0);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('when the server answers 429 with Retry-After, then the client waits that long and retries', async () => {
    replies = [{ status: 429, headers: { 'retry-after': '2' } }, { status: 200, body: '{"ok":true}' }];
    const waits: number[] = [];
    const client = createHttpClient({ baseUrl, sleep: async (ms) => void waits.push(ms) });
    const response = await client.request<{ ok: boolean }>('users', { query: { top: 5 } });
    expect(response.data).to.deep.equal({ ok: true });
    expect(waits).to.deep.equal([2000]);
    expect(hits).to.equal(2);
  });

  it('when the server answers 401, then the error is a ConnectorError of kind auth', async () => {
    replies = [{ status: 401, body: '{"error":"bad token"}' }];
    const client = createHttpClient({ baseUrl });
    const error = await client.request('users').then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(HttpError);
    expect((error as HttpError).kind).to.equal('auth');
    expect((error as HttpError).status).to.equal(401);
  });

  it('when the server does not answer in time, then the error is a ConnectorError of kind network', async () => {
    replies = [{ status: 200, delayMs: 500 }];
    const client = createHttpClient({ baseUrl, timeoutMs: 50, maxRetries: 0 });
    const error = await client.request('users').then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(ConnectorError);
    expect((error as ConnectorError).kind).to.equal('network');
    expect((error as ConnectorError).message).to.match(/no answer within 50 ms/);
  });

  it('when Retry-After is an HTTP date, then the delay is the time until that date', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(retryAfterMs('Mon, 01 Jan 2024 00:00:10 GMT', now)).to.equal(10_000);
    expect(retryAfterMs('soon', now)).to.equal(undefined);
  });
});
