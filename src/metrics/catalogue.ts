// Every Prometheus metric notifyd exports, declared once (names `notifyd_*`, base units, `_total` on counters,
// bounded label values). Each thread registers the metrics it updates in its own prom-client registry, created on
// first use; the main thread gathers every thread's registry and serves the sum at GET /metrics (collect.ts).
// docker/observability's alert rules and dashboard use these names; test/metrics pins them.
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Histogram, register, type Registry } from 'prom-client';

/** Why a row was failed, as a bounded label (the reason itself is a sentence in last_error). */
export const FAILURE_CLASSES = [
  'invalid_workflow',
  'invalid_recipients',
  'invalid_payload',
  'invalid_schedule',
  'novu_rejected',
  'novu_not_processed',
  'retries_exhausted',
  'deadline',
  'abandoned',
  'unknown_enterprise',
  'other',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export function failureClass(reason: string): FailureClass {
  if (reason.startsWith('invalid workflow_id')) return 'invalid_workflow';
  if (reason.startsWith('invalid recipients')) return 'invalid_recipients';
  if (reason.startsWith('invalid payload')) return 'invalid_payload';
  if (reason.startsWith('invalid scheduled_for')) return 'invalid_schedule';
  if (reason.startsWith('novu did not process')) return 'novu_not_processed';
  if (reason.startsWith('novu ')) return 'novu_rejected';
  if (reason.startsWith('delivery retries exhausted')) return 'retries_exhausted';
  if (reason.startsWith('delivery gave up')) return 'deadline';
  if (reason.startsWith('delivery abandoned')) return 'abandoned';
  if (reason.startsWith('unknown enterprise')) return 'unknown_enterprise';
  return 'other';
}

/** seconds; from 5 ms (one local round trip) to 10 min (an outage's backlog) */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function make<T>(name: string, create: (registers: Registry[]) => T): () => T {
  let made: T | undefined;
  return () => {
    if (made !== undefined) return made;
    const existing = register.getSingleMetric(name) as T | undefined;
    made = existing ?? create([register]);
    return made;
  };
}

export const Metrics = {
  // processing thread
  deliveries: make(
    'notifyd_deliveries_total',
    (registers) =>
      new Counter({
        name: 'notifyd_deliveries_total',
        registers,
        labelNames: ['outcome', 'origin'] as const,
        help:
          'Jobs settled, by outcome (sent, failed, retried, rate_limited, observed, skipped) ' +
          'and origin (realtime, catchup, poll, sweep, scheduled, cron)',
      }),
  ),
  failures: make(
    'notifyd_delivery_failures_total',
    (registers) =>
      new Counter({
        name: 'notifyd_delivery_failures_total',
        registers,
        labelNames: ['reason'] as const,
        help: `Rows failed, by reason class (${FAILURE_CLASSES.join(', ')})`,
      }),
  ),
  latency: make(
    'notifyd_delivery_latency_seconds',
    (registers) =>
      new Histogram({
        name: 'notifyd_delivery_latency_seconds',
        registers,
        labelNames: ['origin'] as const,
        buckets: LATENCY_BUCKETS,
        help: 'From the commit that made a row due (its last write, or scheduled_for when later) to Novu accepting it',
      }),
  ),
  novuRequests: make(
    'notifyd_novu_request_duration_seconds',
    (registers) =>
      new Histogram({
        name: 'notifyd_novu_request_duration_seconds',
        registers,
        labelNames: ['operation', 'status_class'] as const,
        buckets: REQUEST_BUCKETS,
        help: 'Novu API calls (trigger, cancel) by HTTP status class (2xx, 4xx, 429, 5xx, error)',
      }),
  ),
  novuRateLimited: make(
    'notifyd_novu_rate_limited_total',
    (registers) =>
      new Counter({
        name: 'notifyd_novu_rate_limited_total',
        registers,
        help: 'Novu 429 answers (the queue pauses for Retry-After, clamped)',
      }),
  ),
  novuRetryAfterClamped: make(
    'notifyd_novu_retry_after_clamped_total',
    (registers) =>
      new Counter({
        name: 'notifyd_novu_retry_after_clamped_total',
        registers,
        help: 'Retry-After values longer than NOVU_MAX_RETRY_AFTER_MS',
      }),
  ),
  novuRemaining: make(
    'notifyd_novu_rate_limit_remaining',
    (registers) =>
      new Gauge({
        name: 'notifyd_novu_rate_limit_remaining',
        registers,
        aggregator: 'min',
        help: 'RateLimit-Remaining of the last Novu answer that carried it (the token bucket of the Novu environment)',
      }),
  ),
  // scheduler thread
  sweepRepairs: make(
    'notifyd_sweep_repairs_total',
    (registers) =>
      new Counter({
        name: 'notifyd_sweep_repairs_total',
        registers,
        labelNames: ['kind'] as const,
        help:
          'Work the live path missed, found by the sweep: ' +
          'missed (no job), repaired (job finished, row pending), unknown_enterprise',
      }),
  ),
  sweeps: make(
    'notifyd_sweeps_total',
    (registers) =>
      new Counter({
        name: 'notifyd_sweeps_total',
        registers,
        labelNames: ['result'] as const,
        help: 'Sweep passes, by result (ok, error)',
      }),
  ),
  redisDataLoss: make(
    'notifyd_redis_data_loss_total',
    (registers) =>
      new Counter({
        name: 'notifyd_redis_data_loss_total',
        registers,
        help: 'Times Redis was found to have lost its data (the queue was repaired from PostgreSQL)',
      }),
  ),
  // cron thread
  cronFires: make(
    'notifyd_cron_fires_total',
    (registers) =>
      new Counter({
        name: 'notifyd_cron_fires_total',
        registers,
        labelNames: ['outcome'] as const,
        help: 'Cron rule fire times accounted for, by outcome (fired, caught_up, missed)',
      }),
  ),
  // every actor host thread (its `thread` label is the host's name)
  threadHeap: make(
    'notifyd_thread_heap_bytes',
    (registers) =>
      new Gauge({
        name: 'notifyd_thread_heap_bytes',
        registers,
        labelNames: ['space'] as const,
        help:
          "V8 heap of each actor host thread: 'used', and the 'limit' its old and young generations allow " +
          '(DAEMON_THREAD_HEAP_MB and DAEMON_THREAD_YOUNG_MB); a thread at its limit is stopped and restarted',
        collect() {
          const heap = getHeapStatistics();
          this.set({ space: 'used' }, heap.used_heap_size);
          this.set({ space: 'limit' }, heap.heap_size_limit);
        },
      }),
  ),
  // realtime threads
  realtimeEvents: make(
    'notifyd_realtime_events_total',
    (registers) =>
      new Counter({
        name: 'notifyd_realtime_events_total',
        registers,
        labelNames: ['type'] as const,
        help: 'postgres_changes events received, by type',
      }),
  ),
  realtimeReconnects: make(
    'notifyd_realtime_reconnects_total',
    (registers) =>
      new Counter({
        name: 'notifyd_realtime_reconnects_total',
        registers,
        help: 'Enterprise subscriptions torn down and retried',
      }),
  ),
  realtimeFallbacks: make(
    'notifyd_realtime_fallbacks_total',
    (registers) =>
      new Counter({
        name: 'notifyd_realtime_fallbacks_total',
        registers,
        help:
          'Times an enterprise switched to the fast poll because its Realtime feed was missing changes ' +
          '(throttled, late, or short by the sweep)',
      }),
  ),
  realtimeRateLimitCloses: make(
    'notifyd_realtime_rate_limit_closes_total',
    (registers) =>
      new Counter({
        name: 'notifyd_realtime_rate_limit_closes_total',
        registers,
        labelNames: ['limit'] as const,
        help: 'Channels or sockets Realtime closed over a plan limit (messages, joins, channels, connections)',
      }),
  ),
  realtimeDropped: make(
    'notifyd_realtime_events_dropped_total',
    (registers) =>
      new Counter({
        name: 'notifyd_realtime_events_dropped_total',
        registers,
        help: 'Events dropped from a full buffer (the catch-up reads their rows instead)',
      }),
  ),
  catchUpRows: make(
    'notifyd_catchup_rows_total',
    (registers) =>
      new Counter({
        name: 'notifyd_catchup_rows_total',
        registers,
        help: 'Pending rows re-enqueued by catch-ups after (re)subscribing',
      }),
  ),
  // main thread (filled on each scrape)
  queueJobs: make(
    'notifyd_queue_jobs',
    (registers) =>
      new Gauge({
        name: 'notifyd_queue_jobs',
        registers,
        labelNames: ['queue', 'state'] as const,
        aggregator: 'max',
        help: 'BullMQ jobs by queue and state (waiting, prioritized, delayed, active, completed, failed)',
      }),
  ),
  oldestDuePending: make(
    'notifyd_oldest_due_pending_seconds',
    (registers) =>
      new Gauge({
        name: 'notifyd_oldest_due_pending_seconds',
        registers,
        aggregator: 'max',
        help:
          'Age of the oldest pending row that is due (since its last write or scheduled_for), ' +
          'served enterprises only; 0 when none',
      }),
  ),
  subscriptions: make(
    'notifyd_subscriptions',
    (registers) =>
      new Gauge({
        name: 'notifyd_subscriptions',
        registers,
        labelNames: ['state'] as const,
        help: 'Enterprise subscriptions of this host by state',
      }),
  ),
  enterpriseSubscribed: make(
    'notifyd_enterprise_subscribed',
    (registers) =>
      new Gauge({
        name: 'notifyd_enterprise_subscribed',
        registers,
        labelNames: ['enterprise'] as const,
        help:
          '1 while the enterprise is subscribed on this host, 0 otherwise ' +
          '(at most METRICS_ENTERPRISE_LIMIT enterprises)',
      }),
  ),
  enterprisesOverLimit: make(
    'notifyd_enterprise_series_omitted',
    (registers) =>
      new Gauge({
        name: 'notifyd_enterprise_series_omitted',
        registers,
        help: 'Enterprises left out of per-enterprise series by METRICS_ENTERPRISE_LIMIT',
      }),
  ),
  actorRestarts: make(
    'notifyd_actor_restarts_total',
    (registers) =>
      new Counter({
        name: 'notifyd_actor_restarts_total',
        registers,
        labelNames: ['kind'] as const,
        help: 'Actor and host thread restarts, by kind',
      }),
  ),
  refreshErrors: make(
    'notifyd_metrics_refresh_errors_total',
    (registers) =>
      new Counter({
        name: 'notifyd_metrics_refresh_errors_total',
        registers,
        help:
          'Scrapes whose queue-depth or oldest-row figures could not be read (Redis or PostgreSQL down): ' +
          'those gauges kept their last values',
      }),
  ),
  info: make(
    'notifyd_info',
    (registers) =>
      new Gauge({
        name: 'notifyd_info',
        registers,
        labelNames: ['version', 'role'] as const,
        help: 'Always 1: the running version and role',
      }),
  ),
  up: make(
    'notifyd_health_status',
    (registers) =>
      new Gauge({
        name: 'notifyd_health_status',
        registers,
        labelNames: ['status'] as const,
        help: '1 for the current overall /health status (healthy, degraded, unhealthy), 0 for the others',
      }),
  ),
};

/** Origin label of a job: cron fires, scheduled rows (due later when enqueued), else the path that enqueued it. */
export function originOf(job: { origin: string; scheduled?: boolean }): string {
  if (job.origin === 'cron') return 'cron';
  if (job.scheduled === true) return 'scheduled';
  return job.origin;
}

/** HTTP status class label of a Novu answer. */
export function statusClass(status: number | undefined): string {
  if (status === undefined) return 'error';
  if (status === 429) return '429';
  return `${Math.floor(status / 100)}xx`;
}

const ORIGINS = ['realtime', 'catchup', 'poll', 'sweep', 'scheduled', 'cron'] as const;

/**
 * Creates a thread's series at 0 (Prometheus practice: a counter that has not moved yet is 0, not absent, so rates
 * and alerts over it work from the first scrape).
 */
export function zeroSeries(part: 'processing' | 'scheduler' | 'cron' | 'realtime'): void {
  switch (part) {
    case 'processing':
      for (const origin of ORIGINS)
        for (const outcome of ['sent', 'failed']) Metrics.deliveries().inc({ outcome, origin }, 0);
      for (const reason of FAILURE_CLASSES) Metrics.failures().inc({ reason }, 0);
      Metrics.novuRateLimited().inc(0);
      Metrics.novuRetryAfterClamped().inc(0);
      return;
    case 'scheduler':
      for (const kind of ['missed', 'repaired', 'unknown_enterprise']) Metrics.sweepRepairs().inc({ kind }, 0);
      for (const result of ['ok', 'error']) Metrics.sweeps().inc({ result }, 0);
      Metrics.redisDataLoss().inc(0);
      return;
    case 'cron':
      for (const outcome of ['fired', 'caught_up', 'missed']) Metrics.cronFires().inc({ outcome }, 0);
      return;
    case 'realtime':
      for (const type of ['INSERT', 'UPDATE', 'DELETE']) Metrics.realtimeEvents().inc({ type }, 0);
      for (const limit of ['messages', 'joins', 'channels', 'connections'])
        Metrics.realtimeRateLimitCloses().inc({ limit }, 0);
      Metrics.realtimeReconnects().inc(0);
      Metrics.realtimeFallbacks().inc(0);
      Metrics.realtimeDropped().inc(0);
      Metrics.catchUpRows().inc(0);
      return;
  }
}
