// The host registry: every running notifyd process says who it is every few seconds — id, role, pid, version, when
// it started, its health URL and overall status — with a short expiry on Redis's clock, so `notifyd status` lists
// the live hosts of a deployment and a host that died drops out by itself. (Issue 12's placement reads it too.)
//
// Keys (the queue prefix's hash tag keeps them in one slot on Redis Cluster):
//   <prefix>:hosts        HASH  host id → JSON HostInfo
//   <prefix>:hosts:alive  ZSET  member = host id, score = expiry (Redis ms)
import { hostname } from 'node:os';
import type { RedisClient } from '../queue/redis.js';

export interface HostInfo {
  hostId: string;
  role: string;
  hostname: string;
  pid: number;
  version: string;
  startedAt: string;
  healthUrl: string;
  status: string;
  enterprises: number;
}

const PUBLISH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return now`;

const LIST = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('HDEL', KEYS[1], unpack(dead))
end
local alive = redis.call('ZRANGE', KEYS[2], 0, -1)
local out = {}
for _, id in ipairs(alive) do table.insert(out, redis.call('HGET', KEYS[1], id) or '') end
return out`;

type HostsRedis = RedisClient & {
  notifydHostsPublish(k1: string, k2: string, id: string, ttl: number, info: string): Promise<number>;
  notifydHostsList(k1: string, k2: string): Promise<string[]>;
};

/** A process's id: DAEMON_HOST_ID when set, else hostname-pid (unique per process). */
export function defaultHostId(): string {
  return `${hostname()}-${process.pid}`;
}

export class HostRegistry {
  private readonly redis: HostsRedis;
  private readonly keys: [string, string];

  constructor(redis: RedisClient, prefix: string) {
    const r = redis as HostsRedis;
    if (typeof r.notifydHostsPublish !== 'function') {
      redis.defineCommand('notifydHostsPublish', { numberOfKeys: 2, lua: PUBLISH });
      redis.defineCommand('notifydHostsList', { numberOfKeys: 2, lua: LIST });
    }
    this.redis = r;
    this.keys = [`${prefix}:hosts`, `${prefix}:hosts:alive`];
  }

  async publish(info: HostInfo, ttlMs: number): Promise<void> {
    await this.redis.notifydHostsPublish(this.keys[0], this.keys[1], info.hostId, ttlMs, JSON.stringify(info));
  }

  async withdraw(hostId: string): Promise<void> {
    await this.redis.multi().zrem(this.keys[1], hostId).hdel(this.keys[0], hostId).exec();
  }

  /** The live hosts, oldest first; expired ones are removed on the way. */
  async list(): Promise<HostInfo[]> {
    const raw = await this.redis.notifydHostsList(this.keys[0], this.keys[1]);
    const out: HostInfo[] = [];
    for (const r of raw) {
      try {
        if (r !== '') out.push(JSON.parse(r) as HostInfo);
      } catch {
        // a malformed entry (another version?) is skipped
      }
    }
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }
}
