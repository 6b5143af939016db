import type { UserView } from '../db/users-repo.js';
import { SWITCHBOARD_URN } from '../domain/user-rules.js';
import { fieldOwners } from '../domain/ownership.js';
import type { SourceKind } from '../domain/ownership.js';
import { etagOf } from './scim-http.js';

type JsonObject = Record<string, unknown>;
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

/**
 * The SCIM representation of a stored user: the document plus id, meta, groups and the computed state.
 * Built with one copy of the document: every listed user passes through here.
 */
export function toUserResource(user: UserView, scimBase: string): JsonObject {
  const doc = user.doc;
  const links = user.links;
  const ext: JsonObject = { ...((doc[SWITCHBOARD_URN] as JsonObject | undefined) ?? {}), registered: user.registered, source: user.source };
  let pbx = false;
  let micloud = false;
  let withRaw = false;
  for (const link of links) {
    if (link.kind === 'mivb') pbx = true;
    else if (link.kind === 'micloud') micloud = true;
    if (link.raw !== undefined) withRaw = true;
  }
  ext.connections = { pbx, micloud, iot: false };
  if (links.length > 0) {
    const owners = fieldOwners(links.map((l) => ({ sourceId: l.sourceId, kind: l.kind as SourceKind, ownedAttributes: l.ownedAttributes })));
    if (owners.size > 0) ext.lockedAttributes = [...owners].map(([attribute, owner]) => ({ attribute, source: owner.kind, sourceId: owner.sourceId }));
  }
  if (user.updatedBy) ext.modifiedBy = user.updatedBy;
  // The seed's "Advance section": the last record each source gave, only when asked for.
  if (withRaw) ext.advanced = links.map((l) => ({ source: l.kind, sourceId: l.sourceId, anchor: l.anchor, data: JSON.stringify(l.raw ?? {}) }));

  const schemas = Array.isArray(doc.schemas) ? [...(doc.schemas as string[])] : [CORE_USER];
  if (!schemas.includes(SWITCHBOARD_URN)) schemas.push(SWITCHBOARD_URN);
  const resource: JsonObject = { ...doc, schemas, id: user.id };
  // Stored as active when the client sent none (users-repo derivedColumns): filters match on that, so the
  // representation says so too.
  if (doc.active === undefined) resource.active = true;
  resource[SWITCHBOARD_URN] = ext;
  if (user.groups.length > 0) resource.groups = user.groups.map((g) => ({ value: g.value, display: g.display, $ref: `${scimBase}/Groups/${g.value}`, type: 'direct' }));
  resource.meta = {
    resourceType: 'User',
    created: user.createdAt.toISOString(),
    lastModified: user.updatedAt.toISOString(),
    location: `${scimBase}/Users/${user.id}`,
    version: etagOf(user.version),
  };
  return resource;
}
