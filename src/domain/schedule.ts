import { CronExpressionParser } from 'cron-parser';

/** What decides when a source's next scheduled run happens. */
export interface ScheduleFacts {
  schedule: string | null;
  enabled: boolean;
  /** Ticks before this instant are skipped (back-off after failed runs). */
  nextRetryAt: Date | null;
}

/**
 * The next instant the scheduler will start a run: the first cron tick after `now` that is not before the back-off's
 * end, computed in the server's local time as node-cron schedules it. Undefined when the source is not scheduled or
 * its expression cannot be read (the service refuses such expressions on write).
 */
export function nextScheduledRun(facts: ScheduleFacts, now: Date): Date | undefined {
  if (!facts.enabled || !facts.schedule) return undefined;
  const after = facts.nextRetryAt && facts.nextRetryAt > now ? new Date(facts.nextRetryAt.getTime() - 1) : now;
  try {
    return CronExpressionParser.parse(facts.schedule, { currentDate: after }).next().toDate();
  } catch {
    return undefined;
  }
}
