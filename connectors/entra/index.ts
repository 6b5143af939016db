/**
 * The Microsoft Entra ID connector: users (and, with `syncGroups`, groups) read from Microsoft Graph with delta
 * queries.
 *
 * A full read is a delta round from scratch (`GET /users/delta?$select=…`, then every `@odata.nextLink`); its final
 * `@odata.deltaLink` is the state, yielded once at the end of the round and marked `complete`. An incremental read
 * follows the saved deltaLink and yields only the changes: `@removed` users as deletes (`changed`, a user in the
 * recycle bin: soft; `deleted`: the delete path), and the changed live users read again whole through JSON batches
 * (20 users a request), because a later round's entry may carry only the changed properties and leaves
 * `manager@delta` out when the manager did not change: every record the engine gets states the whole user. Graph's 410 / `syncStateNotFound` / `resyncRequired` turns the read into a full one, complete, so the engine
 * finds deletions by comparison. A state written for another property list, scope or group setting does the same.
 *
 * Checkpoints are the deltaLinks only: a nextLink is not a resumable cursor for a full read (the engine would then
 * take a partial round for a complete one), so a killed run starts again from the last saved deltaLink and re-reads
 * what it had not saved, which the engine applies idempotently.
 *
 * `scope: {groups}`: only transitive user members of those groups. Membership is read at the start of every run
 * (ids only); users that joined since the previous run are read whole, those that left are deletes, and the ids are
 * kept in the state to compare with next time.
 */
import { createHash } from 'node:crypto';
import type { Connector, ConnectorLogger, JsonValue, ReadContext, ReadRequest, SourceGroup, SourceItem } from '../sdk/index.js';
import { ConnectorError, HttpError } from '../sdk/index.js';
import { entraConfigSchema, parseEntraConfig, selectedProperties, type EntraConfig } from './config.js';
import { GROUPS_PERMISSION, ResyncRequired, USERS_PERMISSION, createGraphClient, type GraphClient } from './entra-client.js';
import { mapGraphGroup, mapGraphUser, mapRemovedUser, removedReason, type GraphObject } from './entra-mapper.js';

export { entraConfigSchema, parseEntraConfig, type EntraConfig } from './config.js';

export interface EntraState {
  v: 1;
  scopeKey: string;
  usersDeltaLink: string;
  groupsDeltaLink?: string;
  /** scope {groups}: the user ids in scope at the end of the state's read, sorted. */
  scopeMembers?: string[];
}

export const entraConnector: Connector<EntraConfig> = {
  kind: 'entra',
  configSchema: entraConfigSchema,
  parseConfig: parseEntraConfig,
  check,
  read,
};

/** Signs in with this configuration (a fresh msal application: nothing cached) and reads one user (and group). */
async function check(config: EntraConfig, ctx: ReadContext = {}): Promise<void> {
  const graph = createGraphClient(config, { onRetry: ctx.onRetry });
  await graph.get('users?$top=1&$select=id', { signal: ctx.signal, permission: USERS_PERMISSION });
  if (config.syncGroups || config.scope !== 'all') await graph.get('groups?$top=1&$select=id', { signal: ctx.signal, permission: GROUPS_PERMISSION });
  if (config.scope !== 'all') {
    for (const id of config.scope.groups) {
      const found = await graph.get(`groups/${id}?$select=id`, { signal: ctx.signal, permission: GROUPS_PERMISSION }).catch((error: unknown) => {
        if (error instanceof HttpError && error.status === 404) return undefined;
        throw error;
      });
      if (!found) throw new ConnectorError('config', `scope.groups: group ${id} does not exist in tenant ${config.tenantId}`);
    }
  }
}

/** Identifies what a state covers: a deltaLink carries its $select, so another property list needs a full read. */
export function scopeKeyOf(config: EntraConfig): string {
  const key = JSON.stringify([config.tenantId.toLowerCase(), config.graphUrl, selectedProperties(config).sort(), config.scope, config.syncGroups]);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

function previousState(request: ReadRequest, config: EntraConfig, logger?: ConnectorLogger): EntraState | undefined {
  if (request.mode !== 'incremental') return undefined;
  const state = request.state as Partial<EntraState> | null;
  if (!state || typeof state !== 'object' || state.v !== 1 || typeof state.usersDeltaLink !== 'string') {
    return fullReadBecause(logger, 'the state was not written by this connector version');
  }
  if (state.scopeKey !== scopeKeyOf(config)) return fullReadBecause(logger, 'attributeMap, scope or syncGroups changed since the state was written');
  if (config.syncGroups && typeof state.groupsDeltaLink !== 'string') return fullReadBecause(logger, 'groups were not read before');
  return state as EntraState;
}

function fullReadBecause(logger: ConnectorLogger | undefined, reason: string): undefined {
  logger?.warn({ connector: 'entra', reason }, 'incremental read not possible, reading everything');
  return undefined;
}

async function* read(config: EntraConfig, request: ReadRequest, ctx: ReadContext = {}): AsyncGenerator<SourceItem> {
  ctx.signal?.throwIfAborted();
  const graph = createGraphClient(config, { onRetry: ctx.onRetry });
  const previous = previousState(request, config, ctx.logger);
  try {
    yield* readRound(graph, config, previous, ctx);
  } catch (error) {
    if (!(error instanceof ResyncRequired) || !previous) throw error;
    ctx.logger?.warn({ connector: 'entra', reason: error.message }, 'delta token refused, reading everything');
    yield* readRound(graph, config, undefined, ctx);
  }
}

async function* readRound(graph: GraphClient, config: EntraConfig, previous: EntraState | undefined, ctx: ReadContext): AsyncGenerator<SourceItem> {
  const partial = previous !== undefined;
  const scope = config.scope === 'all' ? undefined : await scopeMembers(graph, config.scope.groups, ctx.signal);
  const yielded = new Set<string>();
  const mapperOptions = { attributeMap: config.attributeMap, defaultCountry: config.defaultCountry };

  let link = previous?.usersDeltaLink ?? `users/delta?$select=${selectedProperties(config).join(',')}`;
  let usersDeltaLink: string | undefined;
  while (!usersDeltaLink) {
    const page = await graph.page(link, { signal: ctx.signal, pageSize: config.pageSize, permission: USERS_PERMISSION });
    const changed: string[] = [];
    for (const object of page.value) {
      const id = object.id;
      if (typeof id !== 'string' || id === '') throw new ConnectorError('protocol', 'Graph sent a user without an id');
      if (removedReason(object) !== undefined) {
        // A full round lists the users that exist: a removal there says nothing the comparison will not.
        if (partial && (!scope || previous?.scopeMembers?.includes(id) || scope.has(id))) yield mapRemovedUser(object);
        continue;
      }
      if (scope && !scope.has(id)) continue;
      yielded.add(id);
      if (partial) changed.push(id);
      else yield mapGraphUser(object, mapperOptions);
    }
    for (const user of await readUsers(graph, config, changed, ctx.signal)) if (user) yield mapGraphUser(user, mapperOptions);
    if (page.nextLink) link = page.nextLink;
    else usersDeltaLink = page.deltaLink;
  }

  if (scope && previous) {
    // Joined the scope without changing: not in the delta, read whole. Left it: a delete.
    const before = new Set(previous.scopeMembers ?? []);
    const joined = [...scope].filter((id) => !before.has(id) && !yielded.has(id));
    for (const user of await readUsers(graph, config, joined, ctx.signal)) if (user) yield mapGraphUser(user, mapperOptions);
    for (const id of before) if (!scope.has(id)) yield { type: 'delete', anchor: id };
  }

  let groupsDeltaLink: string | undefined;
  if (config.syncGroups) {
    const result = yield* readGroups(graph, config, previous?.groupsDeltaLink, ctx);
    groupsDeltaLink = result;
  }

  const state: EntraState = { v: 1, scopeKey: scopeKeyOf(config), usersDeltaLink: usersDeltaLink! };
  if (groupsDeltaLink) state.groupsDeltaLink = groupsDeltaLink;
  if (scope) state.scopeMembers = [...scope].sort();
  yield { type: 'state', state: state as unknown as JsonValue, complete: !partial };
}

/**
 * Groups through `/groups/delta` with `members@delta`. In a full round Graph may list one group on several pages,
 * each with part of its members, so groups are gathered and yielded at the end; in an incremental round each entry
 * is a change (members added, `@removed` ones removed), yielded as it comes.
 */
async function* readGroups(graph: GraphClient, config: EntraConfig, deltaLink: string | undefined, ctx: ReadContext): AsyncGenerator<SourceItem, string> {
  const partial = deltaLink !== undefined;
  const gathered = new Map<string, SourceGroup>();
  let link = deltaLink ?? 'groups/delta?$select=displayName,description,members';
  for (;;) {
    const page = await graph.page(link, { signal: ctx.signal, pageSize: config.pageSize, permission: GROUPS_PERMISSION });
    for (const object of page.value) {
      const item = mapGraphGroup(object, partial);
      if (partial) {
        yield item;
        continue;
      }
      if (item.type !== 'group') continue;
      const seen = gathered.get(item.anchor);
      if (!seen) gathered.set(item.anchor, item);
      else {
        seen.members.push(...item.members);
        if (item.displayName !== undefined) seen.displayName = item.displayName;
      }
    }
    if (page.nextLink) {
      link = page.nextLink;
      continue;
    }
    for (const group of gathered.values()) yield group;
    return page.deltaLink!;
  }
}

/** The transitive user members of the scope's groups (ids only). */
async function scopeMembers(graph: GraphClient, groups: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
  const members = new Set<string>();
  for (const group of groups) {
    let link: string | undefined = `groups/${group}/transitiveMembers/microsoft.graph.user?$select=id&$top=999`;
    while (link) {
      const body: { value?: GraphObject[]; '@odata.nextLink'?: string } = await graph.get(link, { signal, permission: GROUPS_PERMISSION });
      for (const member of body.value ?? []) if (typeof member.id === 'string') members.add(member.id);
      link = body['@odata.nextLink'];
    }
  }
  return members;
}

/**
 * Users by id, whole: the delta's properties and the manager as `manager@delta` would give it; a user deleted
 * since is undefined (its removal comes with the next delta round).
 */
async function readUsers(graph: GraphClient, config: EntraConfig, ids: string[], signal?: AbortSignal): Promise<Array<GraphObject | undefined>> {
  if (ids.length === 0) return [];
  const select = selectedProperties(config).filter((p) => p !== 'manager');
  const users = await graph.batchGet(ids.map((id) => `users/${id}?$select=${select.join(',')}&$expand=manager($select=id)`), { signal, permission: USERS_PERMISSION });
  return users.map((user) => {
    if (!user) return undefined;
    const { manager, ...rest } = user as GraphObject & { manager?: GraphObject };
    const out: GraphObject = rest;
    delete out['@odata.context'];
    if (manager && typeof manager.id === 'string') out['manager@delta'] = [{ '@odata.type': '#microsoft.graph.user', id: manager.id }];
    return out;
  });
}
