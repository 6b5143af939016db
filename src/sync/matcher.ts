/**
 * Matching a batch's records that have no link by anchor to existing users (README, design decisions): hard keys
 * (externalId, employeeNumber) first, then, when the source allows it, soft keys (emails, userName), each only
 * when exactly one user answers; several are an error on the record, never a merge, and a user already linked to
 * another record of the source is not claimed twice.
 *
 * The candidates of the whole batch are read in one query; a key that a write of this batch touched is asked of
 * the database again (`noteWrite`), so every record sees what the earlier ones wrote.
 */
import { DomainError } from '../domain/errors.js';
import { matchKeysOf, recordEmails, recordMatchKeys, type RecordFacts } from '../domain/sync-record.js';
import type { JsonObject } from '../domain/user-rules.js';
import type { Trx } from '../db/database.js';
import { syncRunsRepo, type MatchCandidates } from '../db/sync-runs-repo.js';

export class BatchMatcher {
  /** `kind:value` match keys that a write of this batch added or removed. */
  private readonly dirtyKeys = new Set<string>();

  private constructor(
    private readonly trx: Trx,
    private readonly accountId: string,
    private readonly sourceId: string,
    private readonly softMatch: boolean,
    private readonly candidates: MatchCandidates,
    /** user → this source's anchor, exact for the users in `anchorsKnownFor`. */
    private readonly anchorOfUser: Map<string, string>,
    private readonly anchorsKnownFor: Set<string>,
  ) {}

  /** The candidates of these unlinked records, and which of them this source already links. */
  static async load(trx: Trx, accountId: string, sourceId: string, softMatch: boolean, unlinked: readonly RecordFacts[]): Promise<BatchMatcher> {
    const keys = { externalId: new Set<string>(), employeeNumber: new Set<string>(), email: new Set<string>(), userName: new Set<string>() };
    for (const record of unlinked) for (const { kind, value } of recordMatchKeys(record, softMatch)) keys[kind].add(value);
    const candidates = unlinked.length === 0
      ? { externalId: new Map(), employeeNumber: new Map(), email: new Map(), userName: new Map() }
      : await syncRunsRepo.matchCandidates(trx, accountId, {
          externalId: [...keys.externalId], employeeNumber: [...keys.employeeNumber], email: [...keys.email], userName: [...keys.userName],
        });
    const candidateIds = new Set<string>();
    for (const map of Object.values(candidates)) for (const ids of map.values()) for (const id of ids) candidateIds.add(id);
    const anchors = await syncRunsRepo.anchorsOfUsers(trx, accountId, sourceId, [...candidateIds]);
    return new BatchMatcher(trx, accountId, sourceId, softMatch, candidates, anchors, candidateIds);
  }

  /** The users a record could be matched to by a single candidate: those the batch may write (to lock with the others). */
  singleCandidates(): string[] {
    const out: string[] = [];
    for (const map of Object.values(this.candidates)) for (const ids of map.values()) if (ids.length === 1) out.push(ids[0]!);
    return out;
  }

  /** The `kind:value` keys a record is matched by (to tell whether it depends on a write not made yet). */
  keysOf(record: RecordFacts): string[] {
    return recordMatchKeys(record, this.softMatch).map(({ kind, value }) => `${kind}:${value}`);
  }

  /** A write of this batch stored `after` over `before` for this user, linked by `anchor`. */
  noteWrite(userId: string, anchor: string, before: JsonObject | undefined, after: JsonObject): void {
    this.anchorOfUser.set(userId, anchor);
    this.anchorsKnownFor.add(userId);
    for (const key of matchKeysOf(before)) this.dirtyKeys.add(key);
    for (const key of matchKeysOf(after)) this.dirtyKeys.add(key);
  }

  /** The user the record matches, none, or a DomainError (ambiguous, or the user is linked to another record). */
  async match(record: RecordFacts): Promise<string | undefined> {
    const { trx, accountId } = this;
    const lookup = async (kind: keyof MatchCandidates, value: string, query: () => Promise<string[]>): Promise<string[]> =>
      this.dirtyKeys.has(`${kind}:${value}`) ? query() : [...(this.candidates[kind].get(value) ?? [])];
    const claim = async (userId: string, how: string): Promise<string> => {
      const existing = this.anchorsKnownFor.has(userId)
        ? (this.anchorOfUser.has(userId) ? { anchor: this.anchorOfUser.get(userId)! } : undefined)
        : await syncRunsRepo.linkOfUser(trx, accountId, this.sourceId, userId);
      if (existing) throw new DomainError('conflict', `matched user ${userId} by ${how}, but it is already linked to record ${existing.anchor} of this source`);
      return userId;
    };
    const hard: [keyof MatchCandidates, string | undefined, (v: string) => Promise<string[]>][] = [
      ['externalId', record.hardKeys?.externalId, (v) => syncRunsRepo.usersByExternalId(trx, accountId, v)],
      ['employeeNumber', record.hardKeys?.employeeNumber, (v) => syncRunsRepo.usersByEmployeeNumber(trx, accountId, v)],
    ];
    // Hybrid identity first: the person an Active Directory source of the account already links by this objectGUID.
    // No batch cache: the key is found only on links of other sources, which this run does not write.
    const objectGuid = record.hardKeys?.onPremisesObjectGuid;
    if (objectGuid) {
      const ids = await syncRunsRepo.usersByOnPremisesObjectGuid(trx, accountId, objectGuid);
      if (ids.length > 1) throw new DomainError('conflict', `ambiguous match: several users are linked to objectGUID ${objectGuid} by Active Directory sources`);
      if (ids.length === 1) return claim(ids[0]!, `onPremisesImmutableId (objectGUID ${objectGuid})`);
    }
    for (const [name, value, query] of hard) {
      if (!value) continue;
      const ids = await lookup(name, value, () => query(value));
      if (ids.length > 1) throw new DomainError('conflict', `ambiguous match: several users have ${name} "${value}"`);
      if (ids.length === 1) return claim(ids[0]!, name);
    }
    if (!this.softMatch) return undefined;
    const set = new Set<string>();
    for (const email of recordEmails(record)) {
      for (const id of await lookup('email', email.toLowerCase(), () => syncRunsRepo.usersByEmailOrUserName(trx, accountId, [email], undefined))) set.add(id);
    }
    const userName = (record.attributes as JsonObject).userName;
    if (typeof userName === 'string' && userName !== '') {
      for (const id of await lookup('userName', userName.toLowerCase(), () => syncRunsRepo.usersByEmailOrUserName(trx, accountId, [], userName))) set.add(id);
    }
    const ids = [...set];
    if (ids.length > 1) throw new DomainError('conflict', `ambiguous match: ${ids.length} users match the record's emails or userName (${ids.join(', ')}); link one by hand or correct the data`);
    if (ids.length === 1) return claim(ids[0]!, 'email or userName');
    return undefined;
  }
}
