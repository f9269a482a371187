// The served registry: which enterprises some live intake host serves right now, and in which mode (`deliver` or
// `observe`), kept in Redis so every process of a deployment agrees. Intake hosts publish what they serve every few
// seconds with a short expiry; a worker delivers an enterprise's job only while the registry says `deliver`. So an
// enterprise that nobody serves — disabled in notify.enterprise, dropped from DAEMON_ENTERPRISE_IDS, switched off by
// ENT_<id>_SUBSCRIPTION_ENABLED=false — has nothing delivered, and its rows stay pending until it is served again.
//
// Keys (one hash tag with the queue prefix, so Redis Cluster keeps them in one slot):
//   <prefix>:served:deliver, <prefix>:served:observe   ZSET  member = enterprise id, score = expiry (Redis ms)
//   <prefix>:served:info                                HASH  enterprise id → JSON {host, state, since} (for
//                                                             `notifyd status`; only the ZSETs decide what is served)
// Expiry is measured on Redis's clock (TIME), so host clocks never decide whether an entry is live.
import type { RedisClient } from '../queue/redis.js';

export type ServeMode = 'deliver' | 'observe';
export const SERVE_MODES: readonly ServeMode[] = ['deliver', 'observe'];

const PUBLISH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  local id, mode, info = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if mode == 'deliver' then
    redis.call('ZADD', KEYS[1], untilMs, id)
    redis.call('ZREM', KEYS[2], id)
  else
    redis.call('ZADD', KEYS[2], untilMs, id)
    redis.call('ZREM', KEYS[1], id)
  end
  if info ~= '' then redis.call('HSET', KEYS[3], id, info) end
end
return now`;

const SNAPSHOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, key in ipairs({ KEYS[1], KEYS[2] }) do
  local gone = redis.call('ZRANGEBYSCORE', key, '-inf', now)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    redis.call('HDEL', KEYS[3], unpack(gone))
  end
end
return { redis.call('ZRANGE', KEYS[1], 0, -1), redis.call('ZRANGE', KEYS[2], 0, -1) }`;

/** Served entries with their details; an info entry without a live ZSET entry is dropped (the host is gone). */
const DETAILS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, key in ipairs({ KEYS[1], KEYS[2] }) do
  local entries = redis.call('ZRANGEBYSCORE', key, now, '+inf', 'WITHSCORES')
  for i = 1, #entries, 2 do
    table.insert(out, entries[i])
    table.insert(out, key == KEYS[1] and 'deliver' or 'observe')
    table.insert(out, entries[i + 1])
    table.insert(out, redis.call('HGET', KEYS[3], entries[i]) or '')
  end
end
return { now, out }`;

export function servedKeys(prefix: string): [string, string, string] {
  return [`${prefix}:served:deliver`, `${prefix}:served:observe`, `${prefix}:served:info`];
}

/** What a host says about an enterprise it serves. */
export interface ServedInfo {
  host: string;
  /** the enterprise actor's status: subscribed, reconnecting, … (or paused) */
  state: string;
  since: string | null;
}

export interface ServedDetail extends Partial<ServedInfo> {
  id: string;
  mode: ServeMode;
  /** ms until the entry expires unless renewed */
  expiresInMs: number;
}

type ServedRedis = RedisClient & {
  notifydServedPublish(k1: string, k2: string, k3: string, ...args: (string | number)[]): Promise<number>;
  notifydServedSnapshot(k1: string, k2: string, k3: string): Promise<[string[], string[]]>;
  notifydServedDetails(k1: string, k2: string, k3: string): Promise<[number, string[]]>;
};

function withCommands(redis: RedisClient): ServedRedis {
  const r = redis as ServedRedis;
  if (typeof r.notifydServedPublish !== 'function') {
    redis.defineCommand('notifydServedPublish', { numberOfKeys: 3, lua: PUBLISH });
    redis.defineCommand('notifydServedSnapshot', { numberOfKeys: 3, lua: SNAPSHOT });
    redis.defineCommand('notifydServedDetails', { numberOfKeys: 3, lua: DETAILS });
  }
  return r;
}

export class ServedRegistry {
  private readonly redis: ServedRedis;
  private readonly keys: [string, string, string];

  constructor(redis: RedisClient, prefix: string) {
    this.redis = withCommands(redis);
    this.keys = servedKeys(prefix);
  }

  /** Marks these enterprises served in their mode for `ttlMs` from now (Redis time), with what the host knows. */
  async publish(entries: readonly { id: string; mode: ServeMode; info?: ServedInfo }[], ttlMs: number): Promise<void> {
    for (let i = 0; i < entries.length; i += 500) {
      const args = entries
        .slice(i, i + 500)
        .flatMap((e) => [e.id, e.mode, e.info === undefined ? '' : JSON.stringify(e.info)]);
      await this.redis.notifydServedPublish(this.keys[0], this.keys[1], this.keys[2], ttlMs, ...args);
    }
  }

  /** No longer served by this host (stopped, removed, handed over). */
  async withdraw(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis
      .multi()
      .zrem(this.keys[0], ...ids)
      .zrem(this.keys[1], ...ids)
      .hdel(this.keys[2], ...ids)
      .exec();
  }

  /** Every live entry with its mode, host, state and expiry (for operators: `notifyd status`). */
  async details(): Promise<ServedDetail[]> {
    const [now, flat] = await this.redis.notifydServedDetails(this.keys[0], this.keys[1], this.keys[2]);
    const out: ServedDetail[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      let info: Partial<ServedInfo> = {};
      try {
        info = flat[i + 3] ? (JSON.parse(flat[i + 3] as string) as ServedInfo) : {};
      } catch {
        info = {};
      }
      out.push({
        id: flat[i] as string,
        mode: flat[i + 1] as ServeMode,
        expiresInMs: Number(flat[i + 2]) - Number(now),
        ...info,
      });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The live entries; expired ones (and their info) are dropped on the way. */
  async snapshot(): Promise<Map<string, ServeMode>> {
    const [deliver, observe] = await this.redis.notifydServedSnapshot(this.keys[0], this.keys[1], this.keys[2]);
    const out = new Map<string, ServeMode>();
    for (const id of observe) out.set(id, 'observe');
    for (const id of deliver) out.set(id, 'deliver');
    return out;
  }
}

/**
 * A worker's cached view of the registry, refreshed every `refreshMs`. Until the first refresh succeeds nothing is
 * known (modeOf → undefined: the job waits); a failed refresh keeps the last view (Redis is down, so no job moves).
 */
export class ServedView {
  private current = new Map<string, ServeMode>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private loaded = false;

  constructor(
    private readonly registry: ServedRegistry,
    private readonly refreshMs = 1000,
  ) {}

  get ready(): boolean {
    return this.loaded;
  }

  modeOf(enterpriseId: string): ServeMode | undefined {
    return this.current.get(enterpriseId);
  }

  get size(): number {
    return this.current.size;
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.registry
      .snapshot()
      .then(
        (m) => {
          this.current = m;
          this.loaded = true;
        },
        () => undefined,
      )
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
