// The intake hosts of a deployment, and which enterprises each would serve: the input of placement
// (placement.ts). Every intake host renews its entry every tick with a short expiry on Redis's clock, so a host
// that dies or freezes drops out by itself; one that stops leaves at once. With its entry it publishes a digest of
// the enterprises it wants (DAEMON_ENTERPRISE_IDS, or the enabled rows of notify.enterprise, minus those switched
// off); the list itself is written only when the digest changes, and read by the others only then.
//
// Keys (under the queue prefix: one hash tag, one Redis Cluster slot):
//   <prefix>:intake:alive   ZSET  member = host id, score = expiry (Redis ms)
//   <prefix>:intake:digest  HASH  host id → digest of its wanted enterprises
//   <prefix>:intake:wants   HASH  host id → its wanted enterprise ids, comma-separated
import { createHash } from 'node:crypto';
import type { RedisClient } from '../queue/redis.js';

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if ARGV[4] ~= '=' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
elseif redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return { 'resend' } end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(dead))
  redis.call('HDEL', KEYS[3], unpack(dead))
end
local alive = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(alive) do
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[2], id) or '')
end
return out`;

type MembersRedis = RedisClient & {
  notifydMembersRenew(k1: string, k2: string, k3: string, ...args: (string | number)[]): Promise<string[]>;
};

export function wantsDigest(ids: readonly string[]): string {
  return createHash('sha1')
    .update([...ids].sort().join(','))
    .digest('base64url')
    .slice(0, 16);
}

export interface Member {
  hostId: string;
  /** the enterprises it would serve */
  wants: ReadonlySet<string>;
}

export class IntakeMembers {
  private readonly redis: MembersRedis;
  private readonly keys: [string, string, string];
  /** what each host wants, by the digest last read */
  private readonly cache = new Map<string, { digest: string; wants: ReadonlySet<string> }>();
  private published: string | undefined;

  constructor(redis: RedisClient, prefix: string) {
    const r = redis as MembersRedis;
    if (typeof r.notifydMembersRenew !== 'function') {
      redis.defineCommand('notifydMembersRenew', { numberOfKeys: 3, lua: RENEW });
    }
    this.redis = r;
    this.keys = [`${prefix}:intake:alive`, `${prefix}:intake:digest`, `${prefix}:intake:wants`];
  }

  /**
   * Renews this host's entry for `ttlMs` with what it wants, and returns every live member with what it wants
   * (this host included).
   */
  async renew(hostId: string, wants: readonly string[], ttlMs: number): Promise<Member[]> {
    const digest = wantsDigest(wants);
    const full = [...wants].sort().join(',');
    let flat = await this.redis.notifydMembersRenew(
      ...this.keys,
      hostId,
      ttlMs,
      digest,
      this.published === digest ? '=' : full,
    );
    // the list is gone (Redis lost its data, or the others saw this host expire): write it again
    if (flat.length === 1 && flat[0] === 'resend')
      flat = await this.redis.notifydMembersRenew(...this.keys, hostId, ttlMs, digest, full);
    this.published = digest;
    const members: { hostId: string; digest: string }[] = [];
    for (let i = 0; i < flat.length; i += 2) members.push({ hostId: flat[i] as string, digest: flat[i + 1] ?? '' });
    const stale = members.filter((m) => this.cache.get(m.hostId)?.digest !== m.digest);
    if (stale.length > 0) {
      const lists = await this.redis.hmget(this.keys[2], ...stale.map((m) => m.hostId));
      stale.forEach((m, i) => {
        const raw = lists[i] ?? '';
        this.cache.set(m.hostId, { digest: m.digest, wants: new Set(raw === '' ? [] : raw.split(',')) });
      });
    }
    const alive = new Set(members.map((m) => m.hostId));
    for (const id of this.cache.keys()) if (!alive.has(id)) this.cache.delete(id);
    return members.map((m) => ({ hostId: m.hostId, wants: this.cache.get(m.hostId)?.wants ?? new Set() }));
  }

  /** Leaves at once (a stopping host): the others place its enterprises on their next tick. */
  async leave(hostId: string): Promise<void> {
    await this.redis.multi().zrem(this.keys[0], hostId).hdel(this.keys[1], hostId).hdel(this.keys[2], hostId).exec();
    this.published = undefined;
  }
}
