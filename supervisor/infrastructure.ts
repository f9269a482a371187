// Start-up's first step: wait until Redis and PostgreSQL answer, retrying with backoff for as long as it takes, and
// warn when Redis (on a cluster, any master) may evict keys.
import pRetry from 'p-retry';
import type { Config } from '../src/config/load.js';
import type { DbPool } from '../src/db/pool.js';
import { describeError, Errors, notifydError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { createRedis, evictionPolicies } from '../src/queue/redis.js';

/** Waits until Redis and PostgreSQL answer, retrying with backoff for as long as it takes (a daemon that starts
 * before its dependencies comes up when they do). Returns false when aborted by a signal. */
export async function waitForInfrastructure(
  config: Config,
  db: DbPool,
  log: Logger,
  signal: AbortSignal,
): Promise<boolean> {
  const probe = async (): Promise<void> => {
    const problems: string[] = [];
    try {
      await db.pool.query('select 1');
    } catch (err) {
      problems.push(`PostgreSQL: ${describeError(err)}`);
    }
    const redis = createRedis(config, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: 3000,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      // on a cluster every master is asked: the queue's slot may live on any of them
      for (const [node, policy] of await evictionPolicies(redis)) {
        if (policy !== undefined && policy !== 'noeviction') {
          log.warn(
            { event: 'redis_eviction_policy', policy, ...(config.redisCluster === undefined ? {} : { node }) },
            'Redis maxmemory-policy should be noeviction: evicted keys are lost jobs',
          );
        }
      }
    } catch (err) {
      problems.push(`Redis: ${describeError(err)}`);
    } finally {
      redis.disconnect();
    }
    if (problems.length > 0) throw notifydError(Errors.DB_UNAVAILABLE, problems.join('; '));
  };
  try {
    await pRetry(probe, {
      retries: Number.POSITIVE_INFINITY,
      factor: 2,
      minTimeout: 500,
      maxTimeout: 30_000,
      randomize: true,
      signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        log.error(
          { event: 'infrastructure_unavailable', attempt: attemptNumber, problems: error.message },
          'waiting for infrastructure',
        );
      },
    });
    return true;
  } catch (err) {
    if (signal.aborted) return false;
    throw err;
  }
}
