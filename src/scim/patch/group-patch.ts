import { DomainError } from '../../domain/errors.js';
import type { FilterNode } from '../../domain/scim-filter.js';
import type { AttributeDef } from '../../domain/scim-schema.js';
import { resourceTypes } from '../schemas.js';
import { applyOperationAt, withOperation } from './apply-patch.js';
import { parsePatchPath } from './patch-path.js';
import { isJsonObject, type JsonObject, type JsonValue, type PatchOpName, type PatchOperation } from './patch-request.js';
import { coerceSingle, jsonEqual } from './patch-value.js';

export interface MemberRef {
  value: string;
  type?: 'User' | 'Group';
}

/** A stored group without its members, which are never loaded as a whole (a group may have 50 000). */
export interface GroupPatchTarget {
  id: string;
  displayName: string;
  externalId?: string | null;
  /** Other non-member attributes as stored. */
  data?: JsonObject | null;
}

/**
 * The member changes of a group PATCH, with every operation already applied in order. Exactly one shape:
 * - `replaceAll` (non-empty): the members become exactly this list; `add`/`remove` are empty;
 * - `removeAll: true`: the group ends with no members; `add`/`remove` are empty;
 * - otherwise a delta: remove the `remove` ids, then add the `add` refs (the two never share an id).
 */
export interface MemberChanges {
  replaceAll?: MemberRef[];
  add: MemberRef[];
  remove: string[];
  removeAll: boolean;
}

export interface GroupPatchPlan {
  /** displayName, externalId and the other non-member attributes after the patch. */
  attributes: JsonObject;
  attributesChanged: boolean;
  /** Canonical paths of the non-member attributes changed. */
  touched: string[];
  members: MemberChanges;
}

const groupType = resourceTypes.group;
const membersDef = groupType.schema.attributes.find((a) => a.name === 'members') as AttributeDef;

class MemberPlan {
  private exact: Map<string, MemberRef> | undefined;
  private readonly add = new Map<string, MemberRef>();
  private readonly remove = new Set<string>();

  addMember(ref: MemberRef): void {
    if (this.exact) this.exact.set(ref.value, ref);
    else {
      this.remove.delete(ref.value);
      this.add.set(ref.value, ref);
    }
  }

  removeMember(id: string): void {
    if (this.exact) this.exact.delete(id);
    else {
      this.add.delete(id);
      this.remove.add(id);
    }
  }

  replaceAll(refs: MemberRef[]): void {
    this.exact = new Map(refs.map((r) => [r.value, r]));
    this.add.clear();
    this.remove.clear();
  }

  result(): MemberChanges {
    if (this.exact) {
      return this.exact.size > 0
        ? { replaceAll: [...this.exact.values()], add: [], remove: [], removeAll: false }
        : { add: [], remove: [], removeAll: true };
    }
    return { add: [...this.add.values()], remove: [...this.remove], removeAll: false };
  }
}

/** Members in a request: [{value, type?, display?, $ref?}] (a lone object or bare id is taken as one). */
function memberRefs(value: JsonValue | undefined): MemberRef[] {
  if (value === undefined || value === null) throw new DomainError('invalidValue', 'Give the members as [{"value": "<id>"}].');
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    const member = coerceSingle({ ...membersDef, multiValued: false }, item, 'members') as JsonObject;
    if (typeof member.value !== 'string' || member.value === '') {
      throw new DomainError('invalidValue', `Each member needs a "value" with the member's id, got ${JSON.stringify(item)}.`);
    }
    const ref: MemberRef = { value: member.value };
    if (typeof member.type === 'string') {
      const type = member.type.toLowerCase();
      if (type !== 'user' && type !== 'group') {
        throw new DomainError('invalidValue', `members.type must be "User" or "Group", got "${member.type}".`);
      }
      ref.type = type === 'user' ? 'User' : 'Group';
    }
    return ref;
  });
}

/** The ids a members filter names: `value eq "<id>"`, possibly joined by `or`. */
function memberIds(filter: FilterNode): string[] | undefined {
  if (filter.op === 'eq') return filter.attrPath.toLowerCase() === 'value' && typeof filter.value === 'string' ? [filter.value] : undefined;
  if (filter.op === 'or') {
    const ids: string[] = [];
    for (const f of filter.filters) {
      const part = memberIds(f);
      if (!part) return undefined;
      ids.push(...part);
    }
    return ids;
  }
  return undefined;
}

function applyMembers(plan: MemberPlan, op: PatchOpName, path: ReturnType<typeof parsePatchPath> | undefined, value: JsonValue | undefined): void {
  if (path?.subAttribute) {
    throw new DomainError('mutability', "A member's sub-attributes are immutable; remove the member and add it again instead.");
  }
  if (path?.filter) {
    if (op !== 'remove') {
      throw new DomainError('invalidPath', `"${op}" on selected members is not supported; use {"op":"add","path":"members","value":[{"value":"<id>"}]}.`);
    }
    const ids = memberIds(path.filter);
    if (!ids) throw new DomainError('invalidFilter', 'Members can only be selected with value eq "<id>", optionally joined by "or".');
    ids.forEach((id) => plan.removeMember(id));
    return;
  }
  if (op === 'add') memberRefs(value).forEach((ref) => plan.addMember(ref));
  else if (op === 'replace') plan.replaceAll(value === null ? [] : memberRefs(value));
  else if (value === undefined || value === null) plan.replaceAll([]);
  else memberRefs(value).forEach((ref) => plan.removeMember(ref.value)); // Entra: remove members with a value array
}

/**
 * Plans a group PATCH (RFC 7644 §3.5.2) without loading its members: non-member operations are applied to the
 * group's attributes, member operations (Entra's and Okta's forms) become a member plan, all in request order.
 * Throws DomainError like applyPatch; nothing is changed by a throw.
 */
export function planGroupPatch(ops: PatchOperation[], group: GroupPatchTarget): GroupPatchPlan {
  const { members: _ignored, ...data } = group.data ?? {};
  const before: JsonObject = { ...data, displayName: group.displayName };
  if (group.externalId !== undefined && group.externalId !== null) before.externalId = group.externalId;
  const attributes = structuredClone(before);
  const plan = new MemberPlan();
  const touched: string[] = [];
  const options = { id: group.id };
  const groupUrn = groupType.schema.id.toLowerCase();

  ops.forEach((op, index) => {
    let { path, value } = op;
    if (path !== undefined && path.toLowerCase() === groupUrn) {
      if (op.op === 'remove') withOperation(index, op, () => { throw new DomainError('invalidPath', 'The core Group schema cannot be removed.'); });
      path = undefined;
    }
    if (path === undefined) {
      // No path: pull "members" (also inside a core-URN object) out of the value, apply the rest as attributes.
      const rest: JsonObject = {};
      for (const [key, v] of Object.entries(value as JsonObject)) {
        if (key.toLowerCase() === groupUrn && isJsonObject(v)) {
          for (const [inner, iv] of Object.entries(v)) {
            if (inner.toLowerCase() === 'members') withOperation(index, op, () => applyMembers(plan, op.op, undefined, iv));
            else rest[inner] = iv;
          }
        } else if (key.toLowerCase() === 'members') withOperation(index, op, () => applyMembers(plan, op.op, undefined, v));
        else rest[key] = v;
      }
      if (Object.keys(rest).length > 0) applyOperationAt(attributes, { op: op.op, value: rest }, index, groupType, options, touched);
      return;
    }
    const parsed = withOperation(index, op, () => parsePatchPath(groupType, path));
    if (parsed.attribute.name === 'members') withOperation(index, op, () => applyMembers(plan, op.op, parsed, value));
    else applyOperationAt(attributes, op, index, groupType, options, touched);
  });

  return { attributes, attributesChanged: !jsonEqual(before, attributes), touched, members: plan.result() };
}
