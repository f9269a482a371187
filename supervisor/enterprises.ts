// Which enterprises this host serves, and keeping the enterprise actors in line with it: DAEMON_ENTERPRISE_IDS
// when set (fixed), else the enabled rows of notify.enterprise (re-read periodically: added enterprises get an
// actor, disabled or deleted ones lose theirs). ENT_<id>_SUBSCRIPTION_ENABLED=false keeps an enterprise unserved.
import type { Config } from '../src/config/load.js';
import { subscriptionEnabledFor } from '../src/config/load.js';
import { ENTERPRISE_ID_PATTERN } from '../src/config/schema.js';
import { enabledEnterprises } from '../src/db/notifications.js';
import type { DbPool } from '../src/db/pool.js';
import { describeError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import type { HostPool } from '../src/runtime/host-pool.js';
import type { ActorSpec } from '../src/runtime/types.js';

const ENTERPRISE_MODULE = new URL('../actors/enterprise/actor.js', import.meta.url).href;

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
  private served = new Set<string>();
  private disabled: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private stopped = false;

  constructor(args: { config: Config; pool: HostPool; db: DbPool; log: Logger }) {
    this.config = args.config;
    this.pool = args.pool;
    this.db = args.db;
    this.log = args.log.child({ component: 'enterprises' });
  }

  get disabledIds(): readonly string[] {
    return this.disabled;
  }

  get servedIds(): readonly string[] {
    return [...this.served];
  }

  private async wanted(): Promise<string[]> {
    if (this.config.enterpriseIds !== undefined) return [...this.config.enterpriseIds];
    const rows = await enabledEnterprises(this.db.pool);
    const bad = rows.filter((id) => !ENTERPRISE_ID_PATTERN.test(id));
    if (bad.length > 0) this.log.error({ event: 'enterprise_id_invalid', count: bad.length }, 'notify.enterprise has ids that are not valid; they are not served');
    return rows.filter((id) => ENTERPRISE_ID_PATTERN.test(id));
  }

  /** Brings the actors in line with the wanted set; safe to call concurrently (calls are serialised). */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
      const wanted = await this.wanted();
      this.disabled = wanted.filter((id) => !subscriptionEnabledFor(this.config, id));
      const target = new Set(wanted.filter((id) => subscriptionEnabledFor(this.config, id)));
      const added = [...target].filter((id) => !this.served.has(id));
      const removed = [...this.served].filter((id) => !target.has(id));
      for (const id of removed) {
        this.served.delete(id);
        await this.pool.stopActor(`enterprise:${id}`, 'removed').catch((err: unknown) =>
          this.log.warn({ event: 'enterprise_remove_failed', enterprise_id: id, err: describeError(err) }, 'could not stop enterprise actor'));
        this.log.info({ event: 'enterprise_removed', enterprise_id: id }, 'enterprise no longer served');
      }
      const results = await this.pool.spawnMany(added.map(enterpriseSpec));
      results.forEach((r, i) => {
        const id = added[i] as string;
        // A first start that failed is retried by the host with backoff: the actor still counts as served.
        if (this.pool.hostOf(`enterprise:${id}`) !== undefined) this.served.add(id);
        if (r.status === 'rejected') this.log.error({ event: 'enterprise_spawn_failed', enterprise_id: id, err: describeError(r.reason) }, 'could not start enterprise actor');
      });
      if (added.length > 0 || removed.length > 0) {
        this.log.info({ event: 'enterprises_synced', served: this.served.size, added: added.length, removed: removed.length, disabled: this.disabled.length }, 'enterprise actors updated');
      }
    })().finally(() => { this.syncing = undefined; });
    return this.syncing;
  }

  /** Re-syncs every intervalMs: new/removed rows of notify.enterprise, and actors that could not be placed. */
  watch(intervalMs: number): void {
    if (this.stopped) return;
    this.timer = setInterval(() => {
      void this.sync().catch((err: unknown) => this.log.warn({ event: 'enterprise_sync_failed', err: describeError(err) }, 'could not refresh enterprises'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
