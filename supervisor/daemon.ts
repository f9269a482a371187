// The root of the tree: infrastructure first (Redis and PostgreSQL answer), then the children in start order —
// processing host → scheduler host → cron host → realtime host pool (enterprise actors) — under a one_for_one root supervisor
// (3 restarts per 5 s, then everything stops in reverse order and the process exits non-zero). /health, /livez
// and /readyz come up first; SIGTERM/SIGINT stop everything in reverse order within DAEMON_SHUTDOWN_TIMEOUT_MS.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pRetry from 'p-retry';
import type { Config } from '../src/config/load.js';
import { createPool, type DbPool } from '../src/db/pool.js';
import { redisOptions } from '../src/queue/producer.js';
import { describeError, Errors, notifydError } from '../src/errors.js';
import { BOARD_PATH, startHealthServer, type HealthServer } from '../src/health/server.js';
import { bounded } from '../src/bounded.js';
import { deliverScope, intakeScope } from '../src/config/scopes.js';
import { MetricsCollector } from '../src/metrics/collect.js';
import { defaultHostId } from '../src/ownership/hosts.js';
import { startPresence } from './presence.js';
import { CRON_QUEUE_NAME, QUEUE_NAME } from '../src/queue/jobs.js';
import type { Logger } from '../src/log/logger.js';
import { HostPool } from '../src/runtime/host-pool.js';
import { ShutdownCoordinator, type SignalSource } from '../src/runtime/shutdown.js';
import { StatusRegistry } from '../src/runtime/status-registry.js';
import { Supervisor } from '../src/runtime/supervisor.js';
import { ThreadHost } from '../src/runtime/thread-host.js';
import { EnterpriseDirectory } from './enterprises.js';
import { assembleHealth, type HealthReport } from './health.js';

const moduleUrl = (path: string) => new URL(path, import.meta.url).href;

export interface DaemonOptions {
  log: Logger;
  /** Where SIGTERM/SIGINT come from; process by default. Tests pass an EventEmitter. */
  signals?: SignalSource;
  /** How the process ends; process.exit by default. */
  exit?: (code: number) => void;
  /** Re-read notify.enterprise this often (ms). */
  enterpriseRefreshMs?: number;
  /** Piscina threads of the processing pool. */
  poolThreads?: number;
}

export interface Daemon {
  readonly registry: StatusRegistry;
  readonly health: HealthServer;
  readonly root: Supervisor;
  readonly realtime: HostPool;
  readonly processing: ThreadHost;
  readonly scheduler: ThreadHost;
  readonly cron: ThreadHost;
  readonly enterprises: EnterpriseDirectory;
  report(): HealthReport;
  /** The ordered stop (what SIGTERM does); resolves with the exit code it chose. */
  shutdown(reason: string): Promise<number>;
}

/** Waits until Redis and PostgreSQL answer, retrying with backoff for as long as it takes (a daemon that starts
 * before its dependencies comes up when they do). Returns false when aborted by a signal. */
async function waitForInfrastructure(config: Config, db: DbPool, log: Logger, signal: AbortSignal): Promise<boolean> {
  const probe = async (): Promise<void> => {
    const problems: string[] = [];
    try {
      await db.pool.query('select 1');
    } catch (err) {
      problems.push(`PostgreSQL: ${describeError(err)}`);
    }
    const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 3000, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const policy = await redis.config('GET', 'maxmemory-policy').catch(() => undefined) as string[] | undefined;
      if (policy?.[1] !== undefined && policy[1] !== 'noeviction') {
        log.warn({ event: 'redis_eviction_policy', policy: policy[1] }, 'Redis maxmemory-policy should be noeviction: evicted keys are lost jobs');
      }
    } catch (err) {
      problems.push(`Redis: ${describeError(err)}`);
    } finally {
      redis.disconnect();
    }
    if (problems.length > 0) throw notifydError(Errors.DB_UNAVAILABLE, problems.join('; '));
  };
  try {
    await pRetry(probe, {
      retries: Number.POSITIVE_INFINITY, factor: 2, minTimeout: 500, maxTimeout: 30_000, randomize: true, signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        log.error({ event: 'infrastructure_unavailable', attempt: attemptNumber, problems: error.message }, 'waiting for infrastructure');
      },
    });
    return true;
  } catch (err) {
    if (signal.aborted) return false;
    throw err;
  }
}

/** The version in package.json (for notifyd_info and `notifyd status`). */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function startDaemon(config: Config, opts: DaemonOptions): Promise<Daemon | undefined> {
  // opts.log has no `component`: runtime pieces add their own; the daemon's own lines say `supervisor`.
  const base = opts.log;
  const log = base.child({ component: 'supervisor' });
  const startedAt = Date.now();
  const registry = new StatusRegistry(base.child({ component: 'status-registry' }));
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  let directory: EnterpriseDirectory | undefined;
  let collector: MetricsCollector | undefined;
  const report = () => assembleHealth({
    registry, startedAt, phase: () => phase, disabledEnterprises: () => directory?.disabledIds ?? [], pausedEnterprises: () => directory?.pausedIds ?? [],
  });
  // One Redis connection for the main thread: the served registry, and the queues the board and /metrics read.
  const redis = new Redis(config.redisUrl, redisOptions({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }));
  redis.on('error', () => undefined);
  const queues = [QUEUE_NAME, CRON_QUEUE_NAME].map((name) => {
    const q = new Queue(name, { connection: redis, prefix: config.queuePrefix });
    q.on('error', () => undefined);
    return q;
  });
  const health = await startHealthServer({
    host: config.health.host,
    port: config.health.port,
    health: report,
    ready: () => phase === 'running',
    metrics: () => collector?.text() ?? Promise.resolve(''),
    ...(config.admin === undefined ? {} : { admin: config.admin }),
    boardQueues: queues,
  });
  log.info({ event: 'health_listening', port: health.port }, 'health endpoints up');
  log.info({
    event: 'admin_access', auth: config.admin === undefined ? 'none' : 'basic', board: config.admin === undefined ? 'off' : BOARD_PATH,
    board_readonly: config.admin?.readonly ?? null,
  }, config.admin === undefined
    ? 'admin credentials unset: Bull Board off; /metrics and /health open'
    : 'Bull Board, /metrics and the detailed /health need the admin credentials');

  const db = createPool({ databaseUrl: config.databaseUrl, max: 2, applicationName: 'notifyd-supervisor' });
  const signals = opts.signals ?? process;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  // Before the tree exists a signal just ends the wait: there is nothing to drain yet.
  const early = new AbortController();
  const onEarlySignal = () => early.abort();
  signals.on('SIGTERM', onEarlySignal);
  signals.on('SIGINT', onEarlySignal);
  const ready = await waitForInfrastructure(config, db, log, early.signal);
  signals.off('SIGTERM', onEarlySignal);
  signals.off('SIGINT', onEarlySignal);
  if (!ready) {
    await Promise.all([health.close(), db.close(), ...queues.map((q) => bounded(q.close(), 1000))]);
    redis.disconnect();
    exit(0);
    return undefined;
  }

  const data = { config };
  // Every thread gets a heap limit: a tenant's oversized data kills one thread (restarted alone), not the process.
  const resourceLimits = { maxOldGenerationSizeMb: config.threadHeapMb };
  const hostOptions = { registry, data, logLevel: config.logLevel, heartbeatMs: 1000, missedHeartbeats: 10, resourceLimits };
  const drainMs = Math.max(1000, Math.floor(config.shutdownTimeoutMs * 0.6));
  const processing = new ThreadHost({
    ...hostOptions, id: 'processing', log: base,
    actors: [{ id: 'processing', kind: 'processing', module: moduleUrl('../actors/processing/actor.js'), args: { drainMs, ...(opts.poolThreads === undefined ? {} : { poolThreads: opts.poolThreads }) }, restart: 'permanent', shutdownMs: drainMs + 1000 }],
  });
  const scheduler = new ThreadHost({
    ...hostOptions, id: 'scheduler', log: base,
    actors: [{ id: 'scheduler', kind: 'scheduler', module: moduleUrl('../actors/scheduler/actor.js'), args: deliverScope(config), restart: 'permanent' }],
  });
  const cron = new ThreadHost({
    ...hostOptions, id: 'cron', log: base,
    actors: [{ id: 'cron', kind: 'cron', module: moduleUrl('../actors/cron/actor.js'), args: intakeScope(config), restart: 'permanent', startTimeoutMs: 120_000 }],
  });
  const realtime = new HostPool({
    id: 'realtime', size: config.realtimeHosts, registry, log: base,
    host: { data, logLevel: config.logLevel, heartbeatMs: 1000, missedHeartbeats: 10, resourceLimits: { ...resourceLimits, maxYoungGenerationSizeMb: 16 } },
    intensity: 5, periodMs: 30_000, backoff: { minMs: 500, maxMs: 10_000, jitter: 0.2, resetAfterMs: 30_000 },
  });
  const root = new Supervisor({
    id: 'root', strategy: 'one_for_one', intensity: 3, periodMs: 5000, log: base,
    escalationDeadlineMs: config.shutdownTimeoutMs,
    children: [
      processing.childSpec({ shutdownMs: drainMs + 2000 }),
      scheduler.childSpec({ shutdownMs: 5000 }),
      cron.childSpec({ shutdownMs: 6000 }),
      realtime.childSpec(),
    ],
  });
  const hostId = config.hostId ?? defaultHostId();
  directory = new EnterpriseDirectory({
    config, pool: realtime, db, redis, log: base, hostId,
    statusOf: (id) => registry.get(`enterprise:${id}`),
  });
  const dir = directory;
  collector = new MetricsCollector({
    threads: () => Promise.all([processing, scheduler, cron, ...realtime.hosts].map((h) => h.metrics())),
    actors: () => registry.snapshot(),
    health: () => report().status,
    queues, db: db.pool, scope: deliverScope(config), version: version(), role: 'all',
    enterpriseLimit: config.metricsEnterpriseLimit,
  });

  const coordinator = new ShutdownCoordinator({
    root,
    deadlineMs: config.shutdownTimeoutMs,
    source: signals,
    exit,
    log: base,
    // Readiness goes 503, the worker stops fetching new jobs, and this host stops serving (the registry entries go).
    beforeStop: [async () => {
      phase = 'stopping';
      processing.tell('processing', { type: 'pause' });
      await dir.stop();
    }],
    afterStop: [() => presence.stop(), () => health.close(), () => db.close(), async () => {
      await Promise.all(queues.map((q) => bounded(q.close(), 1000)));
      redis.disconnect();
    }],
  });
  coordinator.install();

  const presence = startPresence({
    redis, prefix: config.queuePrefix,
    info: () => ({
      hostId, role: 'all', hostname: hostname(), pid: process.pid, version: version(), startedAt: new Date(startedAt).toISOString(),
      healthUrl: health.url, status: report().status, enterprises: dir.servedIds.length,
    }),
  });
  await root.start();
  await dir.sync();
  dir.watch(opts.enterpriseRefreshMs ?? 30_000);
  if (!coordinator.shuttingDown) phase = 'running';
  log.info({ event: 'daemon_started', enterprises: dir.servedIds.length, disabled: dir.disabledIds.length, processing_time_ms: Date.now() - startedAt }, 'notifyd running');

  return {
    registry, health, root, realtime, processing, scheduler, cron, enterprises: dir,
    report,
    shutdown: (reason) => coordinator.shutdown(reason),
  };
}

/** A signal source tests can fire: `source.emit('SIGTERM', 'SIGTERM')`. */
export function testSignals(): SignalSource & EventEmitter {
  return new EventEmitter() as SignalSource & EventEmitter;
}
