import type { Router } from 'express';
import type { Deps } from '../deps.js';
import { registrationRouter } from '../http/registration-router.js';
import { actionsRouter } from '../scim/actions-router.js';
import { ActionService } from '../services/action-service.js';
import { RegistrationService } from '../services/registration-service.js';

/** The Actions SCIM resource (mount `scim` in deps.scimRouters) and the public link pages (mount `public` on the app root). */
export function actionsRouters(deps: Deps): { scim: Router; public: Router } {
  const registration = new RegistrationService(deps.db.knex, deps.clock);
  const publicUrl = (deps.config.publicUrl ?? `http://localhost:${deps.config.port}`).replace(/\/+$/, '');
  const actions = new ActionService(deps.db.knex, deps.clock, registration, publicUrl);
  return { scim: actionsRouter({ actions }), public: registrationRouter({ registration }) };
}
