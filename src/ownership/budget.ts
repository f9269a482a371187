// A token bucket in Redis, shared by every process of a deployment: for budgets that belong to an external service
// rather than to a host — Supabase Realtime's channel joins per second (per project), Novu's triggers (per
// environment). Refilled continuously on Redis's clock; a request for n tokens is granted whole or told how long to
// wait. One Lua call per request.
//
// Key: <prefix>:budget:<name>  HASH { tokens, at }  (expires when idle for a minute: a fresh bucket starts full)
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../queue/redis.js';

// ARGV: capacity, tokens per second, n, mode. Mode 0 takes n tokens if there are; 1 reserves them from the future
// (the bucket may go below zero); 2 holds the bucket off for n ms (a server's Retry-After), whatever it held.
// Returns { ms to wait, tokens left }.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2]) / 1000
local want = tonumber(ARGV[3])
local mode = ARGV[4]
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * perMs)
local wait = 0
if mode == '2' then
  tokens = math.min(tokens, -want * perMs)
elseif tokens >= want then
  tokens = tokens - want
elseif mode == '1' then
  tokens = tokens - want
  wait = math.ceil(-tokens / perMs)
else
  wait = math.ceil((want - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.max(60000, wait + 60000, mode == '2' and want + 60000 or 0))
return { wait, math.floor(tokens) }`;

type BudgetRedis = RedisClient & {
  notifydBudgetTake(
    key: string,
    capacity: number,
    perSecond: number,
    want: number,
    mode: 0 | 1 | 2,
  ): Promise<[number, number]>;
};

export interface BucketSettings {
  /** tokens added per second */
  perSecond: number;
  /** most tokens held (the burst) @defaultValue perSecond */
  capacity?: number;
}

export class RedisTokenBucket {
  private readonly redis: BudgetRedis;
  private readonly key: string;
  private settings: Required<BucketSettings>;

  constructor(redis: RedisClient, prefix: string, name: string, settings: BucketSettings) {
    const r = redis as BudgetRedis;
    if (typeof r.notifydBudgetTake !== 'function')
      redis.defineCommand('notifydBudgetTake', { numberOfKeys: 1, lua: TAKE });
    this.redis = r;
    this.key = `${prefix}:budget:${name}`;
    this.settings = { perSecond: settings.perSecond, capacity: settings.capacity ?? settings.perSecond };
  }

  /** Changes the rate (a budget learnt from a server's headers). */
  configure(settings: BucketSettings): void {
    this.settings = { perSecond: settings.perSecond, capacity: settings.capacity ?? settings.perSecond };
  }

  /** Takes n tokens if there are: 0, or the ms to wait before asking again. */
  async tryTake(n = 1): Promise<number> {
    const [wait] = await this.redis.notifydBudgetTake(this.key, this.settings.capacity, this.settings.perSecond, n, 0);
    return Number(wait);
  }

  /**
   * Takes n tokens now or from the future: the bucket may go below zero, and the answer is how long until the
   * reserved tokens exist (0 = now). Callers queueing behind a cap each wait once for their own slot instead of
   * asking again and again.
   */
  async reserve(n = 1): Promise<number> {
    const [wait] = await this.redis.notifydBudgetTake(this.key, this.settings.capacity, this.settings.perSecond, n, 1);
    return Number(wait);
  }

  /** Nothing more for `ms` from now, for every process sharing the bucket (the server refused: it knows best). */
  async holdOff(ms: number): Promise<void> {
    await this.redis.notifydBudgetTake(this.key, this.settings.capacity, this.settings.perSecond, Math.max(0, ms), 2);
  }

  /**
   * Takes n tokens by reservation and waits for them (aborted by the signal): one Redis call however long the wait,
   * and callers are served in the order they asked. For many waiters at once (every delivery of a busy worker),
   * where take()'s asking again would cost each of them a call every few ms and serve them in no order. A hold-off
   * made after the reservation does not reach it. When Redis cannot be asked, it paces locally at the same rate.
   */
  async acquire(n = 1, signal?: AbortSignal): Promise<void> {
    let wait: number;
    try {
      wait = await this.reserve(n);
    } catch {
      wait = Math.ceil((n / this.settings.perSecond) * 1000);
    }
    if (wait > 0) await sleep(wait, undefined, signal ? { signal } : undefined);
  }

  /**
   * Takes n tokens, waiting as long as the budget needs (aborted by the signal). When Redis cannot be asked, it
   * paces locally at the same rate instead of failing: a budget must never stop the daemon.
   */
  async take(n = 1, signal?: AbortSignal): Promise<void> {
    for (;;) {
      let wait: number;
      try {
        wait = await this.tryTake(n);
      } catch {
        wait = Math.ceil((n / this.settings.perSecond) * 1000);
        await sleep(wait, undefined, signal ? { signal } : undefined);
        return;
      }
      if (wait <= 0) return;
      await sleep(Math.min(wait, 5000), undefined, signal ? { signal } : undefined);
    }
  }
}
