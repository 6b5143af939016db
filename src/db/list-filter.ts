import { parseScimFilter } from '../domain/scim-filter.js';
import { compileFilter, sortExpression } from './scim-filter-sql.js';
import { userCountSql } from './accounts-repo.js';
import { columnMapping, groupsMapping, usersMapping } from './resource-mappings.js';
import { resourceTypes } from '../domain/scim-schemas.js';
import { auditEventResourceType } from '../domain/audit.js';
import { checkUserFilterRules } from '../domain/user-filter-rules.js';

/** SQL mappings per listable resource, built once: filters are compiled to SQL, never run in memory. */
const mappings = {
  user: usersMapping('u'),
  group: groupsMapping('g'),
  account: columnMapping(resourceTypes.account, 'a', {
    id: 'a.id',
    externalId: 'a.external_id',
    name: 'a.name',
    type: 'a.type',
    parentId: 'a.parent_id',
    userCount: userCountSql('a.id'),
    'meta.created': 'a.created_at',
    'meta.lastModified': 'a.updated_at',
  }),
  token: columnMapping(resourceTypes.token, 't', {
    id: 't.id',
    role: 't.role',
    description: 't.description',
    userId: 't.user_id',
    expiresAt: 't.expires_at',
    lastUsedAt: 't.last_used_at',
    revokedAt: 't.revoked_at',
    'meta.created': 't.created_at',
  }),
  auditEvent: columnMapping(auditEventResourceType, 'a', {
    id: { sql: 'a.id::text', type: 'text', nullable: false },
    at: { sql: 'a.at', nullable: false },
    actor: { sql: 'a.actor', nullable: false },
    writer: { sql: 'a.writer', nullable: false },
    action: { sql: 'a.action', nullable: false },
    targetType: 'a.target_type',
    targetId: 'a.target_id',
    userId: 'a.user_id',
    changedAttributes: { jsonb: "a.details->'changed'" },
    'meta.created': 'a.at',
    'meta.lastModified': 'a.at',
  }),
};

export type ListableResource = keyof typeof mappings;

/**
 * `accountId`: the account listed, when the list is of one account's rows (FilterScope): a condition on emails, phone
 * numbers or extensions in an `or` then reads their index for this account instead of every user of it.
 */
export function compileListFilter(filter: string, resource: ListableResource, accountId?: string): { sql: string; bindings: unknown[] } {
  const node = parseScimFilter(filter);
  if (resource === 'user') checkUserFilterRules(node, resourceTypes.user);
  return compileFilter(node, mappings[resource], accountId === undefined ? undefined : { accountId });
}

export function mappingOf(resource: ListableResource) {
  return mappings[resource];
}

/** What a list request asks in SCIM terms: its filter and sortBy, as the client wrote them. */
export interface ListCriteria {
  filter?: string | undefined;
  sortBy?: string | undefined;
}

/** A list request's filter and sortBy compiled to SQL for `resource` (each absent when not asked); `accountId` as for compileListFilter. */
export function compileListCriteria(resource: ListableResource, criteria: ListCriteria, accountId?: string): { where?: { sql: string; bindings: unknown[] }; orderBy?: string } {
  return {
    ...(criteria.filter ? { where: compileListFilter(criteria.filter, resource, accountId) } : {}),
    ...(criteria.sortBy ? { orderBy: sortExpression(mappings[resource], criteria.sortBy).sql } : {}),
  };
}
