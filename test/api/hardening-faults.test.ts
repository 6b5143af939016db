/**
 * Issue 13 items 18-20 on a real listening server: the database going away answers 503 with Retry-After (never
 * 500), SIGTERM drains in-flight requests and closes idle keep-alive connections at once, and slow clients
 * cannot hold a socket past the header and body timeouts.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { createLogger, silentLogger, type Logger } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createAccountWithToken, createTestApp, OPERATOR_TOKEN } from '../support/test-app.js';
import { createTestDatabase, takeAwayDatabase, testDatabaseKind, type TestDatabase } from '../support/test-database.js';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

async function serve(env: Record<string, string> = {}, logger: Logger = silentLogger): Promise<{ server: RunningServer; db: TestDatabase }> {
  const db = await createTestDatabase();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: '/tmp/switchboard-test-unused', SWITCHBOARD_BOOTSTRAP_TOKEN: OPERATOR_TOKEN, SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', ...env });
  const server = await startServer(config, { db, logger }, () => {});
  return { server, db };
}

/** Opens a raw socket and resolves with how long it took the server to close it, and what it answered. */
function heldFor(port: number, drip: (socket: net.Socket) => void): Promise<{ ms: number; reply: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let reply = '';
    const socket = net.connect(port, '127.0.0.1', () => drip(socket));
    socket.on('data', (chunk) => (reply += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ ms: Date.now() - started, reply }));
  });
}

describe(`hardening: faults (${testDatabaseKind})`, () => {
  it('when the database goes away while running, then every request answers 503 with Retry-After and a SCIM error, unknown tokens too', async function () {
    this.timeout(180_000);
    const t = await createTestApp();
    const a = await createAccountWithToken(t, { name: 'Outage', type: 'customer' });
    await takeAwayDatabase(t.db);
    try {
      for (const token of [a.token, 'sb_unknown_token_that_cannot_be_checked']) {
        for (const path of ['/scim/v2/Users', '/scim/v2/Groups?filter=displayName%20eq%20%22x%22', '/scim/v2/Users/00000000-0000-4000-8000-000000000000']) {
          const res = await t.request.get(path).set('Authorization', `Bearer ${token}`);
          expect(res.status, `${path}: ${JSON.stringify(res.body)}`).to.equal(503);
          expect(Number(res.headers['retry-after'])).to.be.greaterThan(0);
          expect(res.body.schemas).to.deep.equal([ERROR]);
          expect(res.body.detail).to.match(/database is unavailable/);
        }
      }
      expect((await t.request.get('/readyz')).status).to.equal(503);
    } finally {
      await t.deps.close().catch(() => undefined);
    }
  });

  describe('a listening server', () => {
    let s: { server: RunningServer; db: TestDatabase } | undefined;
    afterEach(async () => {
      await s?.server.stop().catch(() => undefined);
      await s?.db.close().catch(() => undefined);
      s = undefined;
    });

    it('when a client sends its headers a byte at a time, then the connection is closed after HEADERS_TIMEOUT_MS', async () => {
      s = await serve({ HEADERS_TIMEOUT_MS: '1000', BODY_TIMEOUT_MS: '1000' });
      const port = Number(new URL(s.server.url).port);
      const text = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000);
      const { ms, reply } = await heldFor(port, (socket) => {
        let i = 0;
        const timer = setInterval(() => (socket.destroyed || i >= text.length ? clearInterval(timer) : socket.write(text[i++])), 100);
      });
      expect(ms).to.be.below(4000);
      expect(reply).to.match(/^HTTP\/1\.1 408/);
    });

    it('when a client stops sending its body, then the connection is closed after BODY_TIMEOUT_MS without progress', async () => {
      s = await serve({ HEADERS_TIMEOUT_MS: '1000', BODY_TIMEOUT_MS: '1000' });
      const port = Number(new URL(s.server.url).port);
      const { ms } = await heldFor(port, (socket) => {
        socket.write(`POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR_TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: 500\r\n\r\n{"sch`);
      });
      expect(ms).to.be.below(4000);
    });

    it('when one keep-alive connection carries many requests with bodies, then the body timer leaves no listener behind (no MaxListenersExceededWarning)', async () => {
      s = await serve({ BODY_TIMEOUT_MS: '1000' });
      const port = Number(new URL(s.server.url).port);
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on('warning', onWarning);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const sockets = new Set<net.Socket>();
      try {
        for (let i = 0; i < 15; i++) {
          const status = await new Promise<number | undefined>((resolve, reject) => {
            const req = http.request({ port, host: '127.0.0.1', path: '/scim/v2/Accounts', method: 'POST', agent, headers: { Authorization: `Bearer ${OPERATOR_TOKEN}`, 'Content-Type': 'application/scim+json' } }, (res) => {
              sockets.add(res.socket);
              res.resume();
              res.on('end', () => resolve(res.statusCode));
            });
            req.on('error', reject);
            req.end(JSON.stringify({ name: `Keep-alive ${i}` }));
          });
          expect(status).to.equal(400);
        }
        await new Promise((r) => setImmediate(r));
        expect(sockets.size).to.equal(1);
        expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).to.deep.equal([]);
      } finally {
        process.off('warning', onWarning);
        agent.destroy();
      }
    });

    it('when SIGTERM arrives (stop), then idle keep-alive connections close at once, a request in flight is answered with Connection: close, and the server stops right after', async () => {
      s = await serve();
      const port = Number(new URL(s.server.url).port);
      // An idle keep-alive connection.
      const agent = new http.Agent({ keepAlive: true });
      const idle = await new Promise<{ status: number | undefined; socket: net.Socket }>((resolve) => {
        http.get({ port, host: '127.0.0.1', path: '/healthz', agent }, (res) => {
          const socket = res.socket;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, socket }));
        });
      });
      expect(idle.status).to.equal(200);
      const idleSocket = idle.socket;
      const idleClosed = new Promise<void>((resolve) => idleSocket.once('close', () => resolve()));
      // A request in flight: its body has not all arrived when the shutdown begins.
      const inFlight = new Promise<http.IncomingMessage>((resolve, reject) => {
        const body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}';
        const req = http.request({ port, host: '127.0.0.1', path: '/scim/v2/Users/.search', method: 'POST', headers: { Authorization: `Bearer ${OPERATOR_TOKEN}`, 'Content-Type': 'application/scim+json', 'Content-Length': String(body.length) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res));
        });
        req.on('error', reject);
        req.write(body.slice(0, -1));
        setTimeout(() => req.end(body.slice(-1)), 400);
      });
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const stopped = s.server.stop();
      await idleClosed;
      expect(Date.now() - started, 'idle keep-alive closed at once').to.be.below(300);
      const res = await inFlight;
      expect(res.statusCode).to.equal(200);
      expect(res.headers.connection).to.equal('close');
      await stopped;
      expect(Date.now() - started, 'stopped as soon as the last request was answered, not after the grace period').to.be.below(3000);
      // New connections are refused.
      const refused = await new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').on('error', () => resolve(true)).on('connect', () => resolve(false)));
      expect(refused).to.equal(true);
      agent.destroy();
    });
    it('when the grace period of a shutdown ends with requests still waiting for a database connection, then each is answered 503 with Retry-After and a SCIM error, changes nothing, and nothing is logged as unhandled', async function () {
      this.timeout(60_000);
      const lines: Array<{ level: number; msg: string }> = [];
      const logger = createLogger({ level: 'info', destination: new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString('utf8')) as { level: number; msg: string }); done(); } }) });
      s = await serve({ SHUTDOWN_TIMEOUT_MS: '1000' }, logger);
      const port = Number(new URL(s.server.url).port);
      // Every connection of the pool is busy (long work of other requests, here open transactions).
      const pool = (s.db.knex.client as unknown as { pool: { max: number; numPendingAcquires(): number } }).pool;
      const held: Knex.Transaction[] = [];
      for (let i = 0; i < pool.max; i++) held.push(await s.db.knex.transaction());
      const send = (method: string, path: string, body?: unknown) =>
        new Promise<{ status: number | undefined; headers: http.IncomingHttpHeaders; body: { schemas?: string[]; detail?: string; status?: string } }>((resolve, reject) => {
          const text = body === undefined ? undefined : JSON.stringify(body);
          const req = http.request({ port, host: '127.0.0.1', path, method, headers: { Authorization: `Bearer ${OPERATOR_TOKEN}`, 'Content-Type': 'application/scim+json', ...(text ? { 'Content-Length': String(Buffer.byteLength(text)) } : {}) } }, (res) => {
            let data = '';
            res.on('data', (c: Buffer) => (data += c.toString('utf8')));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(data || '{}') as { schemas?: string[]; detail?: string } }));
          });
          req.on('error', reject);
          req.end(text);
        });
      const waiting = [
        send('GET', '/scim/v2/Users'),
        send('POST', '/scim/v2/Accounts', { schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: 'Never made', type: 'customer' }),
        send('GET', '/scim/v2/Groups'),
      ];
      for (let i = 0; pool.numPendingAcquires() < waiting.length; i++) {
        if (i > 200) throw new Error(`only ${pool.numPendingAcquires()} requests wait for a connection`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const started = Date.now();
      const stopped = s.server.stop();
      const answers = await Promise.all(waiting);
      const answeredAfter = Date.now() - started;
      expect(answeredAfter, 'answered when the grace period ended').to.be.within(900, 3000);
      for (const res of answers) {
        expect(res.status, JSON.stringify(res.body)).to.equal(503);
        expect(Number(res.headers['retry-after'])).to.be.greaterThan(0);
        expect(res.headers.connection).to.equal('close');
        expect(res.body.schemas).to.deep.equal([ERROR]);
        expect(res.body.detail).to.match(/shutting down; retry/);
      }
      // The busy work finishes; the server stops after it, and nothing was written by the refused requests.
      for (const trx of held) await trx.rollback();
      await stopped;
      expect(await s.db.knex('accounts').where({ name: 'Never made' }).first()).to.equal(undefined);
      const unhandled = lines.filter((l) => l.level >= 50 || /unhandled|aborted/.test(l.msg));
      expect(unhandled, JSON.stringify(unhandled)).to.deep.equal([]);
    });

      it('when METRICS_ADDRESS is set, then that listener serves /metrics to anyone and nothing else, and the main one still needs an operator token', async () => {
      s = await serve({ METRICS_ADDRESS: '127.0.0.1:0' });
      const metricsUrl = s.server.metricsUrl!;
      const get = (url: string) => new Promise<{ status: number | undefined; text: string }>((resolve, reject) => {
        http.get(url, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode, text }));
        }).on('error', reject);
      });
      const metrics = await get(`${metricsUrl}/metrics`);
      expect(metrics.status).to.equal(200);
      expect(metrics.text).to.contain('process_cpu');
      expect((await get(`${metricsUrl}/scim/v2/Users`)).status).to.equal(404);
      expect((await get(`${s.server.url}/metrics`)).status).to.equal(401);
    });
  });

  it('when the server starts against a database that does not exist, then it prints one line and no stack anywhere', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
      env: { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/switchboard_no_such_database', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).to.equal(1);
    const output = `${run.stdout}${run.stderr}`.trim();
    expect(output.split('\n'), output).to.have.length(1);
    expect(output).to.match(/^switchboard: /);
    expect(output).to.not.match(/\n\s+at /);
  });
});
