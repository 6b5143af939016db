import { Router, type Request, type Response } from 'express';
import type { Account, AccountSettings, Subscription } from '../domain/account.js';
import { withDefaults } from '../domain/account.js';
import { DomainError } from '../domain/errors.js';
import { hasCapability } from '../domain/principal.js';
import type { AccountService, LicenceUsage } from '../services/account-service.js';
import { contextOf } from '../http/request-context.js';
import { parseListParams } from './list-params.js';
import { projectionFor } from './projection.js';
import { coerceResource, type JsonObject } from './resource-input.js';
import { resourceTypes } from './schemas.js';
import { etagOf, ifMatchVersion, listResponse, notModified, sendScim } from './scim-http.js';
import { URN } from './urns.js';
import { applyPatch, parsePatchRequest } from './patch/index.js';

const rt = resourceTypes.account;

/**
 * The Account resource. `usage` (AccountService.licenceUsageOf) adds each subscription's read-only `assigned` and
 * `available`; without it (the base a PATCH applies to) subscriptions carry only what is stored.
 */
export function toAccountResource(account: Account, scimBase: string, usage?: readonly LicenceUsage[]): JsonObject {
  return {
    schemas: [URN.account],
    id: account.id,
    ...(account.externalId ? { externalId: account.externalId } : {}),
    name: account.name,
    type: account.type,
    ...(account.parentId ? { parentId: account.parentId } : {}),
    userCount: account.userCount,
    settings: account.settings,
    subscriptions: usage ?? account.subscriptions,
    meta: {
      resourceType: 'Account',
      created: account.createdAt.toISOString(),
      lastModified: account.updatedAt.toISOString(),
      location: `${scimBase}/Accounts/${account.id}`,
      version: etagOf(account.version),
    },
  };
}

/**
 * A subscription as stored: product and seats. `assigned` and `available` are computed, so a client echoing the
 * resource back (GET then PUT) has them dropped here; anything malformed goes on for validateChanges to name.
 */
function subscriptionOf(value: unknown): Subscription {
  const item = value && typeof value === 'object' ? (value as JsonObject) : {};
  return { product: item.product as string, seats: item.seats as number };
}

/** The writable parts of an Account resource after coercion or PATCH. */
function changesFrom(resource: JsonObject): { name?: string; externalId?: string | null; settings?: AccountSettings; subscriptions?: Subscription[] } {
  return {
    ...(typeof resource.name === 'string' ? { name: resource.name } : {}),
    externalId: typeof resource.externalId === 'string' ? resource.externalId : null,
    settings: withDefaults(resource.settings as Partial<AccountSettings> | undefined),
    subscriptions: Array.isArray(resource.subscriptions) ? resource.subscriptions.map(subscriptionOf) : [],
  };
}

function requireAccounts(res: Response): void {
  if (!hasCapability(contextOf(res).principal, 'accounts')) throw new DomainError('forbidden', 'This token cannot manage accounts');
}

export function accountsRouter(deps: { accounts: AccountService; maxResults: number }): Router {
  const router = Router({ mergeParams: true });
  const send = async (req: Request, res: Response, status: number, account: Account) => {
    const { scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, 1);
    const usage = (await deps.accounts.licenceUsageOf([account])).get(account.id);
    const body = projectionFor(rt, params.attributes, params.excludedAttributes).apply(toAccountResource(account, scimBase, usage));
    const headers: Record<string, string> = { ETag: etagOf(account.version) };
    if (status === 201) headers.Location = `${scimBase}/Accounts/${account.id}`;
    sendScim(res, status, body, headers);
  };

  router.get('/Accounts', async (req, res) => {
    requireAccounts(res);
    const { principal, scimBase } = contextOf(res);
    const params = parseListParams(req.query as JsonObject, deps.maxResults);
    const page = await deps.accounts.list(principal, { filter: params.filter, offset: params.startIndex - 1, limit: params.count });
    const projection = projectionFor(rt, params.attributes, params.excludedAttributes);
    const usage = await deps.accounts.licenceUsageOf(page.accounts);
    sendScim(res, 200, listResponse(page.accounts.map((a) => projection.apply(toAccountResource(a, scimBase, usage.get(a.id)))), page.total, params.startIndex));
  });

  router.post('/Accounts', async (req, res) => {
    requireAccounts(res);
    const { principal } = contextOf(res);
    const input = coerceResource(req.body, rt);
    const body = req.body as JsonObject;
    const parentId = typeof body.parentId === 'string' ? body.parentId : undefined;
    const account = await deps.accounts.create(principal, {
      name: String(input.name),
      type: input.type as 'partner' | 'customer',
      parentId,
      ...changesFrom(input),
    });
    await send(req, res, 201, account);
  });

  router.get('/Accounts/:id', async (req, res) => {
    requireAccounts(res);
    const account = await deps.accounts.get(contextOf(res).principal, req.params.id);
    if (notModified(req, account.version)) {
      sendScim(res, 304, undefined, { ETag: etagOf(account.version) });
      return;
    }
    await send(req, res, 200, account);
  });

  router.put('/Accounts/:id', async (req, res) => {
    requireAccounts(res);
    const input = coerceResource(req.body, rt);
    const account = await deps.accounts.update(
      contextOf(res).principal,
      req.params.id,
      (current) => {
        if (input.type !== undefined && input.type !== current.type) throw new DomainError('mutability', 'type is immutable');
        return changesFrom(input);
      },
      ifMatchVersion(req),
    );
    await send(req, res, 200, account);
  });

  router.patch('/Accounts/:id', async (req, res) => {
    requireAccounts(res);
    const { principal, scimBase } = contextOf(res);
    const ops = parsePatchRequest(req.body);
    const account = await deps.accounts.update(
      principal,
      req.params.id,
      (current) => {
        const { resource } = applyPatch(toAccountResource(current, scimBase) as Parameters<typeof applyPatch>[0], ops, rt);
        return changesFrom(resource as JsonObject);
      },
      ifMatchVersion(req),
    );
    await send(req, res, 200, account);
  });

  router.delete('/Accounts/:id', async (req, res) => {
    requireAccounts(res);
    await deps.accounts.delete(contextOf(res).principal, req.params.id, ifMatchVersion(req));
    sendScim(res, 204);
  });

  return router;
}
