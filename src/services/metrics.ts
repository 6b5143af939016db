/**
 * /metrics (README › Metrics): one Prometheus registry per app instance (no process-global state).
 *
 * Two kinds of figure. Counters and histograms count what this process did (requests, sync runs, actions,
 * refusals); Prometheus sums them over the instances. Gauges of shared state (the mail outbox, each source's last
 * success) are read from the database when scraped (collect()), so every instance answers the same, whichever
 * did the work; aggregate them with max(), not sum(). The pool gauges are this process's own connections.
 */
import client from 'prom-client';
import type { Knex } from 'knex';
import { poolStats } from '../db/database.js';
import { metricsRepo, type OutboxState } from '../db/metrics-repo.js';
import { outboxStatuses } from '../db/outbox-repo.js';
import type { Telemetry } from '../lib/telemetry.js';

export interface MetricsOptions {
  db: Knex;
  /** `postgres` or `pglite`: a label of the pool gauges (PGlite's pool hands out its one in-process connection). */
  dbKind: string;
}

interface DurationSeries {
  labels: { method: string; route: string; status: string };
  /** Observations per bucket (not cumulative), one more than the bounds for +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * The request duration histogram, observed on every request: prom-client's labelled child checks the labels and
 * hashes them again on each observation, 15 us of a GET /Users/{id}'s ~600 us of sampled JavaScript (3.5 %,
 * profile of 20,000 requests at 16 connections); this keeps each series' bucket counts in an array found by one
 * map look-up, and gives the registry the values a prom-client Histogram gives (test/unit/request-durations.test.ts holds
 * the exposition to prom-client's own).
 */
export class RequestDurations {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, DurationSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: { method, route, status: String(status) }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > this.bounds[bucket]!) bucket++;
    series.counts[bucket]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** What prom-client's registry reads: cumulative buckets (le), then _sum and _count, per series. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] }> {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.series.clear();
  }
}

export function createMetrics(options: MetricsOptions) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpDuration = new RequestDurations(
    'switchboard_http_request_duration_seconds',
    'HTTP request duration by method, route and status',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  registry.registerMetric(httpDuration as unknown as client.Metric);
  const observeRequest = (method: string, route: string, status: number, seconds: number): void => httpDuration.observe(method, route, status, seconds);

  const syncRuns = new client.Counter({
    name: 'switchboard_sync_runs_total',
    help: 'Sync runs ended by this process, by source kind and final status (succeeded, completed_with_errors, failed, stopped_deletion_threshold)',
    labelNames: ['kind', 'status'] as const,
    registers,
  });
  const syncDuration = new client.Histogram({
    name: 'switchboard_sync_run_duration_seconds',
    help: 'Length of the sync runs ended by this process, from start to end, by source kind',
    labelNames: ['kind'] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
    registers,
  });
  const syncRecords = new client.Counter({
    name: 'switchboard_sync_records_total',
    help: 'Records of the sync runs ended by this process, by source kind and outcome (created, updated, unchanged, deactivated, deleted, quarantined, skipped)',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const actions = new client.Counter({
    name: 'switchboard_actions_total',
    help: 'Actions (POST /Actions) ended by this process, by type and status (completed, failed; refused: checked and refused before it started)',
    labelNames: ['type', 'status'] as const,
    registers,
  });
  const refusals = new client.Counter({
    name: 'switchboard_rate_limit_refusals_total',
    help: 'Requests this process refused with 429, by limit (token: a token over its rate; failed_auth: an address failing authentication; link_pages: an address on the registration and reset pages)',
    labelNames: ['limit'] as const,
    registers,
  });

  const { db } = options;
  // Registered before the gauges that query: the registry collects in registration order, each collect() starting
  // before the next, so the pool is read before those queries take a connection of it.
  new client.Gauge({
    name: 'switchboard_db_pool_connections',
    help: 'This process\'s database connections by state: used (lent to a query or transaction), idle (open, free), waiting (requests queued for one), max (the cap, DATABASE_POOL_MAX; PGlite has one in-process connection)',
    labelNames: ['state', 'database'] as const,
    registers,
    collect() {
      const stats = poolStats(db) ?? { used: 0, idle: 0, waiting: 0, max: 0 };
      for (const state of ['used', 'idle', 'waiting', 'max'] as const) this.set({ state, database: options.dbKind }, stats[state]);
    },
  });

  // The registry collects every metric at once (Promise.all): the two outbox gauges share one query per scrape.
  let outboxRead: Promise<OutboxState> | undefined;
  const outbox = (): Promise<OutboxState> => (outboxRead ??= metricsRepo.outbox(db).finally(() => (outboxRead = undefined)));
  new client.Gauge({
    name: 'switchboard_mail_outbox_messages',
    help: 'Messages in the mail outbox (shared by all instances, read at scrape time), by status: pending (waiting or retrying), sending, sent, failed (given up)',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      const state = await outbox();
      for (const status of outboxStatuses) this.set({ status }, state.byStatus.get(status) ?? 0);
    },
  });
  new client.Gauge({
    name: 'switchboard_mail_outbox_oldest_pending_age_seconds',
    help: 'Seconds the oldest message still to deliver (pending or sending) has waited since it was queued; 0 when none waits',
    registers,
    async collect() {
      this.set((await outbox()).oldestPendingSeconds);
    },
  });
  new client.Gauge({
    name: 'switchboard_source_last_success_timestamp_seconds',
    help: 'When each source last ended a run that succeeded (Unix time; dry runs excluded; read at scrape time from the run history, kept 30 days), by account, source and kind',
    labelNames: ['account_id', 'source_id', 'kind'] as const,
    registers,
    async collect() {
      this.reset();
      for (const s of await metricsRepo.sourcesLastSuccess(db)) this.set({ account_id: s.accountId, source_id: s.sourceId, kind: s.kind }, s.at.getTime() / 1000);
    },
  });
  const telemetry: Telemetry = {
    syncRunFinished(run) {
      syncRuns.inc({ kind: run.kind, status: run.status });
      syncDuration.observe({ kind: run.kind }, run.seconds);
      for (const [outcome, n] of Object.entries(run.outcomes)) if (n > 0) syncRecords.inc({ kind: run.kind, outcome }, n);
    },
    actionFinished(type, status) {
      actions.inc({ type, status });
    },
    rateLimitRefused(limit) {
      refusals.inc({ limit });
    },
  };

  return { registry, httpDuration, observeRequest, telemetry };
}

export type Metrics = ReturnType<typeof createMetrics>;
