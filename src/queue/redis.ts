// The one place notifyd opens Redis connections: a single Redis (REDIS_URL), or a Redis Cluster (REDIS_CLUSTER_NODES,
// with REDIS_URL's user, password and TLS), each with its call site's own options mapped onto the client it gets.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisNode } from '../config/schema.js';

/** What notifyd talks to: both ioredis clients run the same commands, scripts and BullMQ queues. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: Config has both fields; redisCluster undefined = a single Redis at redisUrl. */
export interface RedisTarget {
  readonly redisUrl: string;
  readonly redisCluster?: readonly RedisNode[] | undefined;
}

/** The cluster client's default reconnect (all nodes unreachable): as the single client's, capped at 5 s. */
const clusterRetry = (times: number): number => Math.min(200 * 2 ** Math.min(times, 7), 5000);

/**
 * Options of one call site for a Cluster: offline queue, lazy connect, ready check and the reconnect strategy are
 * the cluster's own; everything else (timeouts, maxRetriesPerRequest, the connection name) applies to every node.
 */
function clusterOptions(extra: RedisOptions, base: ClusterOptions['redisOptions'] = {}): ClusterOptions {
  const { retryStrategy, enableOfflineQueue, lazyConnect, enableReadyCheck, ...node } = extra;
  return {
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(enableReadyCheck === undefined ? {} : { enableReadyCheck }),
    clusterRetryStrategy: typeof retryStrategy === 'function' ? (times: number) => retryStrategy(times) : clusterRetry,
    // a slot map refresh may take longer than ioredis's 1 s on a loaded host; a master that restarted is found again
    // at the next refresh
    slotsRefreshTimeout: 3000,
    redisOptions: { ...base, ...(node as ClusterOptions['redisOptions']) },
  };
}

/** REDIS_URL's credentials and TLS, for every node of a cluster (its host, port and database are not used). */
function credentials(url: string): ClusterOptions['redisOptions'] {
  const u = new URL(url);
  return {
    ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** A new connection to the deployment's Redis (or Cluster) with these options. */
export function createRedis(target: RedisTarget, extra: RedisOptions = {}): RedisClient {
  if (target.redisCluster === undefined) return new Redis(target.redisUrl, extra);
  const nodes = target.redisCluster.map((n) => ({ host: n.host, port: n.port }));
  return new Cluster(nodes, clusterOptions(extra, credentials(target.redisUrl)));
}

/** A second connection like `client`, with these options over its own (a subscriber, a blocking connection). */
export function duplicateRedis(client: RedisClient, extra: RedisOptions = {}): RedisClient {
  if (client instanceof Cluster) return client.duplicate(undefined, clusterOptions(extra, client.options.redisOptions));
  return client.duplicate(extra);
}

/** Every master of a cluster (a node each), or the client itself: for per-server checks such as CONFIG GET. */
export function mastersOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Each master's maxmemory-policy by address (undefined where it cannot be read: a managed service's CONFIG ban). */
export async function evictionPolicies(client: RedisClient): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const node of mastersOf(client)) {
    const reply = (await node.config('GET', 'maxmemory-policy').catch(() => undefined)) as string[] | undefined;
    out.set(`${node.options.host ?? '?'}:${node.options.port ?? '?'}`, reply?.[1]);
  }
  return out;
}
