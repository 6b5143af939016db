/**
 * Managers that were not linked when their reports were written (the report came first): once the whole read is
 * applied, each is set on its report through the write path, in batches, and the report's link hash becomes that
 * of the resolved record, so the next run finds it unchanged. A manager that is still not linked (outside the
 * source's scope) stays unset. The reports wait in the database (run-managers-repo.ts), read back a batch at a time,
 * so the run's memory does not grow with them; one whose link no longer holds the hash it wrote was written again
 * later in the run, by a record that had its manager or is waiting in its own row. A manager the connector could only
 * name by reference (an LDAP DN not read yet: SourceRecord.references) is found among the records the run read.
 */
import { diffOf, recordHash, resolveManager } from '../domain/sync-record.js';
import { ENTERPRISE_URN } from '../domain/user-document.js';
import type { JsonObject } from '../domain/user-rules.js';
import type { Executor, Trx } from '../db/database.js';
import { runManagersRepo } from '../db/run-managers-repo.js';
import { sourceLinksRepo } from '../db/source-links-repo.js';
import { syncRunsRepo, type SyncResult } from '../db/sync-runs-repo.js';
import type { UserService } from '../services/user-service.js';
import type { RunContext } from './run-context.js';

export interface ManagerPhaseDeps {
  db: Executor;
  users: UserService;
  batchSize: number;
  inTransaction: (ctx: RunContext, fn: (trx: Trx) => Promise<SyncResult[]>) => Promise<void>;
}

export async function resolveManagers(deps: ManagerPhaseDeps, ctx: RunContext): Promise<void> {
  if (ctx.options.dryRun) return;
  const { accountId, source } = ctx;
  const run = { accountId, sourceId: source.id, runId: ctx.run.id };
  await runManagersRepo.resolveReferences(deps.db, run);
  let after: string | null = null;
  for (;;) {
    const slice = await runManagersRepo.page(deps.db, run, after, deps.batchSize);
    if (slice.length === 0) return;
    after = slice[slice.length - 1]!.anchor;
    await deps.inTransaction(ctx, async (trx) => {
      const anchors = new Set<string>();
      for (const { anchor, managerAnchor } of slice) anchors.add(anchor).add(managerAnchor);
      const links = await syncRunsRepo.linksByAnchors(trx, accountId, source.id, [...anchors]);
      const targets = slice.flatMap((entry) => {
        const link = links.get(entry.anchor);
        const manager = links.get(entry.managerAnchor);
        return link && manager && link.hash === entry.hash ? [{ ...entry, userId: link.userId, managerId: manager.userId, owned: link.ownedAttributes }] : [];
      });
      const users = await syncRunsRepo.usersForUpdate(trx, accountId, targets.map((t) => t.userId));
      const linksOf = await sourceLinksRepo.forUsers(trx, accountId, targets.map((t) => t.userId));
      const present = targets.flatMap((t) => (users.get(t.userId) ? [{ ...t, current: users.get(t.userId)! }] : []));
      const written = await deps.users.write(
        trx,
        accountId,
        ctx.writer,
        present.map((t) => {
          const enterprise = { ...((t.current.doc[ENTERPRISE_URN] as JsonObject | undefined) ?? {}), manager: { value: t.managerId } };
          const stored = (linksOf.get(t.userId) ?? []).find((l) => l.sourceId === source.id && l.anchor === t.anchor);
          return {
            current: t.current, next: { ...t.current.doc, [ENTERPRISE_URN]: enterprise }, links: linksOf.get(t.userId) ?? [], anchor: t.anchor,
            raw: (stored?.raw ?? t.raw) as JsonObject, ownedAttributes: [...new Set([...t.owned, `${ENTERPRISE_URN}:manager`])],
            linkHash: recordHash(resolveManager(t.attributes as JsonObject, (a) => links.get(a)?.userId), t.raw),
          };
        }),
      );
      const results: SyncResult[] = [];
      for (const [j, t] of present.entries()) {
        const outcome = written[j]!;
        // A result row shows the manager's arrival; the object was already counted by its own outcome in this run.
        if (outcome.ok && outcome.result.changed.length > 0) {
          results.push({ seq: ++ctx.seq, anchor: t.anchor, userId: t.userId, outcome: 'updated', changes: diffOf(t.current.doc, outcome.result.user.doc), error: null });
        }
      }
      return results;
    });
  }
}
