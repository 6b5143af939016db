import type { UserView } from '../db/users-repo.js';
import { SWITCHBOARD_URN } from '../domain/user-rules.js';
import { fieldOwners } from '../domain/ownership.js';
import type { SourceKind } from '../domain/ownership.js';
import { etagOf } from './scim-http.js';

type JsonObject = Record<string, unknown>;

/** The SCIM representation of a stored user: the document plus id, meta, groups and the computed state. */
export function toUserResource(user: UserView, scimBase: string): JsonObject {
  const doc: JsonObject = { ...user.doc };
  const owners = fieldOwners(user.links.map((l) => ({ sourceId: l.sourceId, kind: l.kind as SourceKind, ownedAttributes: l.ownedAttributes })));
  const kinds = new Set(user.links.map((l) => l.kind));
  const ext: JsonObject = {
    ...((doc[SWITCHBOARD_URN] as JsonObject | undefined) ?? {}),
    registered: user.registered,
    source: user.source,
    connections: { pbx: kinds.has('mivb'), micloud: kinds.has('micloud'), iot: false },
    ...(owners.size > 0 ? { lockedAttributes: [...owners].map(([attribute, owner]) => ({ attribute, source: owner.kind })) } : {}),
    ...(user.updatedBy ? { modifiedBy: user.updatedBy } : {}),
    // The seed's "Advance section": the last record each source gave, only when asked for.
    ...(user.links.some((l) => l.raw !== undefined)
      ? { advanced: user.links.map((l) => ({ source: l.kind, sourceId: l.sourceId, anchor: l.anchor, data: JSON.stringify(l.raw ?? {}) })) }
      : {}),
  };
  doc[SWITCHBOARD_URN] = ext;
  const schemas = Array.isArray(doc.schemas) ? [...(doc.schemas as string[])] : ['urn:ietf:params:scim:schemas:core:2.0:User'];
  if (!schemas.includes(SWITCHBOARD_URN)) schemas.push(SWITCHBOARD_URN);
  return {
    ...doc,
    schemas,
    id: user.id,
    ...(user.groups.length > 0 ? { groups: user.groups.map((g) => ({ value: g.value, display: g.display, $ref: `${scimBase}/Groups/${g.value}`, type: 'direct' })) } : {}),
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: user.updatedAt.toISOString(),
      location: `${scimBase}/Users/${user.id}`,
      version: etagOf(user.version),
    },
  };
}
