/**
 * The composition root: the only place that constructs the database, services, connectors, routers and workers.
 * createDeps builds them in dependency order and returns a plain object that nothing changes afterwards; createApp
 * mounts what it holds, startServer starts its workers in order and close() stops them in reverse.
 */
import type { Router } from 'express';
import type { Config } from './config.js';
import { SftpSessionPool } from '../connectors/sdk/index.js';
import { connectorRegistry, type ConnectorRegistry } from './connectors.js';
import { migrateLatest, openDatabase, type Database } from './db/database.js';
import { actionResourceType } from './domain/action-schema.js';
import { auditEventResourceType } from './domain/audit.js';
import type { ResourceTypeDef } from './domain/scim-schema.js';
import { sourceResourceType, syncRunResourceType } from './domain/sync-schema.js';
import type { FlatScimRoute } from './http/direct-dispatch.js';
import { createMetrics, type Metrics } from './services/metrics.js';
import { RateLimits } from './http/rate-limits.js';
import { createLimiter } from './db/rate-limit-store.js';
import { readOrCreateKeyFile, SecretBox } from './lib/secret-box.js';
import { registrationRouter } from './http/registration-router.js';
import { consoleRouter } from './http/console-router.js';
import { sessionRouter } from './http/session-router.js';
import { systemClock, type Clock } from './lib/clock.js';
import { createLogger, type Logger } from './lib/logger.js';
import { accountsRouter } from './scim/accounts-router.js';
import { actionsRouter } from './scim/actions-router.js';
import { auditEventsRouter } from './scim/audit-events-router.js';
import { discoveryRouter } from './scim/discovery-router.js';
import { groupsRouter } from './scim/groups-router.js';
import { importResourceType } from './domain/import-schema.js';
import { importsRouter } from './scim/imports-router.js';
import { allResourceTypes } from './scim/schemas.js';
import { sourcesRouter } from './scim/sources-router.js';
import { syncRunsRouter } from './scim/sync-runs-router.js';
import { tokensRouter } from './scim/tokens-router.js';
import { usersReadRoutes, usersRouter, usersWriteRoutes, type UsersRouterDeps } from './scim/users-router.js';
import { AccountService } from './services/account-service.js';
import { ActionService } from './services/action-service.js';
import { AuditService } from './services/audit-service.js';
import { GroupService } from './services/group-service.js';
import { ImportService, type WelcomeCreatedUser } from './services/import-service.js';
import { createMailerFromConfig, type Mailer } from './services/mail/mailer.js';
import { MailWorker } from './services/mail/mail-worker.js';
import { RegistrationService } from './services/registration-service.js';
import { SessionService } from './services/session-service.js';
import { SourcesService } from './services/sources-service.js';
import { SyncRunsService } from './services/sync-runs-service.js';
import { TokenService } from './services/token-service.js';
import { UserService } from './services/user-service.js';
import { SyncScheduler } from './sync/scheduler.js';
import { WriteBackWorker } from './services/writeback-worker.js';
import { SyncEngine } from './sync/sync-engine.js';

/** Background work started with the server (in list order) and stopped on shutdown (in reverse). */
export interface Worker {
  name: string;
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

/** Everything the app and the background workers need, built once by createDeps. */
export interface Deps {
  readonly config: Config;
  readonly db: Database;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** Per-token and per-address request limits, shared through PostgreSQL when there is one. */
  readonly rateLimits: RateLimits;
  /** Seals and opens source secrets at rest (SWITCHBOARD_SECRET_KEY, or DATA_DIR/secret-key). */
  readonly secrets: SecretBox;
  /** Source kind → connector. */
  readonly connectors: ConnectorRegistry;
  readonly tokens: TokenService;
  readonly accounts: AccountService;
  readonly users: UserService;
  readonly groups: GroupService;
  /** Admin console sign-in sessions, also accepted by the SCIM API. */
  readonly sessions: SessionService;
  readonly registration: RegistrationService;
  readonly actions: ActionService;
  /** CSV imports of users. */
  readonly imports: ImportService;
  readonly sources: SourcesService;
  readonly syncEngine: SyncEngine;
  readonly syncRuns: SyncRunsService;
  readonly scheduler: SyncScheduler;
  /** Delivers the write-back outbox (the MiVB username as a MiCollab provisioning file); started with the scheduler. */
  readonly writeBack: WriteBackWorker;
  /** The audit trail's reads (/AuditEvents) and its retention. */
  readonly audit: AuditService;
  readonly mailer: Mailer;
  readonly mailWorker: MailWorker;
  /** Resource types served, in discovery order. */
  readonly resourceTypes: readonly ResourceTypeDef[];
  /** The hottest SCIM routes, mounted flat at both SCIM bases ahead of scimRouters. */
  readonly flatScimRoutes: readonly FlatScimRoute[];
  /** SCIM routers mounted under both SCIM bases, in order (Users and Groups first: they carry the traffic); Bulk follows them. */
  readonly scimRouters: readonly Router[];
  /** Routers served at the root without authentication, before the JSON body parser (registration pages). */
  readonly publicRouters: readonly Router[];
  /** In start order; stopped in reverse. */
  readonly workers: readonly Worker[];
  close(): Promise<void>;
}

/** What a test (or an embedding) replaces; everything else is built from the configuration. */
export interface DepsOverrides {
  db?: Database;
  clock?: Clock;
  logger?: Logger;
  mailer?: Mailer;
  connectors?: ConnectorRegistry;
}

export async function createDeps(config: Config, overrides: DepsOverrides = {}): Promise<Deps> {
  // 1. Logging, time, the database (migrated).
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
  const knex = db.knex;
  const { maxResults, cursorTtlSeconds } = config.scim;

  // 2. Services (the repositories are stateless modules of src/db/, called with the database or a transaction).
  const connectors = overrides.connectors ?? connectorRegistry();
  const metrics = createMetrics({ db: knex, dbKind: db.kind });
  const { telemetry } = metrics;
  const rateLimits = new RateLimits(config.limits.rate, (spec) => createLimiter(db, spec), telemetry);
  const tokens = new TokenService(knex, clock, logger);
  const accounts = new AccountService(knex, clock);
  const users = new UserService(knex, clock, config.limits.maxMultiValues);
  const groups = new GroupService(knex, clock);
  const sessions = new SessionService(knex, clock, tokens, config.session);
  const registration = new RegistrationService(knex, clock);
  const mailer = overrides.mailer ?? createMailerFromConfig({ smtpUrl: config.smtpUrl, dataDir: config.dataDir, logger });
  const mailWorker = new MailWorker({ db: knex, mailer, clock, logger, from: config.mailFrom, leaseMs: config.mailLeaseMs });
  const actions = new ActionService({
    db: knex, clock, logger, users, registration, linkBase: config.linkBase, telemetry,
  });
  const welcomeCreatedUser: WelcomeCreatedUser = (trx, account, user, writer) => actions.welcomeCreatedUser(trx, account, user, writer);
  const imports = new ImportService({ db: knex, clock, logger, users, welcome: welcomeCreatedUser });
  const secrets = new SecretBox(config.secretKey ?? readOrCreateKeyFile(config.dataDir).key, config.previousSecretKeys);
  const sources = new SourcesService(knex, clock, connectors, secrets);
  const sftpSessions = new SftpSessionPool();
  const syncEngine = new SyncEngine({ db, users, clock, logger, connectors, secrets, sessions: sftpSessions, telemetry });
  const syncRuns = new SyncRunsService({ db: knex, sources, runner: syncEngine });
  const scheduler = new SyncScheduler({ db: knex, engine: syncEngine, clock, logger, kinds: [...connectors.keys()] });
  const writeBack = new WriteBackWorker({ db: knex, clock, logger, connectors, secrets });
  const audit = new AuditService({ db, clock, logger, retentionDays: config.auditRetentionDays });

  // 3. The HTTP surface.
  const usersDeps: UsersRouterDeps = { users, clock, maxResults, cursorTtlSeconds, welcomeCreatedUser };
  const resourceTypes: readonly ResourceTypeDef[] = [...allResourceTypes, sourceResourceType, syncRunResourceType, actionResourceType, importResourceType, auditEventResourceType];
  const flatScimRoutes = [...usersReadRoutes(usersDeps), ...usersWriteRoutes(usersDeps)];
  const scimRouters: readonly Router[] = [
    usersRouter(usersDeps),
    groupsRouter({ groups, maxResults, cursorTtlSeconds }),
    sourcesRouter({ sources, maxResults }),
    syncRunsRouter({ syncRuns, maxResults }),
    actionsRouter({ actions, maxResults }),
    importsRouter({ imports, maxBytes: config.importMaxBytes, maxResults, linkBase: config.linkBase }),
    auditEventsRouter({ audit, clock, maxResults, cursorTtlSeconds }),
    discoveryRouter({ resourceTypes: () => resourceTypes, limits: config.scim }),
    accountsRouter({ accounts, maxResults }),
    tokensRouter({ tokens, maxResults }),
  ];
  const publicRouters: readonly Router[] = [
    sessionRouter({ sessions, publicUrl: config.publicUrl }),
    consoleRouter({ dir: config.consoleDir, logger }),
    registrationRouter({ registration, limits: rateLimits }),
  ];

  // 4. Workers, in start order. They stop in reverse: the mail worker and the scheduler first, then runs in
  //    progress, background actions and imports finish, and only then does the database close.
  const workers: Worker[] = [
    // First: a key that cannot open the stored source secrets stops the start-up with one clear line.
    {
      name: 'source-secrets',
      start: async () => {
        const sealed = await sources.sealStoredSecrets();
        if (sealed > 0) logger.info({ sources: sealed }, 'source secrets sealed under the current key');
      },
      stop: async () => undefined,
    },
    {
      name: 'imports',
      start: async () => {
        const { interrupted } = await imports.recover();
        if (interrupted > 0) logger.warn({ interrupted }, 'imports left running by a stopped process were marked failed');
      },
      stop: () => imports.drain(),
    },
    {
      name: 'actions',
      start: async () => {
        const interrupted = await actions.recoverInterrupted();
        if (interrupted > 0) logger.warn({ interrupted }, 'actions left running by a stopped process were marked failed');
      },
      stop: () => actions.drain(),
    },
    // Stopped after the runs that may hold a session.
    { name: 'sftp-sessions', start: () => undefined, stop: () => sftpSessions.close() },
    { name: 'sync-runs', start: () => undefined, stop: () => syncEngine.drain() },
    ...(config.schedulerEnabled ? [scheduler, { name: 'write-back', start: () => writeBack.start(), stop: () => writeBack.stop() }, audit.worker()] : []),
    ...(config.mailWorkerEnabled ? [{ name: 'mail', start: () => mailWorker.start(), stop: () => mailWorker.stop() }] : []),
    { name: 'mailer', start: () => undefined, stop: () => mailer.close() },
  ];

  return Object.freeze({
    config, db, logger, clock, metrics, rateLimits, secrets, connectors,
    tokens, accounts, users, groups, sessions, registration, actions, imports, sources, sftpSessions, syncEngine, syncRuns, scheduler, writeBack, audit, mailer, mailWorker,
    resourceTypes, flatScimRoutes, scimRouters, publicRouters, workers: Object.freeze(workers),
    async close() {
      for (const worker of [...workers].reverse()) await worker.stop();
      if (!overrides.db) await db.close();
    },
  });
}
