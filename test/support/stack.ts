// A whole local stack for integration tests and the demo: a fresh migrated database, the Realtime stand-in on it,
// the Novu stand-in, a private BullMQ prefix (on the shared Redis, or a test Redis Cluster), and the daemon started
// in-process with a validated Config.
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { QUEUE_NAME } from '../../src/queue/jobs.js';
import { createRedis, type RedisClient } from '../../src/queue/redis.js';
import type { LocalRedisCluster } from './redis-cluster.js';
import type pg from 'pg';
import { loadConfig, type Config } from '../../src/config/load.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { startDaemon, testSignals, type Daemon } from '../../supervisor/daemon.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { deletePrefix, uniquePrefix } from './redis.js';
import { TEST_REDIS_URL } from './services.js';
import { DEFAULT_NOVU_API_KEY, startNovuStandin } from '../../src/devstack/novu/index.js';
import type { NovuStandin } from '../../src/devstack/novu/types.js';
import { startRealtimeStandin, type RealtimeStandin } from '../../src/devstack/realtime/server.js';
import type { RealtimeProfile } from '../../src/devstack/realtime/limits.js';
import type { RealtimeStandinOptions } from '../../src/devstack/realtime/types.js';
import type { NovuStandinOptions } from '../../src/devstack/novu/types.js';

export const SERVICE_ROLE_KEY = 'stack-service-role-key';

export interface StackOptions {
  /** DAEMON_ENTERPRISE_IDS (also registered as tenants in the Novu stand-in) */
  enterprises: string[];
  /** extra environment (ENT_<id>_SUBSCRIPTION_ENABLED=false, WORKER_CONCURRENCY, ...) */
  env?: Record<string, string>;
  /** rows of notify.enterprise to create */
  enterpriseRows?: { id: string; enabled?: boolean }[];
  /** extra Novu tenants (e.g. an unlisted enterprise that must not be delivered) */
  tenants?: string[];
  startDaemon?: boolean;
  /** keys the stand-ins accept (and the daemon is given); defaults are fixed test keys */
  serviceRoleKey?: string;
  novuSecretKey?: string;
  /** the Realtime stand-in's plan profile (and capacity), for tests of plan limits */
  realtimeProfile?: RealtimeProfile;
  realtimeCapacity?: number;
  /** single Realtime limits over the profile's (messages/s, its rate window, ...) */
  realtimeLimits?: RealtimeStandinOptions['limits'];
  /** the Novu stand-in's plan profile, and rate-limit numbers over it */
  novuProfile?: NovuStandinOptions['profile'];
  novuRateLimit?: NovuStandinOptions['rateLimit'];
  /**
   * Runs the daemon on this Redis Cluster (REDIS_CLUSTER_NODES) with a hash-tagged prefix, {ntf-stack-…}; its keys
   * go with the cluster, which its owner stops.
   */
  redisCluster?: LocalRedisCluster;
}

export interface Stack {
  db: TestDatabase;
  pool: pg.Pool;
  novu: NovuStandin;
  realtime: RealtimeStandin;
  prefix: string;
  config: Config;
  daemon: Daemon | undefined;
  /** every JSON log line the daemon's main-thread logger wrote */
  logs: string[];
  exits: number[];
  env: Record<string, string>;
  /** the BullMQ state of a notification job ('unknown' when Redis has no such job) */
  jobState(jobId: string): Promise<string>;
  start(): Promise<Daemon>;
  stop(): Promise<void>;
}

export function captureLogger(lines: string[], level = 'info'): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(line);
      cb();
    },
  });
  return createLogger({ level, destination: sink });
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const db = await createTestDatabase();
  for (const row of opts.enterpriseRows ?? []) {
    await db.pool.query('insert into notify.enterprise (id, enabled) values ($1, $2)', [row.id, row.enabled ?? true]);
  }
  const serviceRoleKey = opts.serviceRoleKey ?? SERVICE_ROLE_KEY;
  const novuSecretKey = opts.novuSecretKey ?? DEFAULT_NOVU_API_KEY;
  const realtime = await startRealtimeStandin({
    databaseUrl: db.url,
    apiKeys: [serviceRoleKey],
    ...(opts.realtimeProfile === undefined ? {} : { profile: opts.realtimeProfile }),
    ...(opts.realtimeCapacity === undefined ? {} : { capacity: opts.realtimeCapacity }),
    ...(opts.realtimeLimits === undefined ? {} : { limits: opts.realtimeLimits }),
  });
  const novu = await startNovuStandin({
    tenants: [...opts.enterprises, ...(opts.tenants ?? []), ...(opts.enterpriseRows ?? []).map((r) => r.id)],
    workflows: 'any',
    apiKeys: [novuSecretKey],
    ...(opts.novuProfile === undefined ? {} : { profile: opts.novuProfile }),
    ...(opts.novuRateLimit === undefined ? {} : { rateLimit: opts.novuRateLimit }),
  });
  const cluster = opts.redisCluster;
  const prefix = cluster === undefined ? uniquePrefix('ntf-stack') : `{${uniquePrefix('ntf-stack')}}`;
  const env: Record<string, string> = {
    SUPABASE_URL: realtime.url,
    SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    NOVU_SECRET_KEY: novuSecretKey,
    NOVU_API_URL: novu.url,
    QUEUE_PREFIX: prefix,
    ...(cluster === undefined ? {} : { REDIS_CLUSTER_NODES: cluster.nodesVar }),
    DAEMON_HEALTH_PORT: '0',
    DAEMON_HEALTH_HOST: '127.0.0.1',
    DAEMON_LOG_LEVEL: 'error',
    DAEMON_REALTIME_HOSTS: '1',
    SUBSCRIPTION_RECONNECT_DELAY: '200',
    SUBSCRIPTION_HEARTBEAT_INTERVAL: '1000',
    SUBSCRIPTION_JOIN_TIMEOUT: '3000',
    SUBSCRIPTION_HEALTH_CHECK_INTERVAL: '1000',
    SWEEP_INTERVAL_MS: '2000',
    DELIVERY_BACKOFF_MS: '200',
    JOB_LOCK_MS: '5000',
    ...(opts.enterprises.length > 0 ? { DAEMON_ENTERPRISE_IDS: opts.enterprises.join(',') } : {}),
    ...(opts.env ?? {}),
  };
  const config = loadConfig(env);
  const logs: string[] = [];
  const exits: number[] = [];
  let inspect: Queue | undefined;
  let inspectRedis: RedisClient | undefined;
  const stack: Stack = {
    db,
    pool: db.pool,
    novu,
    realtime,
    prefix,
    config,
    daemon: undefined,
    logs,
    exits,
    env,
    async jobState(jobId) {
      inspectRedis ??= createRedis(config, { maxRetriesPerRequest: 1 });
      inspect ??= new Queue(QUEUE_NAME, { connection: inspectRedis, prefix });
      return inspect.getJobState(jobId);
    },
    async start() {
      const daemon = await startDaemon(config, {
        log: captureLogger(logs, config.logLevel),
        signals: testSignals(),
        exit: (code) => exits.push(code),
        poolThreads: 1,
        enterpriseRefreshMs: 1000,
      });
      if (daemon === undefined) throw new Error('daemon did not start');
      stack.daemon = daemon;
      return daemon;
    },
    async stop() {
      if (stack.daemon !== undefined) await stack.daemon.shutdown('test over');
      await inspect?.close();
      inspectRedis?.disconnect();
      await Promise.all([realtime.close(), novu.close()]);
      if (cluster === undefined) await deletePrefix(prefix);
      await db.drop();
    },
  };
  if (opts.startDaemon !== false) await stack.start();
  return stack;
}
