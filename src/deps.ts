import type { Router } from 'express';
import type { Config } from './config.js';
import { migrateLatest, openDatabase, type Database } from './db/database.js';
import type { ResourceTypeDef } from './domain/scim-schema.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { systemClock, type Clock } from './lib/clock.js';
import { createLogger, type Logger } from './lib/logger.js';
import { allResourceTypes } from './scim/schemas.js';
import { AccountService } from './services/account-service.js';
import { TokenService } from './services/token-service.js';
import { UserService } from './services/user-service.js';
import { GroupService } from './services/group-service.js';
import { usersReadRoutes, usersRouter, type UsersRouterDeps } from './scim/users-router.js';
import type { FlatScimRoute } from './http/direct-dispatch.js';
import { groupsRouter } from './scim/groups-router.js';
import { actionsRouters } from './actions/index.js';
import { registerSync } from './sync/index.js';
import { createMailerFromConfig, type Mailer } from './services/mail/mailer.js';
import { MailWorker } from './services/mail/mail-worker.js';
import { SessionService } from './services/session-service.js';
import { sessionRouter } from './http/session-router.js';
import { consoleRouter } from './http/console-router.js';
import { RateLimits } from './http/rate-limits.js';
import { createLimiter } from './db/rate-limit-store.js';
import { ImportService } from './services/import-service.js';
import { importResourceType } from './domain/import-schema.js';
import { importsRouter } from './scim/imports-router.js';

/** Everything the app and the background workers need, built in one place (the composition root). */
export interface Deps {
  config: Config;
  db: Database;
  logger: Logger;
  clock: Clock;
  metrics: Metrics;
  /** Per-token and per-address request limits, shared through PostgreSQL when there is one. */
  rateLimits: RateLimits;
  tokens: TokenService;
  accounts: AccountService;
  users: UserService;
  groups: GroupService;
  /** Admin console sign-in sessions, also accepted by the SCIM API. */
  sessions: SessionService;
  /** CSV imports of users (set once the welcome email of the actions is wired). */
  imports?: ImportService;
  /** Resource types served, in discovery order. */
  resourceTypes: ResourceTypeDef[];
  /** Routers served at the root without authentication, before the JSON body parser (registration pages). */
  publicRouters: Router[];
  mailer: Mailer;
  mailWorker: MailWorker;
  /** Further SCIM routers mounted under both SCIM bases. */
  scimRouters: Router[];
  /** The hottest SCIM routes, mounted flat at both SCIM bases ahead of scimRouters. */
  flatScimRoutes: FlatScimRoute[];
  /** Background work to start with the server and stop on shutdown. */
  workers: { name: string; start(): void | Promise<void>; stop(): Promise<void> }[];
  close(): Promise<void>;
}

export interface DepsOverrides {
  db?: Database;
  clock?: Clock;
  logger?: Logger;
  mailer?: Mailer;
}

export async function createDeps(config: Config, overrides: DepsOverrides = {}): Promise<Deps> {
  const logger = overrides.logger ?? createLogger({ level: config.logLevel });
  const clock = overrides.clock ?? systemClock;
  const db =
    overrides.db ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      poolMax: config.databasePoolMax,
      statementTimeoutMs: config.limits.statementTimeoutMs,
      dataDir: config.databaseUrl ? undefined : config.dataDir,
    }));
  try {
    await migrateLatest(db.knex);
  } catch (error) {
    if (!overrides.db) await db.close();
    throw error;
  }
  const tokens = new TokenService(db.knex, clock, logger);
  const accounts = new AccountService(db.knex, clock);
  const users = new UserService(db.knex, clock);
  const groups = new GroupService(db.knex, clock);
  const sessions = new SessionService(db.knex, clock, tokens, config.session);
  const mailer = overrides.mailer ?? createMailerFromConfig({ smtpUrl: config.smtpUrl, dataDir: config.dataDir, logger });
  const mailWorker = new MailWorker({ db: db.knex, mailer, clock, logger, from: config.mailFrom });
  const usersDeps: UsersRouterDeps = { users, clock, maxResults: config.scim.maxResults, cursorTtlSeconds: config.scim.cursorTtlSeconds };
  const deps: Deps = {
    config,
    db,
    logger,
    clock,
    metrics: createMetrics(),
    rateLimits: new RateLimits(config.limits.rate, (spec) => createLimiter(db, spec)),
    tokens,
    accounts,
    users,
    groups,
    sessions,
    resourceTypes: [...allResourceTypes],
    flatScimRoutes: usersReadRoutes(usersDeps),
    scimRouters: [
      usersRouter(usersDeps),
      groupsRouter({ groups, maxResults: config.scim.maxResults, cursorTtlSeconds: config.scim.cursorTtlSeconds }),
    ],
    publicRouters: [sessionRouter({ sessions, publicUrl: config.publicUrl }), consoleRouter({ dir: config.consoleDir, logger })],
    mailer,
    mailWorker,
    workers: [],
    async close() {
      for (const worker of [...deps.workers].reverse()) await worker.stop();
      if (!overrides.db) await db.close();
    },
  };
  registerSync(deps);
  const actions = actionsRouters(deps);
  usersDeps.welcomeCreatedUser = (trx, account, user, writer) => actions.actions.welcomeCreatedUser(trx, account, user, writer);
  deps.scimRouters.push(actions.scim);
  const imports = new ImportService({
    db: db.knex, clock, logger, users, welcome: (trx, account, user, writer) => actions.actions.welcomeCreatedUser(trx, account, user, writer),
  });
  deps.imports = imports;
  deps.resourceTypes.push(importResourceType);
  deps.scimRouters.push(importsRouter({ imports, maxBytes: config.importMaxBytes, maxResults: config.scim.maxResults, linkBase: config.linkBase }));
  // First in the list, so it stops last: background imports finish before the database closes.
  deps.workers.unshift({
    name: 'imports',
    start: async () => {
      const { interrupted } = await imports.recover();
      if (interrupted > 0) logger.warn({ interrupted }, 'imports left running by a stopped process were marked failed');
    },
    stop: () => imports.drain(),
  });
  deps.publicRouters.push(actions.public);
  if (config.mailWorkerEnabled) {
    deps.workers.push({ name: 'mail', start: () => mailWorker.start(), stop: () => mailWorker.stop() });
  }
  deps.workers.push({ name: 'mailer', start: () => undefined, stop: () => mailer.close() });
  return deps;
}
