// Fair queueing between enterprises on open-source BullMQ (its groups are a Pro feature). A job's BullMQ priority
// is its class (the contract priority: realtime > scheduled > cron, or ENT_<id>_REALTIME_PRIORITY) times RANK_SPAN
// plus its rank: how many jobs of the same enterprise and class are already outstanding when it is enqueued, and
// never less than the highest rank among them. So within a class the queue serves every enterprise's first job,
// then every second one, and so on — round robin — and an enterprise with a backlog of 100,000 rows holds its own
// rows back, not anyone else's: a quiet enterprise's new row goes ahead of the backlog. The floor keeps each
// enterprise's own rows in order: without it, once some of a backlog finished, a new row ranked below older ones
// still waiting and overtook them (measured: rows waiting 11 s while rows 7 s newer went out in 0.5 s); equal ranks
// go in the order they were queued. Ranks stop growing at RANK_SPAN - 1 (beyond it, FIFO); classes never mix (a
// whole class ranks before the next).
//
// Outstanding jobs are counted in Redis, per enterprise and class, as a ZSET of job ids scored with an expiry
// (due time + OUTSTANDING_TTL_MS), beside a ZSET of their ranks: the worker removes a job from both when it
// finishes for good, and entries a crash or a Redis loss left behind expire by themselves, so a count can only
// drift towards fewer, never block anyone.
//
// Keys (under the queue prefix: one hash tag, one Redis Cluster slot):
//   <prefix>:fair:<enterprise>:<class>       ZSET  member = job id, score = expiry (Redis ms)
//   <prefix>:fair:<enterprise>:<class>:rank  ZSET  member = job id, score = its rank
import type { RedisClient } from './redis.js';

/** Ranks per class: 100 classes × 20,000 stay under BullMQ's highest priority (2,097,152). */
export const RANK_SPAN = 20_000;
/** How long an outstanding job is counted past its due time when the worker never says it finished. */
export const OUTSTANDING_TTL_MS = 15 * 60_000;

/** BullMQ's priority (1 = most urgent) of a job of contract priority `priority` (1..100, larger = more urgent). */
export function fairPriority(priority: number, rank: number): number {
  const cls = 100 - Math.min(100, Math.max(1, Math.round(priority))); // 0 = the most urgent class
  return cls * RANK_SPAN + Math.min(RANK_SPAN - 1, Math.max(1, Math.round(rank)));
}

// Per key the script cleans, counts and reads the top rank once, then ranks the batch's jobs from there; each
// key's expiry is pushed out once, to the latest job's.
const RANK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local state = {}
local out = {}
for i = 2, #ARGV, 3 do
  local k = tonumber(ARGV[i])
  local key = KEYS[2 * k - 1]
  local ranks = KEYS[2 * k]
  local s = state[k]
  if not s then
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', now)
    for j = 1, #gone, 500 do
      redis.call('ZREM', ranks, unpack(gone, j, math.min(#gone, j + 499)))
    end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local top = redis.call('ZREVRANGE', ranks, 0, 0, 'WITHSCORES')
    s = { count = redis.call('ZCARD', key), top = tonumber(top[2] or 0), expires = 0 }
    state[k] = s
  end
  local expires = now + ttl + tonumber(ARGV[i + 2])
  if expires > s.expires then s.expires = expires end
  if redis.call('ZSCORE', key, ARGV[i + 1]) then
    table.insert(out, 0)
  else
    s.count = s.count + 1
    local rank = s.count
    if s.top > rank then rank = s.top end
    s.top = rank
    table.insert(out, rank)
    redis.call('ZADD', key, expires, ARGV[i + 1])
    redis.call('ZADD', ranks, rank, ARGV[i + 1])
  end
end
for k, s in pairs(state) do
  local left = s.expires - now
  if redis.call('PTTL', KEYS[2 * k - 1]) < left then redis.call('PEXPIRE', KEYS[2 * k - 1], left) end
  if redis.call('PTTL', KEYS[2 * k]) < left then redis.call('PEXPIRE', KEYS[2 * k], left) end
end
return out`;

type FairRedis = RedisClient & {
  notifydFairRank(n: number, ...args: (string | number)[]): Promise<number[]>;
};

export interface RankRequest {
  enterpriseId: string;
  /** contract priority (the class) */
  priority: number;
  jobId: string;
  delayMs: number;
}

export class FairRanks {
  private readonly redis: FairRedis;
  private readonly prefix: string;

  constructor(redis: RedisClient, prefix: string) {
    const r = redis as FairRedis;
    if (typeof r.notifydFairRank !== 'function') redis.defineCommand('notifydFairRank', { lua: RANK });
    this.redis = r;
    this.prefix = prefix;
  }

  key(enterpriseId: string, priority: number): string {
    return `${this.prefix}:fair:${enterpriseId}:${Math.round(priority)}`;
  }

  /**
   * Counts these jobs as outstanding and returns each one's rank (1 = the enterprise's only job in its class); a
   * job already counted (a repeated add, which BullMQ ignores anyway) ranks last.
   */
  async rank(reqs: readonly RankRequest[]): Promise<number[]> {
    if (reqs.length === 0) return [];
    const keys: string[] = [];
    const index = new Map<string, number>();
    const args: (string | number)[] = [OUTSTANDING_TTL_MS];
    for (const r of reqs) {
      const k = this.key(r.enterpriseId, r.priority);
      let i = index.get(k);
      if (i === undefined) {
        keys.push(k, `${k}:rank`);
        i = keys.length / 2;
        index.set(k, i);
      }
      args.push(i, r.jobId, Math.max(0, Math.round(r.delayMs)));
    }
    const ranks = await this.redis.notifydFairRank(keys.length, ...keys, ...args);
    return ranks.map((n) => (Number(n) > 0 ? Number(n) : RANK_SPAN - 1));
  }

  /** These jobs finished for good (or were removed): they no longer count. */
  async done(jobs: readonly { enterpriseId: string; priority: number; jobId: string }[]): Promise<void> {
    if (jobs.length === 0) return;
    // one ZREM per key and batch, with every job of that enterprise and class in it
    const byKey = new Map<string, string[]>();
    for (const j of jobs) {
      const k = this.key(j.enterpriseId, j.priority);
      const ids = byKey.get(k);
      if (ids === undefined) byKey.set(k, [j.jobId]);
      else ids.push(j.jobId);
    }
    const tx = this.redis.pipeline();
    for (const [k, ids] of byKey) {
      tx.zrem(k, ...ids);
      tx.zrem(`${k}:rank`, ...ids);
    }
    await tx.exec();
  }
}

/**
 * The worker's side: jobs that finished for good are no longer outstanding. Batched (one pipeline every flushMs)
 * so it costs no round trip per job; a lost batch only makes counts expire later.
 */
export class FairCompletions {
  private buffer: { enterpriseId: string; priority: number; jobId: string }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fair: FairRanks,
    private readonly flushMs = 50,
  ) {}

  add(job: { enterpriseId: string; priority: number; jobId: string }): void {
    this.buffer.push(job);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    await this.fair.done(batch).catch(() => undefined);
  }
}
