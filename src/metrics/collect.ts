// GET /metrics, assembled in the main thread on each scrape: every host thread's registry (asked over the runtime's
// own channel; each thread's series carry a `thread` label with its host's name, so a restarted thread resets only
// its own series, which Prometheus reads as a counter reset of that series alone) merged with prom-client's
// AggregatorRegistry, plus what only the main thread knows — process metrics,
// subscriptions and actor restarts from the status registry, queue depth by state (BullMQ), the age of the oldest due
// pending row (PostgreSQL), the running version and role, and the overall health.
import {
  AggregatorRegistry,
  Registry,
  collectDefaultMetrics,
  register,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { scopeParams, scopeSql, type EnterpriseScope } from '../db/enterprises.js';
import type { ActorStatus } from '../runtime/types.js';
import { Metrics } from './catalogue.js';

export interface CollectorSources {
  /** each host thread's getMetricsAsJSON() */
  threads: () => Promise<unknown[][]>;
  actors: () => ActorStatus[];
  /** overall /health status */
  health: () => string;
  /** notifyd's queues, for job counts by state */
  queues: readonly Queue[];
  db: pg.Pool;
  /** the enterprises this host delivers for (the oldest-due-row gauge looks only at those) */
  scope: EnterpriseScope;
  version: string;
  role: string;
  enterpriseLimit: number;
}

const JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;
const HEALTH_STATES = ['healthy', 'degraded', 'unhealthy'] as const;
/** The database and Redis are asked at most this often, however often Prometheus scrapes. */
const SLOW_EVERY_MS = 5000;

export class MetricsCollector {
  private readonly sources: CollectorSources;
  private readonly restartsSeen = new Map<string, number>();
  private slowAt = 0;
  private slow: Promise<void> | undefined;

  constructor(sources: CollectorSources) {
    this.sources = sources;
    if (register.getSingleMetric('process_cpu_user_seconds_total') === undefined) {
      collectDefaultMetrics({ register });
      // gauges named like counters (promtool's lint refuses them); nodejs_active_{handles,requests,resources}{type}
      // carry the same counts
      for (const name of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ]) {
        register.removeSingleMetric(name);
      }
    }
    Metrics.info().set({ version: sources.version, role: sources.role }, 1);
    for (const kind of ['enterprise', 'host', 'processing', 'scheduler', 'cron'])
      Metrics.actorRestarts().inc({ kind }, 0);
    Metrics.refreshErrors().inc(0);
  }

  /** Prometheus text: the main thread's registry and every thread's, summed by series. */
  async text(): Promise<string> {
    this.fromActors();
    const h = this.sources.health();
    for (const s of HEALTH_STATES) Metrics.up().set({ status: s }, s === h ? 1 : 0);
    await this.refreshSlow();
    const threads = await this.sources.threads();
    const all = [await register.getMetricsAsJSON(), ...threads] as MetricObjectWithValues<MetricValue<string>>[][];
    const merged: Registry = AggregatorRegistry.aggregate(all);
    return merged.metrics();
  }

  /** Subscriptions by state, per enterprise up to the limit, and restarts since the last scrape. */
  private fromActors(): void {
    const actors = this.sources.actors();
    const enterprises = actors.filter((a) => a.kind === 'enterprise').sort((a, b) => a.id.localeCompare(b.id));
    Metrics.subscriptions().reset();
    for (const e of enterprises) Metrics.subscriptions().inc({ state: e.status });
    Metrics.enterpriseSubscribed().reset();
    for (const e of enterprises.slice(0, this.sources.enterpriseLimit)) {
      Metrics.enterpriseSubscribed().set(
        { enterprise: e.id.replace(/^enterprise:/, '') },
        e.status === 'subscribed' ? 1 : 0,
      );
    }
    Metrics.enterprisesOverLimit().set(Math.max(0, enterprises.length - this.sources.enterpriseLimit));
    for (const a of actors) {
      const seen = this.restartsSeen.get(a.id);
      if (seen !== undefined && a.restarts > seen) Metrics.actorRestarts().inc({ kind: a.kind }, a.restarts - seen);
      this.restartsSeen.set(a.id, a.restarts);
    }
  }

  /** Queue depth and the oldest due row: read at most every SLOW_EVERY_MS; a failure keeps the last values. */
  private refreshSlow(): Promise<void> {
    if (Date.now() - this.slowAt < SLOW_EVERY_MS) return Promise.resolve();
    this.slow ??= (async () => {
      // a failure keeps the last values, and says so in notifyd_metrics_refresh_errors_total
      await Promise.all([this.queueDepths(), this.oldestDue()]).catch(() => Metrics.refreshErrors().inc());
      this.slowAt = Date.now();
    })().finally(() => {
      this.slow = undefined;
    });
    return this.slow;
  }

  private async queueDepths(): Promise<void> {
    for (const q of this.sources.queues) {
      const counts = await q.getJobCounts(...JOB_STATES);
      for (const s of JOB_STATES) Metrics.queueJobs().set({ queue: q.name, state: s }, counts[s] ?? 0);
    }
  }

  private async oldestDue(): Promise<void> {
    const res = await this.sources.db.query<{ age: number | null }>(
      `select (extract(epoch from clock_timestamp()
                               - min(greatest(n.updated_at, coalesce(n.scheduled_for, n.updated_at)))))::float8 as age
         from notify.ent_notification n
        where n.status = 'pending'
          and (n.scheduled_for is null or n.scheduled_for between '0001-01-01'::timestamptz and clock_timestamp())
          and ${scopeSql('n.enterprise_id', 1, 2)}`,
      scopeParams(this.sources.scope),
    );
    const age = res.rows[0]?.age;
    Metrics.oldestDuePending().set(typeof age === 'number' && Number.isFinite(age) ? Math.max(0, age) : 0);
  }
}
