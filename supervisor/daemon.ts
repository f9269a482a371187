// One host's daemon, whatever its role (DAEMON_ROLE): /health, /livez, /readyz, /metrics and the board come up
// first; then infrastructure (Redis and PostgreSQL answer, infrastructure.ts); then the supervision tree of the role
// (tree.ts) and, for intake roles, the enterprise directory; the host registry hears about it throughout.
// SIGTERM/SIGINT stop everything in reverse order within DAEMON_SHUTDOWN_TIMEOUT_MS.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Queue } from 'bullmq';
import type { Config } from '../src/config/load.js';
import { createPool } from '../src/db/pool.js';
import { redisOptions } from '../src/queue/producer.js';
import { createRedis } from '../src/queue/redis.js';
import { BOARD_PATH, startHealthServer, type HealthServer } from '../src/health/server.js';
import { bounded } from '../src/bounded.js';
import { deliverScope } from '../src/config/scopes.js';
import { MetricsCollector } from '../src/metrics/collect.js';
import { defaultHostId } from '../src/ownership/hosts.js';
import { startPresence } from './presence.js';
import { CRON_QUEUE_NAME, QUEUE_NAME } from '../src/queue/jobs.js';
import type { Logger } from '../src/log/logger.js';
import type { HostPool } from '../src/runtime/host-pool.js';
import { ShutdownCoordinator, type SignalSource } from '../src/runtime/shutdown.js';
import { StatusRegistry } from '../src/runtime/status-registry.js';
import type { Supervisor } from '../src/runtime/supervisor.js';
import type { ThreadHost } from '../src/runtime/thread-host.js';
import { EnterpriseDirectory } from './enterprises.js';
import { assembleHealth, type HealthReport } from './health.js';
import { waitForInfrastructure } from './infrastructure.js';
import { buildTree, runsIntake, type Role } from './tree.js';

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
  readonly role: Role;
  /** the core thread (processing, scheduler, cron: those the role runs) and the realtime pool (intake roles) */
  readonly realtime: HostPool | undefined;
  readonly core: ThreadHost;
  readonly enterprises: EnterpriseDirectory | undefined;
  report(): HealthReport;
  /** The ordered stop (what SIGTERM does); resolves with the exit code it chose. */
  shutdown(reason: string): Promise<number>;
}

/** The version in package.json (for notifyd_info and `notifyd status`). */
function version(): string {
  try {
    return (
      (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string })
        .version ?? 'unknown'
    );
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
  const report = () =>
    assembleHealth({
      registry,
      startedAt,
      phase: () => phase,
      role: config.role,
      hostId: config.hostId ?? defaultHostId(),
      disabledEnterprises: () => directory?.disabledIds ?? [],
      pausedEnterprises: () => directory?.pausedIds ?? [],
      ownership: () => directory?.ownershipView(),
      ...(runsIntake(config.role) ? { holds: (id: string) => directory?.holds(id) ?? false } : {}),
    });
  // One Redis connection for the main thread: the served registry, and the queues the board and /metrics read.
  const redis = createRedis(config, redisOptions({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }));
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
  log.info(
    {
      event: 'admin_access',
      auth: config.admin === undefined ? 'none' : 'basic',
      board: config.admin === undefined ? 'off' : BOARD_PATH,
      board_readonly: config.admin?.readonly ?? null,
    },
    config.admin === undefined
      ? 'admin credentials unset: Bull Board off; /metrics and /health open'
      : 'Bull Board, /metrics and the detailed /health need the admin credentials',
  );

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

  const tree = buildTree(config, { registry, log: base, poolThreads: opts.poolThreads });
  const { root, core, realtime } = tree;
  const processing = config.role === 'daemon' ? undefined : core;
  const hostId = config.hostId ?? defaultHostId();
  directory =
    realtime === undefined
      ? undefined
      : new EnterpriseDirectory({
          config,
          pool: realtime,
          db,
          redis,
          log: base,
          hostId,
          statusOf: (id) => registry.get(`enterprise:${id}`),
        });
  const dir = directory;
  collector = new MetricsCollector({
    threads: () => Promise.all(tree.threadHosts.map((h) => h.metrics())),
    actors: () => registry.snapshot(),
    health: () => report().status,
    queues,
    db: db.pool,
    scope: deliverScope(config),
    version: version(),
    role: config.role,
    enterpriseLimit: config.metricsEnterpriseLimit,
  });

  const coordinator = new ShutdownCoordinator({
    root,
    deadlineMs: config.shutdownTimeoutMs,
    source: signals,
    exit,
    log: base,
    // Readiness goes 503, the worker stops fetching new jobs, and this host stops serving (the registry entries go).
    beforeStop: [
      async () => {
        phase = 'stopping';
        processing?.tell('processing', { type: 'pause' });
        await dir?.stop();
      },
    ],
    afterStop: [
      () => presence.stop(),
      () => health.close(),
      () => db.close(),
      async () => {
        await Promise.all(queues.map((q) => bounded(q.close(), 1000)));
        redis.disconnect();
      },
    ],
  });
  coordinator.install();

  const presence = startPresence({
    redis,
    prefix: config.queuePrefix,
    info: () => ({
      hostId,
      role: config.role,
      hostname: hostname(),
      pid: process.pid,
      version: version(),
      startedAt: new Date(startedAt).toISOString(),
      healthUrl: health.url,
      status: report().status,
      enterprises: dir?.servedIds.length ?? 0,
    }),
  });
  await root.start();
  await dir?.sync();
  dir?.watch(opts.enterpriseRefreshMs ?? 30_000);
  if (!coordinator.shuttingDown) phase = 'running';
  log.info(
    {
      event: 'daemon_started',
      role: config.role,
      enterprises: dir?.servedIds.length ?? 0,
      disabled: dir?.disabledIds.length ?? 0,
      processing_time_ms: Date.now() - startedAt,
    },
    'notifyd running',
  );

  return {
    registry,
    health,
    root,
    realtime,
    core,
    enterprises: dir,
    role: config.role,
    report,
    shutdown: (reason) => coordinator.shutdown(reason),
  };
}

/** A signal source tests can fire: `source.emit('SIGTERM', 'SIGTERM')`. */
export function testSignals(): SignalSource & EventEmitter {
  return new EventEmitter() as SignalSource & EventEmitter;
}
