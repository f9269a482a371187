// One leader among the intake hosts for work that one host should do for all (the sweep, the cron rules' sync and
// missed-fire accounting): a lease (leases.ts) named after the work and the hosts' enterprise scope, so hosts
// configured for different enterprises each elect their own. The leader renews it on every round of the work; a
// leader that dies or freezes is replaced when its lease runs out (a few rounds), and one that wakes up finds it
// lost on its next round and stands by.
import { createHash } from 'node:crypto';
import type { RedisClient } from '../queue/redis.js';
import { LeaseTable } from './leases.js';

/** A short digest of an enterprise scope (DAEMON_ENTERPRISE_IDS, exclusions): hosts with one digest share a leader. */
export function scopeDigest(scope: {
  enterpriseIds?: readonly string[] | undefined;
  excludeIds?: readonly string[] | undefined;
}): string {
  const ids = scope.enterpriseIds === undefined ? '*' : [...scope.enterpriseIds].sort().join(',');
  const ex = [...(scope.excludeIds ?? [])].sort().join(',');
  return createHash('sha1').update(`${ids}|${ex}`).digest('base64url').slice(0, 12);
}

export class Leadership {
  private readonly table: LeaseTable;
  private token: number | undefined;

  constructor(
    redis: RedisClient,
    prefix: string,
    private readonly name: string,
    private readonly holder: string,
    private readonly ttlMs: number,
  ) {
    this.table = new LeaseTable(redis, prefix, 'leaders');
  }

  /** True while this host leads (renewed or taken now); a Redis failure counts as not leading. */
  async lead(): Promise<boolean> {
    try {
      const r = (await this.table.hold(this.holder, [this.name], this.ttlMs)).get(this.name);
      this.token = r?.held === true ? r.token : undefined;
    } catch {
      this.token = undefined;
    }
    return this.token !== undefined;
  }

  get leading(): boolean {
    return this.token !== undefined;
  }

  /** Steps down (a stopping host), so another takes over at its next round. */
  async resign(): Promise<void> {
    if (this.token === undefined) return;
    this.token = undefined;
    await this.table.release(this.holder, [this.name]).catch(() => undefined);
  }
}
