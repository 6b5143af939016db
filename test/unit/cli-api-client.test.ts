/**
 * The CLI's client (src/cli/api-client.ts) against a real HTTP server: a SCIM request and a raw one go through one
 * path, so an error answer that is not JSON (a proxy's HTML page) is an ApiError with its text, not a JSON parse failure.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { ApiClient, ApiError } from '../../src/cli/api-client.js';

describe('CLI API client', () => {
  let server: http.Server;
  let url: string;
  const seen: { method?: string; authorization?: string; contentType?: string; accept?: string; body: string }[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, authorization: req.headers.authorization, contentType: req.headers['content-type'], accept: req.headers.accept, body });
        if (req.url === '/proxy-error') {
          res.writeHead(502, { 'Content-Type': 'text/html' }).end('<html><body>Bad Gateway</body></html>');
        } else if (req.url === '/scim-error') {
          res.writeHead(400, { 'Content-Type': 'application/scim+json' }).end(JSON.stringify({ status: '400', detail: 'name is required' }));
        } else if (req.method === 'DELETE') {
          res.writeHead(204).end();
        } else {
          res.writeHead(200, { 'Content-Type': 'application/scim+json' }).end(JSON.stringify({ echoed: body === '' ? null : JSON.parse(body) }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('when a SCIM request succeeds, then it sends the token and JSON and answers the parsed body (none for 204)', async () => {
    const client = new ApiClient({ url, token: 'sb_token' });
    expect(await client.request('POST', '/x', { name: 'n' })).to.deep.equal({ echoed: { name: 'n' } });
    expect(seen.at(-1)).to.deep.equal({ method: 'POST', authorization: 'Bearer sb_token', contentType: 'application/scim+json', accept: 'application/scim+json', body: '{"name":"n"}' });
    expect(await client.request('DELETE', '/x')).to.equal(undefined);
    expect(seen.at(-1)?.contentType).to.equal(undefined);
  });

  it('when the answer is an error, then the request fails with an ApiError carrying the SCIM body, or the text of a body that is not JSON', async () => {
    const client = new ApiClient({ url, token: 'sb_token' });
    const scim = await client.request('GET', '/scim-error').catch((error: unknown) => error);
    expect(scim).to.be.instanceOf(ApiError);
    expect((scim as ApiError).message).to.equal('HTTP 400: name is required');
    const proxy = await client.request('GET', '/proxy-error').catch((error: unknown) => error);
    expect(proxy).to.be.instanceOf(ApiError);
    expect((proxy as ApiError).status).to.equal(502);
    expect((proxy as ApiError).body).to.equal('<html><body>Bad Gateway</body></html>');
  });

  it('when no token is configured, then the request fails saying how to give one, before sending anything', async () => {
    const before = seen.length;
    const error = await new ApiClient({ url, token: undefined }).request('GET', '/x').catch((e: unknown) => e);
    expect((error as Error).message).to.equal('No token: pass --token or set SWITCHBOARD_TOKEN');
    expect(seen.length).to.equal(before);
  });
});
