// Noticing that Redis lost its data. Redis holds a marker key whose value is a random epoch id, created by whichever
// scheduler finds it missing; PostgreSQL records, per queue prefix and sweep scope, the epoch whose queue the sweep
// last reconciled (notify.redis_epoch). A marker that differs from the record means Redis lost its data since: the
// sweep leader repairs, then records the new epoch. The record lives in PostgreSQL, not in memory, so that neither a
// restarted scheduler nor another host starting after the loss (both of which create a fresh marker) can hide it.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { RedisClient } from './redis.js';

export type EpochCheck =
  /** Redis holds the epoch recorded as reconciled */
  | { kind: 'same'; epoch: string }
  /** Redis's epoch is not the one recorded: it lost its data since (the repair is owed until `reconciled`) */
  | { kind: 'lost'; epoch: string; recorded: string }
  /** nothing recorded yet for this prefix and scope: the first run; the current epoch is recorded now */
  | { kind: 'first'; epoch: string };

export class RedisEpoch {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly db: pg.Pool,
    private readonly prefix: string,
    private readonly scope: string,
  ) {
    // in the prefix's {hash tag} slot on a cluster: a master that comes back empty loses the marker with the queue
    this.key = `${prefix}:redis-epoch`;
  }

  /** Redis's current epoch id, created when the marker is missing (the first writer's id wins). */
  async current(): Promise<string> {
    const existing = await this.redis.get(this.key);
    if (existing !== null) return existing;
    await this.redis.set(this.key, randomUUID(), 'NX');
    const now = await this.redis.get(this.key);
    if (now === null) throw new Error('the Redis epoch marker vanished right after it was set');
    return now;
  }

  /** Compares Redis's epoch with the recorded one; on the first run for this prefix and scope, records it. */
  async check(): Promise<EpochCheck> {
    const epoch = await this.current();
    const { rows } = await this.db.query<{ epoch: string; inserted: boolean }>(
      `with ins as (
         insert into notify.redis_epoch (queue_prefix, scope, epoch) values ($1, $2, $3)
         on conflict (queue_prefix, scope) do nothing
         returning epoch)
       select epoch, true as inserted from ins
       union all
       select epoch, false from notify.redis_epoch where queue_prefix = $1 and scope = $2
       limit 1`,
      [this.prefix, this.scope, epoch],
    );
    const row = rows[0];
    if (row === undefined || row.inserted) return { kind: 'first', epoch };
    return row.epoch === epoch ? { kind: 'same', epoch } : { kind: 'lost', epoch, recorded: row.epoch };
  }

  /** Records `epoch` as reconciled: the repair pass for it completed. */
  async reconciled(epoch: string): Promise<void> {
    await this.db.query(
      `insert into notify.redis_epoch (queue_prefix, scope, epoch) values ($1, $2, $3)
       on conflict (queue_prefix, scope) do update set epoch = excluded.epoch, reconciled_at = now()`,
      [this.prefix, this.scope, epoch],
    );
  }
}
