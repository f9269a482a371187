// Enterprises whose live path is known to be missing changes, as the sweep leader finds them (due rows without a
// job), kept in Redis for a minute so whichever host owns the enterprise switches it to the fast poll
// (actors/enterprise/fast-poll.ts), whatever host ran the sweep. Expiry is on Redis's clock.
//
// Key (under the queue prefix: one hash tag, one Redis Cluster slot):
//   <prefix>:realtime:missed  ZSET  member = enterprise id, score = until (Redis ms)
import type { RedisClient } from '../queue/redis.js';

const MARK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'GT', now + tonumber(ARGV[1]), ARGV[i]) end
return #ARGV - 1`;

const LIVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

/** The shared value (ThreadHost.share) through which a realtime thread's actors learn they are marked. */
export const MISSED_KEY = 'realtime.missed';

type MissedRedis = RedisClient & {
  notifydMissedMark(key: string, ...args: (string | number)[]): Promise<number>;
  notifydMissedLive(key: string): Promise<string[]>;
};

export class MissedMarks {
  private readonly redis: MissedRedis;
  private readonly key: string;

  constructor(redis: RedisClient, prefix: string) {
    const r = redis as MissedRedis;
    if (typeof r.notifydMissedMark !== 'function') {
      redis.defineCommand('notifydMissedMark', { numberOfKeys: 1, lua: MARK });
      redis.defineCommand('notifydMissedLive', { numberOfKeys: 1, lua: LIVE });
    }
    this.redis = r;
    this.key = `${prefix}:realtime:missed`;
  }

  /** Marks these enterprises as missing changes for the next `forMs`. */
  async mark(ids: readonly string[], forMs: number): Promise<void> {
    if (ids.length > 0) await this.redis.notifydMissedMark(this.key, forMs, ...ids);
  }

  /** The enterprises marked right now. */
  live(): Promise<string[]> {
    return this.redis.notifydMissedLive(this.key);
  }
}
