import { expect } from 'chai';
import supertest from 'supertest';
import type { Connector, SourceItem } from '../../connectors/sdk/index.js';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { connectorRegistry } from '../../src/connectors.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { OPERATOR_TOKEN, scimJson } from '../support/test-app.js';

/** A connector passed in for a kind the database knows (mivb) but the default registry may not: one record, then a complete checkpoint. */
const fileConnector: Connector<{ path: string }> = {
  kind: 'mivb',
  configSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  parseConfig: (raw) => {
    const path = (raw as { path?: unknown } | null)?.path;
    if (typeof path !== 'string') throw new Error('path is required');
    return { path };
  },
  check: async () => undefined,
  async *read() {
    yield { type: 'record', anchor: 'a-1', attributes: { userName: 'ada@example.com', name: { givenName: 'Ada', familyName: 'Lovelace' } }, raw: { id: 'a-1' }, hardKeys: {} } satisfies SourceItem;
    yield { type: 'state', state: { done: true }, complete: true } satisfies SourceItem;
  },
};

describe('the composition root', () => {
  const built: { deps: Deps; db: TestDatabase }[] = [];
  const build = async (env: Record<string, string>, connectors?: Map<string, Connector>) => {
    const db = await createTestDatabase();
    const config = loadConfig({ DATA_DIR: '/tmp/switchboard-test-unused', SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', ...env });
    const deps = await createDeps(config, { db, clock: new ManualClock(new Date()), logger: silentLogger, ...(connectors ? { connectors } : {}) });
    built.push({ deps, db });
    return deps;
  };
  after(async () => {
    for (const { deps, db } of built) {
      await deps.close();
      await db.close();
    }
  });

  it('when deps are built, then the object is frozen and its lists cannot be pushed to', async () => {
    const deps = await build({});
    expect(Object.isFrozen(deps)).to.equal(true);
    expect(Reflect.set(deps, 'users', undefined)).to.equal(false);
    expect(() => (deps.workers as unknown[]).push({})).to.throw(TypeError);
    expect(deps.connectors).to.have.all.keys(...connectorRegistry().keys());
  });

  it('when the scheduler and the mail worker are off, then the workers are the recoveries, the run drain and the mailer, in start order', async () => {
    const deps = await build({});
    expect(deps.workers.map((w) => w.name)).to.deep.equal(['source-secrets', 'imports', 'actions', 'sftp-sessions', 'sync-runs', 'mailer']);
  });

  it('when the scheduler (with the write-back worker) and the mail worker are on, then they start after the drains, so they stop before them', async () => {
    const deps = await build({ SCHEDULER_ENABLED: 'true', MAIL_WORKER_ENABLED: 'true' });
    expect(deps.workers.map((w) => w.name)).to.deep.equal(['source-secrets', 'imports', 'actions', 'sftp-sessions', 'sync-runs', 'sync-scheduler', 'write-back', 'mail', 'mailer']);
  });

  it('when connectors are passed in, then Sources accept only their kinds and a SyncRun runs the passed connector', async () => {
    const deps = await build({}, new Map([['mivb', fileConnector as Connector]]));
    const boot = await deps.tokens.bootstrap({ bootstrapToken: OPERATOR_TOKEN, dataDir: deps.config.dataDir, print: () => {} });
    const request = supertest(createApp(deps));
    const auth = (r: supertest.Test) => r.set('Authorization', `Bearer ${OPERATOR_TOKEN}`).set('Content-Type', scimJson);
    const base = `/accounts/${boot.operatorAccountId}/scim/v2`;

    const ldap = await auth(request.post(`${base}/Sources`)).send({ name: 'Directory', kind: 'ldap', config: {} });
    expect(ldap.status).to.equal(400);
    expect(ldap.body.detail).to.equal('kind must be one of: mivb');

    const source = await auth(request.post(`${base}/Sources`)).send({ name: 'Files', kind: 'mivb', config: { path: '/x' } });
    expect(source.status).to.equal(201);
    const started = await auth(request.post(`${base}/SyncRuns`)).send({ sourceId: source.body.id, mode: 'full' });
    expect(started.status).to.equal(201);
    await deps.syncEngine.drain();
    const run = await auth(request.get(`${base}/SyncRuns/${started.body.id}`));
    expect(run.body.status).to.equal('succeeded');
    expect(run.body.counts).to.include({ created: 1 });
    const users = await auth(request.get(`${base}/Users`).query({ filter: 'userName eq "ada@example.com"' }));
    expect(users.body.totalResults).to.equal(1);
  });
});
