import { compileListCriteria, type ListCriteria } from '../db/list-filter.js';
import type { Knex } from 'knex';
import { DomainError, notFound } from '../domain/errors.js';
import { auditRepo } from '../db/audit-repo.js';
import { groupsRepo, type StoredGroup } from '../db/groups-repo.js';
import { sourcesRepo } from '../db/sources-repo.js';
import type { Clock } from '../lib/clock.js';

export interface MemberChangeSet {
  replaceAll?: { value: string }[];
  add: { value: string }[];
  remove: string[];
  removeAll: boolean;
}

/** Groups with members as rows: one member change costs the same in a group of 5 or 50 000. */
export class GroupService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
  ) {}

  /** The service's time: list cursors are issued and expire by it. */
  now(): Date {
    return this.clock.now();
  }

  async get(accountId: string, id: string): Promise<StoredGroup> {
    const group = await groupsRepo.findById(this.db, accountId, id);
    if (!group) throw notFound(`Group ${id}`);
    return group;
  }

  members(accountId: string, ids: string[]) {
    return groupsRepo.members(this.db, accountId, ids);
  }

  /** A page of groups: the request's SCIM filter and sortBy are compiled to SQL here (a bad one is a DomainError). */
  list(accountId: string, request: Omit<Parameters<typeof groupsRepo.list>[2], 'where' | 'orderBy'> & ListCriteria) {
    const { filter, sortBy, ...query } = request;
    return groupsRepo.list(this.db, accountId, { ...query, ...compileListCriteria('group', { filter, sortBy }) });
  }

  /** totalResults of a SCIM filter (all groups without one). */
  count(accountId: string, filter?: string) {
    return groupsRepo.count(this.db, accountId, compileListCriteria('group', { filter }).where);
  }

  /** A group a source owns is written only by that source's runs: any other write is 400 mutability naming it. */
  private async refuseSourceOwned(trx: Knex.Transaction, group: StoredGroup): Promise<void> {
    if (!group.sourceId) return;
    const source = await sourcesRepo.findById(trx, group.accountId, group.sourceId);
    const owner = source ? `source "${source.name}" (${source.kind}, id ${source.id})` : `source ${group.sourceId}`;
    throw new DomainError('mutability', `Group "${group.displayName}" is owned by ${owner}: change it, and its members, in the source`);
  }

  private async applyMembers(trx: Knex.Transaction, accountId: string, groupId: string, changes: MemberChangeSet): Promise<void> {
    const incoming = changes.replaceAll ?? changes.add;
    const ids = [...new Set(incoming.map((m) => m.value))];
    if (ids.includes(groupId)) throw new DomainError('invalidValue', 'A group cannot be a member of itself');
    const types = await groupsRepo.memberTypes(trx, accountId, ids);
    const unknown = ids.filter((id) => !types.has(id));
    if (unknown.length > 0) throw new DomainError('invalidValue', `No user or group ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} in this account: members must be ids of existing users or groups`);
    if (changes.replaceAll || changes.removeAll) await groupsRepo.removeMembers(trx, accountId, groupId, 'all');
    else if (changes.remove.length > 0) await groupsRepo.removeMembers(trx, accountId, groupId, changes.remove);
    await groupsRepo.addMembers(trx, accountId, groupId, ids.map((id) => ({ id, type: types.get(id)! })));
  }

  async create(accountId: string, actor: string, input: { displayName: string; externalId: string | null; data: Record<string, unknown>; members: { value: string }[] }): Promise<StoredGroup> {
    return this.db.transaction(async (trx) => {
      const group = await groupsRepo.insert(trx, accountId, { ...input, updatedBy: actor, at: this.clock.now() });
      if (input.members.length > 0) await this.applyMembers(trx, accountId, group.id, { add: input.members, remove: [], removeAll: false });
      await auditRepo.record(trx, { accountId, actor, action: 'group.create', targetType: 'Group', targetId: group.id, details: { displayName: input.displayName } }, this.clock.now());
      return group;
    });
  }

  /** Read-modify-write under the row lock; `change` sees the current group and says what to do. */
  async update(
    accountId: string,
    actor: string,
    id: string,
    ifMatch: number | undefined,
    change: (current: StoredGroup) => { displayName: string; externalId: string | null; data: Record<string, unknown>; members: MemberChangeSet; attributesChanged: boolean },
  ): Promise<number> {
    // The group's version after the change: a PATCH answered 204 still names it in its ETag.
    return this.db.transaction(async (trx) => {
      const current = await groupsRepo.findById(trx, accountId, id, true);
      if (!current) throw notFound(`Group ${id}`);
      if (ifMatch !== undefined && ifMatch !== current.version) throw new DomainError('preconditionFailed', `Group ${id} is at version W/"${current.version}", not W/"${ifMatch}"`);
      await this.refuseSourceOwned(trx, current);
      const next = change(current);
      if (typeof next.displayName !== 'string' || next.displayName.trim() === '') throw new DomainError('invalidValue', 'displayName is required');
      const m = next.members;
      const membersChanged = !!m.replaceAll || m.removeAll || m.add.length > 0 || m.remove.length > 0;
      if (membersChanged) await this.applyMembers(trx, accountId, id, m);
      if (next.attributesChanged || membersChanged) {
        await groupsRepo.update(trx, current, { displayName: next.displayName, externalId: next.externalId, data: next.data, updatedBy: actor, at: this.clock.now() });
        await auditRepo.record(
          trx,
          { accountId, actor, action: 'group.update', targetType: 'Group', targetId: id, details: { added: m.add.length + (m.replaceAll?.length ?? 0), removed: m.removeAll ? 'all' : m.remove.length } },
          this.clock.now(),
        );
        return current.version + 1;
      }
      return current.version;
    });
  }

  async delete(accountId: string, actor: string, id: string, ifMatch?: number): Promise<void> {
    await this.db.transaction(async (trx) => {
      const current = await groupsRepo.findById(trx, accountId, id, true);
      if (!current) throw notFound(`Group ${id}`);
      if (ifMatch !== undefined && ifMatch !== current.version) throw new DomainError('preconditionFailed', `Group ${id} is at version W/"${current.version}", not W/"${ifMatch}"`);
      await this.refuseSourceOwned(trx, current);
      await groupsRepo.delete(trx, accountId, id);
      await auditRepo.record(trx, { accountId, actor, action: 'group.delete', targetType: 'Group', targetId: id }, this.clock.now());
    });
  }
}
