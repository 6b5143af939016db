/**
 * The SCIM representation of a user, in two steps: `storedUserResource` renders everything but the base URL (the
 * users row keeps it in `users.resource`, written by the write path in the same statement as the row), and
 * `withBase` adds what depends on the request's base URL (meta.location, the groups' $ref). A read by id or by
 * `userName eq` then reads one column of one row, the reason the stored form exists: measured at 10,000 users, the
 * read of the row with its groups and links and the rendering of it ran at about 45 % of a server that reads one
 * stored document by primary key (issue 10). `toUserResource` renders from the row and its groups and links
 * directly: the plain form, which the stored one is held equal to (test/db/stored-resource.test.ts).
 */
import { fieldOwners, type SourceKind } from './ownership.js';
import { SWITCHBOARD_URN } from './user-rules.js';

type JsonObject = Record<string, unknown>;
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

/** What a user's representation is made of: its row, its direct groups and its source links. */
export interface UserRenderInput {
  id: string;
  doc: JsonObject;
  registered: boolean;
  source: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: string | null;
  groups: readonly { value: string; display: string }[];
  links: readonly { sourceId: string; kind: string; ownedAttributes: readonly string[]; anchor: string; raw?: unknown }[];
}

/**
 * lockedAttributes by the links' claims, each distinct value made once and frozen: the users a source writes mostly
 * share one (the source's attributes), so a batch's representations hold the same array, which the users
 * statements send once however many users hold it (users-repo.ts sharedLocks). Bounded: a process writing many
 * distinct claims starts over.
 */
const lockedByClaims = new Map<string, readonly JsonObject[] | undefined>();
const MAX_LOCKED_KINDS = 512;

function lockedAttributesOf(sorted: UserRenderInput['links']): readonly JsonObject[] | undefined {
  let key = '';
  for (const l of sorted) key += `${l.sourceId}\u0001${l.kind}\u0001${l.ownedAttributes.join('\u0002')}\u0003`;
  if (lockedByClaims.has(key)) return lockedByClaims.get(key);
  const owners = fieldOwners(sorted.map((l) => ({ sourceId: l.sourceId, kind: l.kind as SourceKind, ownedAttributes: l.ownedAttributes })));
  const locked = owners.size === 0
    ? undefined
    : Object.freeze(
        [...owners]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([attribute, owner]) => Object.freeze({ attribute, source: owner.kind, sourceId: owner.sourceId })),
      );
  if (lockedByClaims.size >= MAX_LOCKED_KINDS) lockedByClaims.clear();
  lockedByClaims.set(key, locked);
  return locked;
}

/** The computed part of the Switchboard extension that comes from the source links: connections and lockedAttributes. */
export function linkState(links: UserRenderInput['links']): { connections: JsonObject; lockedAttributes?: readonly JsonObject[] } {
  let pbx = false;
  let micloud = false;
  for (const link of links) {
    if (link.kind === 'mivb') pbx = true;
    else if (link.kind === 'micloud') micloud = true;
  }
  // Links in sourceId order and owners by attribute: the same links give the same array, in whatever order read.
  const sorted = links.length < 2 ? links : [...links].sort((a, b) => (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0));
  const state: { connections: JsonObject; lockedAttributes?: readonly JsonObject[] } = { connections: { pbx, micloud, iot: false } };
  const locked = lockedAttributesOf(sorted);
  if (locked) state.lockedAttributes = locked;
  return state;
}

/**
 * The representation without its base URL: the document plus id, meta (no location), the groups as
 * `{ value, display }` (always present, in display-name order) and the computed Switchboard extension, without
 * `advanced` (the raw source records are only read when asked for).
 */
export function storedUserResource(user: UserRenderInput): JsonObject {
  const doc = user.doc;
  const ext: JsonObject = { ...((doc[SWITCHBOARD_URN] as JsonObject | undefined) ?? {}), registered: user.registered, source: user.source, ...linkState(user.links) };
  if (user.updatedBy) ext.modifiedBy = user.updatedBy;
  const schemas = Array.isArray(doc.schemas) ? [...(doc.schemas as string[])] : [CORE_USER];
  if (!schemas.includes(SWITCHBOARD_URN)) schemas.push(SWITCHBOARD_URN);
  const resource: JsonObject = { ...doc, schemas, id: user.id };
  // Stored as active when the client sent none (users-repo derivedColumns): filters match on that, so the
  // representation says so too.
  if (doc.active === undefined) resource.active = true;
  resource[SWITCHBOARD_URN] = ext;
  resource.groups = user.groups.map((g) => ({ value: g.value, display: g.display }));
  resource.meta = { resourceType: 'User', created: user.createdAt.toISOString(), lastModified: user.updatedAt.toISOString(), version: `W/"${user.version}"` };
  return resource;
}

/** A stored representation completed for a request's base URL: meta.location and each group's $ref. A new object; `stored` is not changed. */
export function withBase(stored: JsonObject, scimBase: string): JsonObject {
  const resource: JsonObject = { ...stored };
  const groups = stored.groups as { value: string; display: string }[] | undefined;
  if (groups && groups.length > 0) resource.groups = groups.map((g) => ({ value: g.value, display: g.display, $ref: `${scimBase}/Groups/${g.value}`, type: 'direct' }));
  else delete resource.groups;
  resource.meta = { ...(stored.meta as JsonObject), location: `${scimBase}/Users/${String(stored.id)}` };
  return resource;
}

/** The SCIM representation rendered from the row, its groups and links: with the seed's "Advance section" when the links carry their raw records. */
export function toUserResource(user: UserRenderInput, scimBase: string): JsonObject {
  const resource = withBase(storedUserResource(user), scimBase);
  if (user.links.some((l) => l.raw !== undefined)) {
    const ext = resource[SWITCHBOARD_URN] as JsonObject;
    ext.advanced = user.links.map((l) => ({ source: l.kind, sourceId: l.sourceId, anchor: l.anchor, data: JSON.stringify(l.raw ?? {}) }));
  }
  return resource;
}
