// Which enterprises this host serves, and keeping the enterprise actors and the served registry in line with it.
// Wanted: DAEMON_ENTERPRISE_IDS when set, else the enabled rows of notify.enterprise; never an enterprise switched
// off by ENT_<id>_SUBSCRIPTION_ENABLED=false, nor one whose row in notify.enterprise says enabled = false (even when
// DAEMON_ENTERPRISE_IDS lists it). Re-read periodically: added enterprises get an actor, removed ones lose theirs.
// What it serves, and in which mode (ENT_<id>_MODE / DELIVERY_MODE), is published to the served registry every
// few seconds (src/ownership/served.ts): workers deliver only what some live host publishes as `deliver`.
import type { Redis } from 'ioredis';
import type { Config } from '../src/config/load.js';
import { modeFor, subscriptionEnabledFor } from '../src/config/load.js';
import { ENTERPRISE_ID_PATTERN } from '../src/config/schema.js';
import { disabledEnterprises, enabledEnterprises, pausedEnterprises } from '../src/db/enterprises.js';
import type { DbPool } from '../src/db/pool.js';
import { bounded } from '../src/bounded.js';
import { describeError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { ServedRegistry } from '../src/ownership/served.js';
import type { HostPool } from '../src/runtime/host-pool.js';
import type { ActorSpec } from '../src/runtime/types.js';

const ENTERPRISE_MODULE = new URL('../actors/enterprise/actor.js', import.meta.url).href;
/** How often the served registry is renewed, and how long an entry outlives a host that stopped renewing it. */
export const SERVED_RENEW_MS = 2000;
export const SERVED_TTL_MS = 10_000;

export function enterpriseSpec(enterpriseId: string): ActorSpec<{ enterpriseId: string }> {
  return {
    id: `enterprise:${enterpriseId}`,
    kind: 'enterprise',
    module: ENTERPRISE_MODULE,
    args: { enterpriseId },
    restart: 'transient',
    shutdownMs: 3000,
  };
}

export class EnterpriseDirectory {
  private readonly config: Config;
  private readonly pool: HostPool;
  private readonly db: DbPool;
  private readonly log: Logger;
  private readonly registry: ServedRegistry;
  private served = new Set<string>();
  private disabled: string[] = [];
  private paused = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private stopped = false;
  private publishFailing = false;

  private readonly hostId: string;
  private readonly statusOf: (enterpriseId: string) => { status: string; since: string } | undefined;

  constructor(args: {
    config: Config;
    pool: HostPool;
    db: DbPool;
    redis: Redis;
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
  }

  /** Enterprises this host would serve but that are switched off (ENT_<id>_SUBSCRIPTION_ENABLED, notify.enterprise). */
  get disabledIds(): readonly string[] {
    return this.disabled;
  }

  get servedIds(): readonly string[] {
    return [...this.served];
  }

  /** Enterprises paused in notify.enterprise_pause (read every SERVED_RENEW_MS). */
  get pausedIds(): readonly string[] {
    return [...this.paused];
  }

  /**
   * Re-reads the pauses. An enterprise resumed since the last look catches up every pending row at once (its jobs
   * were dropped while it was paused), instead of waiting for the sweep.
   */
  private async refreshPauses(): Promise<void> {
    const now = new Set((await pausedEnterprises(this.db.pool)).map((p) => p.enterprise_id));
    const resumed = [...this.paused].filter((id) => !now.has(id) && this.served.has(id));
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

  /** Brings the actors (and the registry) in line with the wanted set; calls are serialised. */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
      if (this.stopped) return;
      const { target, disabled } = await this.wanted();
      this.disabled = disabled;
      const want = new Set(target);
      const added = target.filter((id) => !this.served.has(id));
      const removed = [...this.served].filter((id) => !want.has(id));
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
      }
      for (const id of removed) {
        this.served.delete(id);
        await this.pool
          .stopActor(`enterprise:${id}`, 'removed')
          .catch((err: unknown) =>
            this.log.warn(
              { event: 'enterprise_remove_failed', enterprise_id: id, err: describeError(err) },
              'could not stop enterprise actor',
            ),
          );
        this.log.info({ event: 'enterprise_removed', enterprise_id: id }, 'enterprise no longer served');
      }
      const results = await this.pool.spawnMany(added.map(enterpriseSpec));
      results.forEach((r, i) => {
        const id = added[i] as string;
        // A first start that failed is retried by the host with backoff: the actor still counts as served.
        if (this.pool.hostOf(`enterprise:${id}`) !== undefined) this.served.add(id);
        if (r.status === 'rejected')
          this.log.error(
            { event: 'enterprise_spawn_failed', enterprise_id: id, err: describeError(r.reason) },
            'could not start enterprise actor',
          );
      });
      if (added.length > 0 || removed.length > 0) {
        this.log.info(
          {
            event: 'enterprises_synced',
            served: this.served.size,
            added: added.length,
            removed: removed.length,
            disabled: this.disabled.length,
          },
          'enterprise actors updated',
        );
      }
      await this.publish();
      await this.refreshPauses().catch(() => undefined);
    })().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /** Renews this host's entries in the served registry (a failure is retried on the next tick). */
  private async publish(): Promise<void> {
    if (this.stopped || this.served.size === 0) return;
    try {
      await this.registry.publish(
        [...this.served].map((id) => {
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

  /** Re-syncs every intervalMs (new/removed enterprises, actors that could not be placed); renews the registry. */
  watch(intervalMs: number): void {
    if (this.stopped) return;
    this.timer = setInterval(() => {
      void this.sync().catch((err: unknown) =>
        this.log.warn({ event: 'enterprise_sync_failed', err: describeError(err) }, 'could not refresh enterprises'),
      );
    }, intervalMs);
    this.timer.unref();
    this.renewTimer = setInterval(() => {
      void this.publish();
      void this.refreshPauses().catch(() => undefined);
    }, SERVED_RENEW_MS);
    this.renewTimer.unref();
  }

  /** Stops syncing and withdraws this host's entries: a stopping host serves nothing. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      clearInterval(this.timer);
      clearInterval(this.renewTimer);
      await bounded(this.syncing, 2000);
      await this.registry.withdraw([...this.served]).catch(() => undefined);
    })();
    return this.stopping;
  }
}
