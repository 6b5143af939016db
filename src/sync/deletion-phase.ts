/**
 * The deletion phase of a run (README, design decisions): after a complete read, or on the read's
 * explicit deletes, the linked users not seen are deactivated (active:false through the write path, the link
 * marked missing) unless that is more than the source's threshold; users missing longer than the grace period
 * are deleted by the seed's delete rules. The final checkpoint is saved with the last deactivations.
 */
import type { JsonValue } from '../../connectors/sdk/index.js';
import { diffOf, thresholdCheck } from '../domain/sync-record.js';
import { deletesAfterGrace } from '../domain/user-rules.js';
import type { Database, Trx } from '../db/database.js';
import { seenAnchorsRepo } from '../db/seen-anchors-repo.js';
import { sourceLinksRepo } from '../db/source-links-repo.js';
import { sourcesRepo } from '../db/sources-repo.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { UserService } from '../services/user-service.js';
import { messageOf, type RunContext } from './run-context.js';
import { syncRunsRepo, type SyncResult } from '../db/sync-runs-repo.js';

export interface DeletionPhaseDeps {
  db: Pick<Database, 'knex'>;
  users: UserService;
  clock: Clock;
  logger: Logger;
  batchSize: number;
  /** Runs `fn` in a batch transaction of the run (results and counts saved with it; a dry run rolled back). */
  inTransaction: (ctx: RunContext, fn: (trx: Trx) => Promise<SyncResult[]>) => Promise<void>;
}

/** Returns true when the threshold stopped the run. */
export async function deletionPhase(deps: DeletionPhaseDeps, ctx: RunContext, finalState: { state: JsonValue; complete: boolean } | undefined): Promise<boolean> {
  const { knex } = deps.db;
  const { accountId, source } = ctx;
  // The links are compared with the anchors the read yielded in SQL (seen-anchors-repo.ts), page by page: the run
  // holds neither, whatever the size of the source.
  const run = { accountId, sourceId: source.id, runId: ctx.run.id };
  const query = { deletes: ctx.deletes, complete: finalState?.complete === true };
  const linked = await seenAnchorsRepo.liveLinks(knex, accountId, source.id);
  const deactivations = await seenAnchorsRepo.countToDeactivate(knex, run, query);
  const threshold = { count: source.deleteThresholdCount, percent: source.deleteThresholdPercent };
  const verdict = thresholdCheck(threshold, linked, deactivations, ctx.options.allowDeletes === true);
  if (verdict.stop) {
    deps.logger.warn({ accountId, sourceId: source.id, deactivations, linked }, 'deletion threshold exceeded: run stopped before deactivating');
    ctx.counts.deactivated = 0;
    await syncRunsRepo.saveCounts(knex, accountId, ctx.run.id, ctx.counts);
    ctx.thresholdError = verdict.message;
    return true;
  }
  const now = deps.clock.now();
  // The source kind's policy: MiCloud Connect users, for one, are never deleted (they stay deactivated). Read before
  // the deactivations, which start the grace period of others.
  const expired = deletesAfterGrace(source.kind) ? await seenAnchorsRepo.expired(knex, run, new Date(now.getTime() - source.gracePeriodDays * 24 * 3600_000)) : [];

  // Pages in anchor order, each in its transaction; the last one (shorter than a batch, possibly empty) saves the
  // final checkpoint. A dry run rolls each page back, and the keyset still moves on.
  let after: string | null = null;
  for (let last = false; !last; ) {
    await deps.inTransaction(ctx, async (trx) => {
      const slice = await seenAnchorsRepo.toDeactivate(trx, run, query, after, deps.batchSize);
      last = slice.length < deps.batchSize;
      after = slice.at(-1)?.anchor ?? after;
      const userIds = slice.map((l) => l.userId);
      const current = await syncRunsRepo.usersForUpdate(trx, accountId, userIds);
      const linksOf = await sourceLinksRepo.forUsers(trx, accountId, userIds);
      const targets = slice.flatMap(({ anchor, userId }) => {
        const user = current.get(userId);
        return user ? [{ anchor, user, links: linksOf.get(user.id) ?? [] }] : [];
      });
      const written = await deps.users.write(
        trx,
        accountId,
        ctx.writer,
        targets.map(({ anchor, user, links: userLinks }) => {
          const stored = userLinks.find((l) => l.sourceId === source.id && l.anchor === anchor);
          return {
            current: user, next: { ...user.doc, active: false }, links: userLinks, anchor,
            raw: stored?.raw ?? {}, ownedAttributes: [...new Set([...(stored?.ownedAttributes ?? []), 'active'])],
          };
        }),
      );
      const results: SyncResult[] = [];
      for (const [j, { anchor, user }] of targets.entries()) {
        const outcome = written[j]!;
        if (!outcome.ok) {
          ctx.counts.quarantined++;
          results.push({ seq: ++ctx.seq, anchor, userId: user.id, outcome: 'quarantined', changes: {}, error: `deactivation failed: ${messageOf(outcome.error)}` });
          continue;
        }
        // A soft delete leaves the grace period unstarted; clearing the hash makes the record's return (a restore) a change.
        if (ctx.softDeletes.has(anchor)) await syncRunsRepo.setLinkHash(trx, accountId, source.id, anchor, null);
        else await syncRunsRepo.setMissingSince(trx, accountId, source.id, anchor, now);
        ctx.counts.deactivated++;
        results.push({ seq: ++ctx.seq, anchor, userId: user.id, outcome: 'deactivated', changes: diffOf(user.doc, outcome.result.user.doc), error: null });
      }
      if (last && finalState && !ctx.options.dryRun) await sourcesRepo.saveState(trx, accountId, source.id, finalState.state, now);
      return results;
    });
  }

  for (const link of expired) {
    if (ctx.options.dryRun) {
      ctx.counts.deleted++;
      await syncRunsRepo.insertResults(knex, accountId, ctx.run.id, [{ seq: ++ctx.seq, anchor: link.anchor, userId: link.userId, outcome: 'deleted', changes: {}, error: null }]);
      continue;
    }
    try {
      const outcome = await deps.users.delete(accountId, ctx.writer, link.userId);
      ctx.counts.deleted++;
      await syncRunsRepo.insertResults(knex, accountId, ctx.run.id, [
        { seq: ++ctx.seq, anchor: link.anchor, userId: link.userId, outcome: 'deleted', changes: {}, error: outcome === 'deleted' ? null : 'unlinked: other sources still feed this user' },
      ]);
    } catch (error) {
      ctx.counts.quarantined++;
      await syncRunsRepo.insertResults(knex, accountId, ctx.run.id, [
        { seq: ++ctx.seq, anchor: link.anchor, userId: link.userId, outcome: 'quarantined', changes: {}, error: `delete after the grace period failed: ${messageOf(error)}` },
      ]);
    }
  }
  await syncRunsRepo.saveCounts(knex, accountId, ctx.run.id, ctx.counts);
  return false;
}
