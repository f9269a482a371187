// Leases in Redis with fencing tokens: at most one holder per name at a time (an enterprise's subscription, the
// sweep's leadership), held for a TTL on Redis's clock and renewed by its holder well before it runs out. Every
// acquisition gets a new fencing token, larger than any token handed out before; writes made on a lease's behalf
// carry its token, and a store that remembers the largest token it has seen refuses an older one (the watermark in
// PostgreSQL does: src/db/watermarks.ts), so a holder that froze past its TTL and woke up cannot write over its
// successor. Tokens are max(Redis time in µs, last token + 1): they keep growing even after Redis lost its data.
//
// Keys (all under the queue prefix, so one hash tag keeps them in one Redis Cluster slot):
//   <prefix>:<table>        HASH  name → "holder|token|expires (Redis ms)"
//   <prefix>:<table>:fence  STRING the last token handed out
import type { RedisClient } from '../queue/redis.js';

/** hold: renew what this holder has, take what is free or expired, report who holds the rest. */
const HOLD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = string.format('%.0f', now + tonumber(ARGV[2]))
local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
local me = ARGV[1]
local out = {}
for i = 3, #ARGV do
  local name = ARGV[i]
  local cur = redis.call('HGET', KEYS[1], name)
  local holder, token, expires = nil, nil, 0
  if cur then
    holder, token, expires = string.match(cur, '^(.*)|(%d+)|(%d+)$')
    expires = tonumber(expires or '0')
  end
  if cur and holder == me and expires > now then
    redis.call('HSET', KEYS[1], name, me .. '|' .. token .. '|' .. untilMs)
    table.insert(out, token)
    table.insert(out, me)
  elseif (not cur) or holder == nil or expires <= now then
    local last = tonumber(redis.call('GET', KEYS[2]) or '0')
    local fresh = string.format('%.0f', math.max(nowUs, last + 1))
    redis.call('SET', KEYS[2], fresh)
    redis.call('HSET', KEYS[1], name, me .. '|' .. fresh .. '|' .. untilMs)
    table.insert(out, fresh)
    table.insert(out, me)
  else
    table.insert(out, '0')
    table.insert(out, holder)
  end
end
return { string.format('%.0f', now), out }`;

/** release: drop the names this holder holds (others' are left alone). */
const RELEASE = `
local n = 0
for i = 2, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur and string.sub(cur, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n`;

/** list: every live lease; expired ones are removed on the way. */
const LIST = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local holder, token, expires = string.match(all[i + 1], '^(.*)|(%d+)|(%d+)$')
  if holder == nil or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    table.insert(out, all[i])
    table.insert(out, holder)
    table.insert(out, token)
    table.insert(out, string.format('%.0f', tonumber(expires) - now))
  end
end
return out`;

type LeaseRedis = RedisClient & {
  notifydLeaseHold(k1: string, k2: string, ...args: (string | number)[]): Promise<[string, string[]]>;
  notifydLeaseRelease(k1: string, ...args: string[]): Promise<number>;
  notifydLeaseList(k1: string): Promise<string[]>;
};

function withCommands(redis: RedisClient): LeaseRedis {
  const r = redis as LeaseRedis;
  if (typeof r.notifydLeaseHold !== 'function') {
    redis.defineCommand('notifydLeaseHold', { numberOfKeys: 2, lua: HOLD });
    redis.defineCommand('notifydLeaseRelease', { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand('notifydLeaseList', { numberOfKeys: 1, lua: LIST });
  }
  return r;
}

/** The result of hold() for one name: held by this holder with its token, or by someone else. */
export type HoldResult = { held: true; token: number } | { held: false; holder: string };

export interface LeaseInfo {
  name: string;
  holder: string;
  token: number;
  expiresInMs: number;
}

/** Names are held in batches of this many per script call (a call blocks Redis while it runs). */
const BATCH = 500;

export class LeaseTable {
  private readonly redis: LeaseRedis;
  private readonly key: string;
  private readonly fenceKey: string;

  constructor(redis: RedisClient, prefix: string, table: string) {
    this.redis = withCommands(redis);
    this.key = `${prefix}:${table}`;
    this.fenceKey = `${prefix}:${table}:fence`;
  }

  /**
   * Renews the leases `holder` has among `names` and takes the free or expired ones, each for `ttlMs` from now
   * on Redis's clock. A renewed lease keeps its token; a taken one gets a new, larger token.
   */
  async hold(holder: string, names: readonly string[], ttlMs: number): Promise<Map<string, HoldResult>> {
    if (holder.includes('|')) throw new Error(`a lease holder may not contain "|" (got ${JSON.stringify(holder)})`);
    const out = new Map<string, HoldResult>();
    for (let i = 0; i < names.length; i += BATCH) {
      const batch = names.slice(i, i + BATCH);
      const [, flat] = await this.redis.notifydLeaseHold(this.key, this.fenceKey, holder, ttlMs, ...batch);
      batch.forEach((name, j) => {
        const token = Number(flat[j * 2]);
        out.set(name, token > 0 ? { held: true, token } : { held: false, holder: flat[j * 2 + 1] ?? '' });
      });
    }
    return out;
  }

  /** Gives up what `holder` holds among `names` at once (a handoff); returns how many it held. */
  async release(holder: string, names: readonly string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < names.length; i += BATCH) {
      n += await this.redis.notifydLeaseRelease(this.key, holder, ...names.slice(i, i + BATCH));
    }
    return n;
  }

  /** Every live lease (for /health and `notifyd status`). */
  async list(): Promise<LeaseInfo[]> {
    const flat = await this.redis.notifydLeaseList(this.key);
    const out: LeaseInfo[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      out.push({
        name: flat[i] as string,
        holder: flat[i + 1] as string,
        token: Number(flat[i + 2]),
        expiresInMs: Number(flat[i + 3]),
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
