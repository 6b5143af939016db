/**
 * Groups a source reads (Entra with `syncGroups`) written as SCIM Groups the source owns: created, renamed and
 * deleted by its runs only, members given as anchors of the source's users and groups and resolved through its
 * links. Applied once the run's users are written, so members created in the same run resolve. A member the
 * source does not link (a user outside its scope, a device) is left out.
 */
import type { SourceGroup } from '../../connectors/sdk/index.js';
import { auditRepo } from '../db/audit-repo.js';
import type { Trx } from '../db/database.js';
import { groupsRepo, type StoredGroup } from '../db/groups-repo.js';
import { syncRunsRepo } from '../db/sync-runs-repo.js';

export interface GroupChanges {
  groups: SourceGroup[];
  deletes: string[];
  /** A complete read: groups of the source it did not list are deleted. */
  complete: boolean;
}

export interface GroupCounts {
  groupsCreated: number;
  groupsUpdated: number;
  groupsDeleted: number;
}

export async function applySourceGroups(trx: Trx, scope: { accountId: string; sourceId: string; actor: string; at: Date }, changes: GroupChanges): Promise<GroupCounts> {
  const { accountId, sourceId, actor, at } = scope;
  const counts: GroupCounts = { groupsCreated: 0, groupsUpdated: 0, groupsDeleted: 0 };
  const owned = await groupsRepo.ofSource(trx, accountId, sourceId);
  const audit = (action: string, group: StoredGroup, details: Record<string, unknown>) =>
    auditRepo.record(trx, { accountId, actor, writer: 'source', action, targetType: 'Group', targetId: group.id, details }, at);

  // Every group first, so that nested groups resolve whatever order they came in.
  const created = new Set<string>();
  const renamed = new Set<string>();
  for (const item of changes.groups) {
    const current = owned.get(item.anchor);
    const displayName = item.displayName?.trim() || current?.displayName || item.anchor;
    if (!current) {
      const inserted = await groupsRepo.insert(trx, accountId, { displayName, externalId: item.anchor, data: {}, updatedBy: actor, at, source: { id: sourceId, anchor: item.anchor } });
      owned.set(item.anchor, inserted);
      created.add(item.anchor);
      counts.groupsCreated++;
      await audit('group.create', inserted, { displayName, source: sourceId });
    } else if (current.displayName !== displayName) {
      await groupsRepo.update(trx, current, { displayName, externalId: current.externalId, data: current.data, updatedBy: actor, at });
      owned.set(item.anchor, { ...current, displayName, version: current.version + 1 });
      renamed.add(item.anchor);
    }
  }

  const userAnchors = new Set<string>();
  for (const item of changes.groups) for (const m of [...item.members.map((x) => x.anchor), ...(item.removedMembers ?? [])]) if (!owned.has(m)) userAnchors.add(m);
  const links = await syncRunsRepo.linksByAnchors(trx, accountId, sourceId, [...userAnchors]);
  const idOf = (anchor: string): string | undefined => owned.get(anchor)?.id ?? links.get(anchor)?.userId;

  for (const item of changes.groups) {
    const group = owned.get(item.anchor)!;
    const current = await groupsRepo.memberIds(trx, accountId, group.id);
    const wanted = new Map<string, 'User' | 'Group'>();
    for (const m of item.members) {
      const id = idOf(m.anchor);
      if (id && id !== group.id) wanted.set(id, owned.has(m.anchor) ? 'Group' : 'User');
    }
    const removed = item.partial ? (item.removedMembers ?? []).map(idOf).filter((id): id is string => !!id && current.has(id)) : [...current].filter((id) => !wanted.has(id));
    const added = [...wanted].filter(([id]) => !current.has(id)).map(([id, type]) => ({ id, type }));
    if (removed.length > 0) await groupsRepo.removeMembers(trx, accountId, group.id, removed);
    if (added.length > 0) await groupsRepo.addMembers(trx, accountId, group.id, added);
    const membersChanged = added.length + removed.length > 0;
    // The version (the group's ETag) moves with its members too.
    if (membersChanged) await groupsRepo.update(trx, group, { displayName: group.displayName, externalId: group.externalId, data: group.data, updatedBy: actor, at });
    if (created.has(item.anchor)) continue;
    if (membersChanged || renamed.has(item.anchor)) {
      counts.groupsUpdated++;
      await audit('group.update', group, { displayName: group.displayName, added: added.length, removed: removed.length, source: sourceId });
    }
  }

  const gone = new Set(changes.deletes);
  if (changes.complete) {
    const listed = new Set(changes.groups.map((g) => g.anchor));
    for (const anchor of owned.keys()) if (!listed.has(anchor)) gone.add(anchor);
  }
  for (const anchor of gone) {
    const group = owned.get(anchor);
    if (!group) continue;
    await groupsRepo.delete(trx, accountId, group.id);
    counts.groupsDeleted++;
    await audit('group.delete', group, { source: sourceId });
  }
  return counts;
}
