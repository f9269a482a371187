// What the enterprise actors of one realtime host thread share: one fail-fast BullMQ producer, one small
// PostgreSQL pool, the database clock, the Realtime socket pool, the line catch-ups wait in, and the live feed's
// check. Created by the first actor that needs them, closed (bounded) when the last one lets go, so a host thread
// holds connections only while it serves enterprises.
import type { Config } from '../../src/config/load.js';
import { DbClock } from '../../src/db/clock.js';
import { createPool, type DbPool } from '../../src/db/pool.js';
import { RedisTokenBucket } from '../../src/ownership/budget.js';
import { faultsFromEnv } from '../../src/faults.js';
import { NotificationProducer } from '../../src/queue/producer.js';
import pLimit, { type LimitFunction } from 'p-limit';
import { LiveFeedCheck } from './feed-check.js';
import { RealtimeSocketPool } from './socket-pool.js';

/** Catch-ups running at once per thread; the others wait their turn. Half the pool: live work keeps the rest. */
export const CATCH_UP_CONCURRENCY = 2;
const POOL_SIZE = 4;

export interface SharedResources {
  readonly db: DbPool;
  readonly producer: NotificationProducer;
  readonly sockets: RealtimeSocketPool;
  /** the database's clock: live events' due times are measured on it */
  readonly clock: DbClock;
  /** the project's channel-join budget, shared by every host (80 % of REALTIME_MAX_JOINS_PER_SECOND) */
  readonly joins: RedisTokenBucket;
  /**
   * The line catch-ups wait in. Hundreds of enterprises subscribing together (a start, a lost socket) would
   * otherwise all ask the pool at once, and those waiting longer than its connection timeout would fail, rejoin
   * and ask again: on a slow database, a storm that never ends. Waiting here is not a failure.
   */
  readonly catchUps: LimitFunction;
  /** the check that the feed brings every pending row (one query for all of the thread); undefined when off */
  readonly feed: LiveFeedCheck | undefined;
}

/**
 * Joins are paced at 80 % of the plan's rate with a burst of half a second's worth: the server averages joins over
 * 5 s buckets (60 s in all), so even a full burst followed by steady pacing stays under the limit in any bucket.
 */
export function joinBudget(maxPerSecond: number): { perSecond: number; capacity: number } {
  return { perSecond: Math.max(0.1, maxPerSecond * 0.8), capacity: Math.max(1, Math.floor(maxPerSecond * 0.5)) };
}

let shared: Promise<SharedResources> | undefined;
let users = 0;

// Test-only (src/faults.ts): the chaos suite crashes realtime host threads at a set time.
const exitAt = faultsFromEnv().realtimeThreadExitAt;
if (exitAt !== undefined && exitAt > Date.now()) setTimeout(() => process.exit(71), exitAt - Date.now()).unref();

async function open(config: Config): Promise<SharedResources> {
  const producer = await NotificationProducer.connect({
    redisUrl: config.redisUrl,
    redisCluster: config.redisCluster,
    prefix: config.queuePrefix,
    attempts: config.deliveryMaxAttempts,
    backoffMs: config.deliveryBackoffMs,
  });
  const db = createPool({ databaseUrl: config.databaseUrl, max: POOL_SIZE, applicationName: 'notifyd-realtime' });
  const clock = new DbClock(db.pool);
  await clock.start();
  const sockets = new RealtimeSocketPool({
    url: config.supabaseUrl,
    key: config.supabaseServiceRoleKey,
    channelsPerSocket: config.subscription.channelsPerSocket,
    heartbeatIntervalMs: config.subscription.heartbeatIntervalMs,
    joinTimeoutMs: config.subscription.joinTimeoutMs,
  });
  const joins = new RedisTokenBucket(
    producer.redis,
    config.queuePrefix,
    'realtime-joins',
    joinBudget(config.subscription.maxJoinsPerSecond),
  );
  const feed =
    config.realtimeVerifyMs > 0
      ? new LiveFeedCheck({
          db: db.pool,
          clock,
          intervalMs: config.realtimeVerifyMs,
          lateMs: config.realtimeLateMs,
          onError: () => undefined, // a failed check is retried by the next; the actors' own paths report the DB
        })
      : undefined;
  return { db, producer, sockets, clock, joins, catchUps: pLimit(CATCH_UP_CONCURRENCY), feed };
}

/** Takes a reference; a failed open (e.g. Redis down) rejects and is retried by the next caller. */
export async function acquireResources(config: Config): Promise<SharedResources> {
  if (shared === undefined) {
    const opening = open(config);
    shared = opening;
    opening.catch(() => {
      if (shared === opening) shared = undefined;
    });
  }
  const res = await shared;
  users += 1;
  return res;
}

export async function releaseResources(timeoutMs = 3000): Promise<void> {
  users = Math.max(0, users - 1);
  if (users > 0 || shared === undefined) return;
  const closing = shared;
  shared = undefined;
  const res = await closing.catch(() => undefined);
  if (res === undefined) return;
  res.clock.stop();
  res.feed?.stop();
  await Promise.all([res.sockets.close(timeoutMs), res.producer.close(timeoutMs), res.db.close(timeoutMs)]);
}
