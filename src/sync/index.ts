/** Wires the sync engine, the Sources and SyncRuns APIs and the scheduler into the app's dependencies. */
import type { Connector } from '../../connectors/sdk/index.js';
import { entraConnector } from '../../connectors/entra/index.js';
import { ldapConnector } from '../../connectors/ldap/index.js';
import type { Deps } from '../deps.js';
import { sourcesRouter } from '../scim/sources-router.js';
import { syncRunsRouter } from '../scim/sync-runs-router.js';
import { sourceResourceType, syncRunResourceType } from '../domain/sync-schema.js';
import { UserService } from '../services/user-service.js';
import { SyncScheduler } from './scheduler.js';
import { SyncRunsService } from '../services/sync-runs-service.js';
import { SourcesService } from '../services/sources-service.js';
import { SyncEngine } from './sync-engine.js';

export { SyncEngine } from './sync-engine.js';
export { SyncScheduler } from './scheduler.js';
export { SourcesService } from '../services/sources-service.js';

export const defaultConnectors = (): Map<string, Connector> => new Map<string, Connector>([
  ['ldap', ldapConnector as Connector],
  ['entra', entraConnector as Connector],
]);

export interface SyncParts {
  engine: SyncEngine;
  sources: SourcesService;
  scheduler: SyncScheduler;
}

/**
 * Pushes the Sources and SyncRuns routers into `deps.scimRouters`, their resource types into
 * `deps.resourceTypes`, and the scheduler into `deps.workers` when `config.schedulerEnabled`.
 */
export function registerSync(deps: Deps, connectors: Map<string, Connector> = defaultConnectors()): SyncParts {
  const users = deps.users;
  const engine = new SyncEngine({ db: deps.db, users, clock: deps.clock, logger: deps.logger, connectors });
  const sources = new SourcesService(deps.db.knex, deps.clock, connectors);
  const scheduler = new SyncScheduler({ db: deps.db.knex, engine, clock: deps.clock, logger: deps.logger, kinds: [...connectors.keys()] });
  const maxResults = deps.config.scim.maxResults;
  deps.scimRouters.push(sourcesRouter({ sources, maxResults }), syncRunsRouter({ syncRuns: new SyncRunsService({ db: deps.db.knex, sources, runner: engine }), maxResults }));
  for (const rt of [sourceResourceType, syncRunResourceType]) if (!deps.resourceTypes.some((r) => r.id === rt.id)) deps.resourceTypes.push(rt);
  if (deps.config.schedulerEnabled) deps.workers.push(scheduler);
  // Registered after the scheduler, so it stops after it (workers stop in reverse): runs in progress finish before the database closes.
  deps.workers.unshift({ name: 'sync-runs', start: () => undefined, stop: () => engine.drain() });
  return { engine, sources, scheduler };
}
