import type { Router } from 'express';
import type { Deps } from '../deps.js';
import { registrationRouter } from '../http/registration-router.js';
import { actionResourceType } from '../domain/action-schema.js';
import { actionsRouter } from '../scim/actions-router.js';
import { ActionService } from '../services/action-service.js';
import { RegistrationService } from '../services/registration-service.js';

/**
 * The Actions SCIM resource (mount `scim` in deps.scimRouters) and the public link pages (mount `public` on the app
 * root). Registers the Action resource type for discovery, and a worker that marks actions interrupted by a stopped
 * process as failed on start and lets background actions finish on shutdown.
 */
export function actionsRouters(deps: Deps): { scim: Router; public: Router; actions: ActionService } {
  const registration = new RegistrationService(deps.db.knex, deps.clock);
  const actions = new ActionService({
    db: deps.db.knex, clock: deps.clock, logger: deps.logger, users: deps.users, registration,
    linkBase: deps.config.linkBase,
  });
  if (!deps.resourceTypes.some((r) => r.id === actionResourceType.id)) deps.resourceTypes.push(actionResourceType);
  // First in the list, so it stops last (workers stop in reverse): background actions finish before the database closes.
  deps.workers.unshift({
    name: 'actions',
    start: async () => {
      const interrupted = await actions.recoverInterrupted();
      if (interrupted > 0) deps.logger.warn({ interrupted }, 'actions left running by a stopped process were marked failed');
    },
    stop: () => actions.drain(),
  });
  return { scim: actionsRouter({ actions, maxResults: deps.config.scim.maxResults }), public: registrationRouter({ registration, limits: deps.rateLimits }), actions };
}
