// Assembles GET /health from the runtime's real statuses (the StatusRegistry): the CONTRACT shape — status,
// uptime, components, enterprise_status — plus this host's role and id and the per-actor array. A role reports only
// the components it runs (a worker has no subscriptions, an intake host no queue consumer); an intake host also says
// which host owns each enterprise it wants. Nothing here is invented.
import { worstHealth, type StatusRegistry } from '../src/runtime/status-registry.js';
import type { ActorStatus } from '../src/runtime/types.js';

export type OverallStatus = 'healthy' | 'degraded' | 'unhealthy';
export type ComponentStatus = 'healthy' | 'degraded' | 'unhealthy' | 'not_running';

export interface HealthReport {
  status: OverallStatus;
  uptime: number;
  role: 'all' | 'daemon' | 'worker';
  host: string;
  components: {
    subscriptions?: { total: number; active: number; failed: number };
    cronManager?: ComponentStatus;
    scheduledManager?: ComponentStatus;
    queue?: ComponentStatus;
  };
  /** intake roles only */
  enterprise_status?: Record<string, string>;
  /** intake roles only: the live intake hosts, and which of them holds each wanted enterprise (null: none now) */
  ownership?: {
    members: readonly string[];
    owned: number;
    leasesValid: boolean;
    owners: Record<string, string | null>;
  };
  actors: ActorStatus[];
}

export interface HealthInputs {
  registry: StatusRegistry;
  startedAt: number;
  /** 'starting' until the tree is up, 'running', then 'stopping' from the first signal on */
  phase: () => 'starting' | 'running' | 'stopping';
  role?: 'all' | 'daemon' | 'worker';
  hostId?: string;
  /** served enterprises whose subscription is switched off (ENT_<id>_SUBSCRIPTION_ENABLED=false) */
  disabledEnterprises: () => readonly string[];
  /** enterprises paused (`notifyd pause`): subscribed, nothing delivered */
  pausedEnterprises?: () => readonly string[];
  ownership?: () => HealthReport['ownership'];
  /** whether this host holds the enterprise's lease as of its last renewal (an actor may not have heard yet) */
  holds?: (enterpriseId: string) => boolean;
}

const ENTERPRISE_PREFIX = 'enterprise:';

function component(status: ActorStatus | undefined): ComponentStatus {
  if (status === undefined) return 'not_running';
  return status.health === 'ok' ? 'healthy' : status.health === 'degraded' ? 'degraded' : 'unhealthy';
}

export function assembleHealth(inputs: HealthInputs): HealthReport {
  const actors = inputs.registry.snapshot();
  const byKind = (kind: string) => actors.filter((a) => a.kind === kind);
  const enterprises = byKind('enterprise');
  const enterprise_status: Record<string, string> = {};
  for (const e of enterprises)
    enterprise_status[e.id.startsWith(ENTERPRISE_PREFIX) ? e.id.slice(ENTERPRISE_PREFIX.length) : e.id] = e.status;
  // An actor is only as good as its host's lease: once that lapsed (a freeze, Redis away), none is subscribed; and
  // only for the enterprises whose lease the host still holds (a renewal that found one taken over, as a host woken
  // from a freeze does, is known here before the actor hears of it and stops).
  const ownership = inputs.ownership?.();
  for (const [id, s] of Object.entries(enterprise_status)) {
    if (s !== 'subscribed') continue;
    if (ownership?.leasesValid === false) enterprise_status[id] = 'lease_lapsed';
    else if (inputs.holds?.(id) === false) enterprise_status[id] = 'not_owned';
  }
  for (const id of inputs.disabledEnterprises()) enterprise_status[id] ??= 'disabled';
  for (const id of inputs.pausedEnterprises?.() ?? [])
    if (enterprise_status[id] !== undefined) enterprise_status[id] = 'paused';

  const processing = byKind('processing')[0];
  const scheduler = byKind('scheduler')[0];
  const cron = byKind('cron')[0];
  const phase = inputs.phase();

  const role = inputs.role ?? 'all';
  const intake = role !== 'worker';
  const consumes = role !== 'daemon';
  // Unhealthy: shutting down, or a part every notification depends on is down (processing, scheduler, a host).
  const essentials: (ActorStatus | undefined)[] = [
    ...(consumes ? [processing] : []),
    ...(intake ? [scheduler] : []),
    ...byKind('host'),
  ];
  const worst = worstHealth(actors);
  let status: OverallStatus;
  if (phase === 'stopping') status = 'unhealthy';
  else if (phase === 'running' && essentials.some((a) => a === undefined || a.health === 'down')) status = 'unhealthy';
  else if (phase === 'starting' || worst !== 'ok') status = 'degraded';
  else status = 'healthy';

  return {
    status,
    uptime: Math.floor((Date.now() - inputs.startedAt) / 1000),
    role,
    host: inputs.hostId ?? 'local',
    components: {
      ...(intake
        ? {
            subscriptions: {
              total: enterprises.length,
              active: Object.values(enterprise_status).filter((st) => st === 'subscribed').length,
              failed: enterprises.filter((e) => e.health === 'down').length,
            },
            cronManager: component(cron),
            scheduledManager: component(scheduler),
          }
        : {}),
      ...(consumes ? { queue: component(processing) } : {}),
    },
    ...(intake ? { enterprise_status } : {}),
    ...(intake && ownership !== undefined ? { ownership } : {}),
    actors,
  };
}
