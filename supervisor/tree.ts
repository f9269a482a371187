// The supervision tree of one host, by role (DAEMON_ROLE), in start order under a one_for_one root (3 restarts in
// 5 s, then everything stops in reverse order and the process exits non-zero):
//   all     core host (processing, scheduler, cron) → realtime host pool (enterprise actors)
//   worker  core host (processing)                      (the BullMQ worker, handing jobs to the Piscina pool)
//   daemon  core host (scheduler, cron) → realtime host pool          (intake: subscriptions, sweep, cron)
// The actors of the core host share one thread: the processing actor only relays jobs to its Piscina pool, the
// scheduler and the cron actor are timer-driven and light, and every thread costs ~40-50 MB of RSS (its own copy
// of BullMQ, ioredis and pg). A crash of one restarts that actor alone; a dead thread restarts all three.
import type { Config } from '../src/config/load.js';
import { deliverScope, intakeScope } from '../src/config/scopes.js';
import type { Logger } from '../src/log/logger.js';
import { HostPool } from '../src/runtime/host-pool.js';
import type { StatusRegistry } from '../src/runtime/status-registry.js';
import { Supervisor } from '../src/runtime/supervisor.js';
import { ThreadHost } from '../src/runtime/thread-host.js';
import type { ActorSpec, ChildSpec } from '../src/runtime/types.js';

const moduleUrl = (path: string) => new URL(path, import.meta.url).href;

export type Role = 'all' | 'daemon' | 'worker';

export const runsIntake = (role: Role): boolean => role !== 'worker';
export const runsProcessing = (role: Role): boolean => role !== 'daemon';

export interface Tree {
  readonly root: Supervisor;
  /** the thread of the processing, scheduler and cron actors (those the role runs) */
  readonly core: ThreadHost;
  readonly realtime: HostPool | undefined;
  /** every thread host, for /metrics */
  readonly threadHosts: readonly ThreadHost[];
}

export function buildTree(
  config: Config,
  args: { registry: StatusRegistry; log: Logger; poolThreads?: number | undefined },
): Tree {
  const { registry, log } = args;
  const data = { config };
  // Every thread gets heap limits: a tenant's oversized data kills one thread (restarted alone), not the process.
  const resourceLimits = {
    maxOldGenerationSizeMb: config.threadHeapMb,
    maxYoungGenerationSizeMb: config.threadYoungMb,
  };
  const hostOptions = {
    registry,
    data,
    logLevel: config.logLevel,
    heartbeatMs: 1000,
    missedHeartbeats: 10,
    resourceLimits,
  };
  const drainMs = Math.max(1000, Math.floor(config.shutdownTimeoutMs * 0.6));
  const poolThreads = args.poolThreads ?? config.poolThreads;
  const children: ChildSpec[] = [];

  const actors: ActorSpec[] = [];
  if (runsProcessing(config.role)) {
    actors.push({
      id: 'processing',
      kind: 'processing',
      module: moduleUrl('../actors/processing/actor.js'),
      args: { drainMs, ...(poolThreads === undefined ? {} : { poolThreads }) },
      restart: 'permanent',
      shutdownMs: drainMs + 1000,
    });
  }
  if (runsIntake(config.role)) {
    actors.push(
      {
        id: 'scheduler',
        kind: 'scheduler',
        module: moduleUrl('../actors/scheduler/actor.js'),
        args: deliverScope(config),
        restart: 'permanent',
      },
      {
        id: 'cron',
        kind: 'cron',
        module: moduleUrl('../actors/cron/actor.js'),
        args: intakeScope(config),
        restart: 'permanent',
        startTimeoutMs: 120_000,
        shutdownMs: 6000,
      },
    );
  }
  const core = new ThreadHost({ ...hostOptions, id: 'core', log, actors });
  children.push(core.childSpec({ shutdownMs: (runsProcessing(config.role) ? drainMs : 6000) + 2000 }));
  let realtime: HostPool | undefined;
  if (runsIntake(config.role)) {
    realtime = new HostPool({
      id: 'realtime',
      size: config.realtimeHosts,
      registry,
      log,
      host: { data, logLevel: config.logLevel, heartbeatMs: 1000, missedHeartbeats: 10, resourceLimits },
      intensity: 5,
      periodMs: 30_000,
      backoff: { minMs: 500, maxMs: 10_000, jitter: 0.2, resetAfterMs: 30_000 },
    });
    children.push(realtime.childSpec());
  }
  const root = new Supervisor({
    id: 'root',
    strategy: 'one_for_one',
    intensity: 3,
    periodMs: 5000,
    log,
    escalationDeadlineMs: config.shutdownTimeoutMs,
    children,
  });
  return { root, core, realtime, threadHosts: [core, ...(realtime?.hosts ?? [])] };
}
