import type { RequestListener } from 'node:http';
import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/config.js';
import { createApp } from '../../src/app.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger, type Logger } from '../../src/lib/logger.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const OPERATOR_TOKEN = 'sb_test_operator_token_0123456789abcdefghijklmnop';

export interface TestApp {
  app: RequestListener;
  deps: Deps;
  db: TestDatabase;
  clock: ManualClock;
  operatorToken: string;
  operatorAccountId: string;
  request: ReturnType<typeof supertest>;
  close(): Promise<void>;
}

/**
 * A real app over a fresh real database (PGlite, or PostgreSQL with DATABASE_URL), bootstrapped with an operator
 * token. It never listens; its HOST is a loopback address (a development setup), so mailed links have a base
 * (http://127.0.0.1:8080) without PUBLIC_URL.
 */
export async function createTestApp(env: Record<string, string> = {}, overrides: { logger?: Logger } = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config: Config = loadConfig({ DATA_DIR: '/tmp/switchboard-test-unused', HOST: '127.0.0.1', SCHEDULER_ENABLED: 'false', MAIL_WORKER_ENABLED: 'false', ...env });
  const clock = new ManualClock(new Date());
  const deps = await createDeps(config, { db, clock, logger: overrides.logger ?? silentLogger });
  const boot = await deps.tokens.bootstrap({ bootstrapToken: OPERATOR_TOKEN, dataDir: config.dataDir, print: () => {} });
  const app = createApp(deps);
  return {
    app,
    deps,
    db,
    clock,
    operatorToken: OPERATOR_TOKEN,
    operatorAccountId: boot.operatorAccountId,
    request: supertest(app),
    async close() {
      await deps.close();
      await db.close();
    },
  };
}

export const scimJson = 'application/scim+json';

/**
 * What the seed's New User form requires of a user an admin creates (First Name, Last Name, a valid Email), for
 * tests whose subject is something else: spread it into the body of an admin's POST /Users.
 */
export function formFields(email: string, givenName = 'Test', familyName = 'User'): { name: { givenName: string; familyName: string }; emails: { value: string; primary: boolean }[] } {
  return { name: { givenName, familyName }, emails: [{ value: email, primary: true }] };
}

/** Creates an account through the API and a token for it; returns both. */
export async function createAccountWithToken(
  t: TestApp,
  options: { name: string; type: 'partner' | 'customer'; parentId?: string; role?: string; asToken?: string },
): Promise<{ accountId: string; token: string }> {
  const created = await t.request
    .post('/scim/v2/Accounts')
    .set('Authorization', `Bearer ${options.asToken ?? t.operatorToken}`)
    .set('Content-Type', scimJson)
    .send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Account'], name: options.name, type: options.type, ...(options.parentId ? { parentId: options.parentId } : {}) });
  if (created.status !== 201) throw new Error(`account create failed: ${created.status} ${JSON.stringify(created.body)}`);
  const role = options.role ?? (options.type === 'partner' ? 'partner-admin' : 'account-admin');
  const token = await t.request
    .post(`/accounts/${created.body.id}/scim/v2/Tokens`)
    .set('Authorization', `Bearer ${options.asToken ?? t.operatorToken}`)
    .send({ schemas: ['urn:switchboard:scim:schemas:core:2.0:Token'], role });
  if (token.status !== 201) throw new Error(`token create failed: ${token.status} ${JSON.stringify(token.body)}`);
  return { accountId: created.body.id as string, token: token.body.token as string };
}
