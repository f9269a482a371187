// Which enterprises this host serves, and keeping the enterprise actors and the served registry in line with it.
// Wanted: DAEMON_ENTERPRISE_IDS when set, else the enabled rows of notify.enterprise; never an enterprise switched
// off by ENT_<id>_SUBSCRIPTION_ENABLED=false, nor one whose row in notify.enterprise says enabled = false (even when
// DAEMON_ENTERPRISE_IDS lists it). Re-read periodically: added enterprises get an actor, removed ones lose theirs.
// Of those, it serves the ones it owns (supervisor/ownership.ts: one lease per enterprise, placed by rendezvous
// hashing over the live intake hosts): an actor runs only under its host's lease, started with the lease's fencing
// token; an enterprise placed elsewhere is handed over (actor stopped, lease released) and one that lapsed or was
// taken over loses its actor. What it serves, and in which mode (ENT_<id>_MODE / DELIVERY_MODE), is published to
// the served registry every few seconds (src/ownership/served.ts): workers deliver only what some live host
// publishes as `deliver`. On SIGTERM it leaves the members first, then hands its enterprises over in batches.
import type { RedisClient } from '../src/queue/redis.js';
import type { Config } from '../src/config/load.js';
import { modeFor, subscriptionEnabledFor } from '../src/config/lookup.js';
import { ENTERPRISE_ID_PATTERN } from '../src/config/schema.js';
import { disabledEnterprises, enabledEnterprises, pausedEnterprises } from '../src/db/enterprises.js';
import type { DbPool } from '../src/db/pool.js';
import { bounded } from '../src/bounded.js';
import { describeError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { LEASES_KEY } from '../src/ownership/gate.js';
import { MISSED_KEY, MissedMarks } from '../src/ownership/missed.js';
import { ServedRegistry } from '../src/ownership/served.js';
import { mapLimit } from '../src/runtime/util.js';
import type { HostPool } from '../src/runtime/host-pool.js';
import type { ActorSpec } from '../src/runtime/types.js';
import { Ownership, OWNERSHIP_TICK_MS } from './ownership.js';

const ENTERPRISE_MODULE = new URL('../actors/enterprise/actor.js', import.meta.url).href;
/** How often the served registry is renewed, and how long an entry outlives a host that stopped renewing it. */
export const SERVED_RENEW_MS = 2000;
export const SERVED_TTL_MS = 10_000;

/** Enterprises handed over at once on SIGTERM (their actors stop together, then their leases are released). */
const HANDOFF_BATCH = 100;

export function enterpriseSpec(
  enterpriseId: string,
  fence?: number,
): ActorSpec<{ enterpriseId: string; fence?: number }> {
  return {
    id: `enterprise:${enterpriseId}`,
    kind: 'enterprise',
    module: ENTERPRISE_MODULE,
    args: fence === undefined ? { enterpriseId } : { enterpriseId, fence },
    restart: 'transient',
    shutdownMs: 3000,
  };
}

export interface OwnershipView {
  members: readonly string[];
  /** enterprises this host holds the lease of */
  owned: number;
  /** false once the leases lapsed on this host's clock (it froze, or Redis was away): its actors count for nothing */
  leasesValid: boolean;
  /** every wanted enterprise → the host holding its lease (null: nobody right now) */
  owners: Record<string, string | null>;
}

export class EnterpriseDirectory {
  private readonly config: Config;
  private readonly pool: HostPool;
  private readonly db: DbPool;
  private readonly log: Logger;
  private readonly registry: ServedRegistry;
  private readonly ownership: Ownership;
  private readonly missed: MissedMarks;
  private missedShared = '';
  private wantedIds: string[] = [];
  /** running actors: enterprise → the fencing token they were started with */
  private running = new Map<string, number>();
  private disabled: string[] = [];
  private paused = new Set<string>();
  private ownersView: Record<string, string | null> = {};
  private wantTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private reconcileQueued = false;
  private stopping: Promise<void> | undefined;
  private stopped = false;
  private publishFailing = false;
  private publishedAt = 0;

  private readonly hostId: string;
  private readonly statusOf: (enterpriseId: string) => { status: string; since: string } | undefined;

  constructor(args: {
    config: Config;
    pool: HostPool;
    db: DbPool;
    redis: RedisClient;
    log: Logger;
    hostId: string;
    /** the enterprise actor's status (the StatusRegistry), published for operators */
    statusOf?: (enterpriseId: string) => { status: string; since: string } | undefined;
  }) {
    this.config = args.config;
    this.hostId = args.hostId;
    this.statusOf = args.statusOf ?? (() => undefined);
    this.pool = args.pool;
    this.db = args.db;
    this.log = args.log.child({ component: 'enterprises' });
    this.registry = new ServedRegistry(args.redis, args.config.queuePrefix);
    this.missed = new MissedMarks(args.redis, args.config.queuePrefix);
    this.ownership = new Ownership({
      redis: args.redis,
      prefix: args.config.queuePrefix,
      hostId: args.hostId,
      log: args.log,
    });
  }

  /** Enterprises this host would serve but that are switched off (ENT_<id>_SUBSCRIPTION_ENABLED, notify.enterprise). */
  get disabledIds(): readonly string[] {
    return this.disabled;
  }

  /** Enterprises whose actor runs here (under this host's lease). */
  get servedIds(): readonly string[] {
    return [...this.running.keys()];
  }

  /** Enterprises paused in notify.enterprise_pause (read every SERVED_RENEW_MS). */
  get pausedIds(): readonly string[] {
    return [...this.paused];
  }

  /** Whether this host holds the enterprise's ownership lease, as of its last renewal. */
  holds(enterpriseId: string): boolean {
    return this.ownership.owned.has(enterpriseId);
  }

  /** Who owns what, for /health. */
  ownershipView(): OwnershipView {
    return {
      members: this.ownership.members,
      owned: this.ownership.owned.size,
      leasesValid: this.ownership.valid,
      owners: this.ownersView,
    };
  }

  /**
   * Re-reads the pauses. An enterprise resumed since the last look catches up every pending row at once (its jobs
   * were dropped while it was paused), instead of waiting for the sweep.
   */
  private async refreshPauses(): Promise<void> {
    const now = new Set((await pausedEnterprises(this.db.pool)).map((p) => p.enterprise_id));
    const resumed = [...this.paused].filter((id) => !now.has(id) && this.running.has(id));
    for (const id of [...now].filter((x) => !this.paused.has(x)))
      this.log.info(
        { event: 'enterprise_paused', enterprise_id: id },
        'enterprise paused: nothing is delivered until it is resumed',
      );
    this.paused = now;
    for (const id of resumed) {
      this.log.info(
        { event: 'enterprise_resumed', enterprise_id: id },
        'enterprise resumed: catching up its pending rows',
      );
      void this.pool
        .ask(`enterprise:${id}`, { type: 'catch_up', full: true }, 60_000)
        .catch((err: unknown) =>
          this.log.warn(
            { event: 'resume_catch_up_failed', enterprise_id: id, err: describeError(err) },
            'catch-up after resume failed; the sweep covers it',
          ),
        );
    }
  }

  private async wanted(): Promise<{ target: string[]; disabled: string[] }> {
    const off = new Set(await disabledEnterprises(this.db.pool));
    let ids: string[];
    if (this.config.enterpriseIds !== undefined) {
      ids = [...this.config.enterpriseIds];
    } else {
      const rows = await enabledEnterprises(this.db.pool);
      const bad = rows.filter((id) => !ENTERPRISE_ID_PATTERN.test(id));
      if (bad.length > 0)
        this.log.error(
          { event: 'enterprise_id_invalid', count: bad.length },
          'notify.enterprise has ids that are not valid; they are not served',
        );
      ids = rows.filter((id) => ENTERPRISE_ID_PATTERN.test(id));
    }
    // switched off by configuration or in notify.enterprise (in table mode, every row with enabled = false)
    const disabled = ids.filter((id) => !subscriptionEnabledFor(this.config, id) || off.has(id));
    if (this.config.enterpriseIds === undefined)
      disabled.push(...[...off].filter((id) => ENTERPRISE_ID_PATTERN.test(id)));
    return { target: ids.filter((id) => !disabled.includes(id)), disabled };
  }

  /** Runs `work` after whatever is running: syncs and reconciles never overlap. */
  private serial(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Re-reads which enterprises are wanted, then reconciles. */
  sync(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      const { target, disabled } = await this.wanted();
      this.disabled = disabled;
      const removed = this.wantedIds.filter((id) => !target.includes(id));
      this.wantedIds = target;
      if (removed.length > 0) {
        // Withdrawn first: from here on no worker delivers for them, whatever is still queued.
        await this.registry
          .withdraw(removed)
          .catch((err: unknown) =>
            this.log.warn(
              { event: 'served_withdraw_failed', err: describeError(err) },
              'could not withdraw from the served registry; entries expire on their own',
            ),
          );
        for (const id of removed) {
          this.log.info({ event: 'enterprise_removed', enterprise_id: id }, 'enterprise no longer served');
        }
      }
      await this.reconcileNow();
      await this.refreshPauses().catch(() => undefined);
    });
  }

  /** One ownership round, and the actors brought in line with it. */
  reconcile(): Promise<void> {
    return this.serial(() => (this.stopped ? Promise.resolve() : this.reconcileNow()));
  }

  /** Coalesces nudges (another host announced a change) into one reconcile. */
  private reconcileSoon(): void {
    if (this.reconcileQueued || this.stopped) return;
    this.reconcileQueued = true;
    void this.serial(async () => {
      this.reconcileQueued = false;
      if (!this.stopped) await this.reconcileNow();
    });
  }

  private async reconcileNow(): Promise<void> {
    const tick = await this.ownership.tick(this.wantedIds);
    // the actors' lease check reads this: lost, handed over and lapsed leases stop their writes from now on
    this.pool.share(LEASES_KEY, this.ownership.shared());
    const stop = [...this.running].filter(([id, token]) => tick.owned.get(id) !== token).map(([id]) => id);
    await this.stopActors(stop, 'ownership moved');
    if (tick.handOver.length > 0) {
      await this.ownership
        .release(tick.handOver)
        .catch((err: unknown) =>
          this.log.warn(
            { event: 'lease_release_failed', err: describeError(err) },
            'could not release leases; they lapse on their own',
          ),
        );
    }
    const start = [...tick.owned].filter(([id]) => !this.running.has(id));
    if (start.length > 0) {
      const results = await this.pool.spawnMany(start.map(([id, token]) => enterpriseSpec(id, token)));
      results.forEach((r, i) => {
        const [id, token] = start[i] as [string, number];
        // A first start that failed is retried by the host with backoff: the actor still counts as served.
        if (this.pool.hostOf(`enterprise:${id}`) !== undefined) this.running.set(id, token);
        if (r.status === 'rejected')
          this.log.error(
            { event: 'enterprise_spawn_failed', enterprise_id: id, err: describeError(r.reason) },
            'could not start enterprise actor',
          );
      });
    }
    if (start.length > 0 || stop.length > 0) {
      this.log.info(
        {
          event: 'enterprises_synced',
          served: this.running.size,
          added: start.length,
          removed: stop.length,
          disabled: this.disabled.length,
          waiting: tick.waiting.size,
        },
        'enterprise actors updated',
      );
    }
    if (Date.now() - this.publishedAt >= SERVED_RENEW_MS || start.length > 0) await this.publish();
    await this.shareMissed();
    const owners = await this.ownership.owners();
    const view: Record<string, string | null> = Object.fromEntries(this.wantedIds.map((id) => [id, null]));
    for (const l of owners) if (l.name in view) view[l.name] = l.holder;
    for (const [id] of this.ownership.owned) view[id] = this.hostId;
    this.ownersView = view;
  }

  /** Tells this host's actors which of them the sweep found missing changes (they then poll fast). */
  private async shareMissed(): Promise<void> {
    const live = await this.missed.live().catch(() => undefined);
    if (live === undefined) return;
    const mine = live.filter((id) => this.running.has(id)).sort();
    const key = mine.join(',');
    if (key === this.missedShared) return;
    this.missedShared = key;
    this.pool.share(MISSED_KEY, mine);
  }

  private async stopActors(ids: readonly string[], reason: string): Promise<void> {
    await mapLimit(ids, 16, async (id) => {
      this.running.delete(id);
      await this.pool
        .stopActor(`enterprise:${id}`, reason)
        .catch((err: unknown) =>
          this.log.warn(
            { event: 'enterprise_remove_failed', enterprise_id: id, err: describeError(err) },
            'could not stop enterprise actor',
          ),
        );
    });
  }

  /** Renews this host's entries in the served registry (a failure is retried on the next tick). */
  private async publish(): Promise<void> {
    if (this.stopped || this.running.size === 0) return;
    this.publishedAt = Date.now();
    try {
      await this.registry.publish(
        [...this.running.keys()].map((id) => {
          const s = this.statusOf(id);
          const state = this.paused.has(id) ? 'paused' : (s?.status ?? 'starting');
          return { id, mode: modeFor(this.config, id), info: { host: this.hostId, state, since: s?.since ?? null } };
        }),
        SERVED_TTL_MS,
      );
      if (this.publishFailing) this.log.info({ event: 'served_publish_recovered' }, 'served registry renewed again');
      this.publishFailing = false;
    } catch (err) {
      if (!this.publishFailing)
        this.log.warn(
          { event: 'served_publish_failed', err: describeError(err) },
          'could not renew the served registry; retrying',
        );
      this.publishFailing = true;
    }
  }

  /**
   * Re-reads the wanted enterprises every intervalMs; reconciles ownership every OWNERSHIP_TICK_MS and whenever
   * another host announces a change; re-reads the pauses with the served registry's renewal.
   */
  watch(intervalMs: number): void {
    if (this.stopped) return;
    this.wantTimer = setInterval(() => {
      void this.sync().catch((err: unknown) =>
        this.log.warn({ event: 'enterprise_sync_failed', err: describeError(err) }, 'could not refresh enterprises'),
      );
    }, intervalMs);
    this.wantTimer.unref();
    let ticks = 0;
    this.tickTimer = setInterval(() => {
      void this.reconcile().catch((err: unknown) =>
        this.log.warn({ event: 'ownership_tick_failed', err: describeError(err) }, 'ownership round failed'),
      );
      if (++ticks % Math.max(1, Math.round(SERVED_RENEW_MS / OWNERSHIP_TICK_MS)) === 0) {
        void this.refreshPauses().catch(() => undefined);
      }
    }, OWNERSHIP_TICK_MS);
    this.tickTimer.unref();
    this.ownership.listen(() => this.reconcileSoon());
  }

  /**
   * Stops: leaves the intake members (the others place this host's enterprises without it), then hands them over
   * in batches: each batch's actors stop, then its leases are released and the others told. Enterprises nobody
   * else wants are withdrawn from the served registry. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      clearInterval(this.wantTimer);
      clearInterval(this.tickTimer);
      await bounded(this.chain, 5000);
      const started = Date.now();
      const ids = [...this.running.keys()];
      const others = this.ownership.members.filter((m) => m !== this.hostId).length;
      await bounded(
        this.ownership.leave().catch(() => undefined),
        1000,
      );
      for (let i = 0; i < ids.length; i += HANDOFF_BATCH) {
        const batch = ids.slice(i, i + HANDOFF_BATCH);
        await this.stopActors(batch, 'handed over');
        await bounded(
          this.ownership.release(batch).catch(() => undefined),
          1000,
        );
      }
      if (others === 0) await this.registry.withdraw(ids).catch(() => undefined);
      this.ownership.close();
      if (ids.length > 0) {
        this.log.info(
          {
            event: 'enterprises_handed_over',
            count: ids.length,
            hosts: others,
            processing_time_ms: Date.now() - started,
          },
          others > 0 ? 'enterprises handed over to the other intake hosts' : 'enterprises released',
        );
      }
    })();
    return this.stopping;
  }
}
