export { parsePatchRequest, isJsonObject } from './patch-request.js';
export type { JsonObject, JsonValue, JsonPrimitive, PatchOpName, PatchOperation } from './patch-request.js';
export { applyPatch } from './apply-patch.js';
export type { ApplyPatchOptions, PatchResult } from './apply-patch.js';
export { planGroupPatch } from './group-patch.js';
export type { GroupPatchPlan, GroupPatchTarget, MemberRef } from './group-patch.js';
