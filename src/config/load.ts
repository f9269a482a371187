// Loads notifyd's configuration from the environment once: *_FILE indirection, validation of every variable,
// every problem reported (one line each, naming the variable), then a deeply frozen, typed Config.
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import { Errors, NotifydError } from '../errors.js';
import {
  ENT_OVERRIDE_PATTERN,
  ENTERPRISE_ID_PATTERN,
  EX_CONFIG,
  entOverrideSchemas,
  hashTagOf,
  variables,
  type RedisNode,
  type VariableName,
} from './schema.js';

export type { RedisNode } from './schema.js';

export type Priority = number;

export type EnterpriseMode = 'deliver' | 'observe';

export interface EnterpriseOverride {
  readonly subscriptionEnabled: boolean;
  readonly realtimePriority: Priority | undefined;
  readonly mode: EnterpriseMode | undefined;
  /** deliveries per second at most, across every worker (ENT_<id>_MAX_PER_SECOND); undefined = no cap */
  readonly maxPerSecond: number | undefined;
}

export interface Config {
  readonly supabaseUrl: string;
  readonly supabaseServiceRoleKey: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** REDIS_CLUSTER_NODES: the seed nodes of a Redis Cluster; undefined = REDIS_URL is a single Redis */
  readonly redisCluster: readonly RedisNode[] | undefined;
  readonly novuSecretKey: string | undefined;
  readonly novuApiUrl: string;
  readonly deliveryMode: 'novu' | 'observe';
  readonly role: 'all' | 'daemon' | 'worker';
  /** undefined = serve every enabled row of notify.enterprise */
  readonly enterpriseIds: readonly string[] | undefined;
  readonly health: { readonly port: number; readonly host: string };
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  readonly realtimeHosts: number;
  readonly subscription: {
    readonly reconnectDelayMs: number;
    readonly maxRetries: number;
    readonly healthCheckIntervalMs: number;
    readonly heartbeatIntervalMs: number;
    readonly joinTimeoutMs: number;
    readonly channelsPerSocket: number;
    readonly catchupOverlapMs: number;
    readonly maxJoinsPerSecond: number;
  };
  readonly priorities: { readonly realtime: Priority; readonly scheduled: Priority; readonly cron: Priority };
  readonly workerConcurrency: number;
  readonly queuePrefix: string;
  readonly sweepIntervalMs: number;
  readonly cronSyncIntervalMs: number;
  readonly cronMisfireGraceMs: number;
  /** UPDATEs of one pending row within this many ms are evaluated once (DEBOUNCE_MS) */
  readonly debounceMs: number;
  /** the fast poll's interval while an enterprise's feed misses changes (REALTIME_POLL_MS) */
  readonly realtimePollMs: number;
  /** an event this late after its commit starts the fast poll (REALTIME_LATE_MS) */
  readonly realtimeLateMs: number;
  /** the fast poll goes on this long after the last sign of missing changes (REALTIME_POLL_HOLD_MS) */
  readonly realtimePollHoldMs: number;
  /** the live feed's check: one query per realtime thread this often, 0 = off (REALTIME_VERIFY_MS) */
  readonly realtimeVerifyMs: number;
  readonly leaseMs: number;
  readonly novuTimeoutMs: number;
  readonly deliveryMaxAttempts: number;
  readonly deliveryBackoffMs: number;
  readonly deliveryMaxDurationMs: number;
  readonly jobLockMs: number;
  readonly novuMaxRetryAfterMs: number;
  /** NOVU_BUDGET_PERCENT as a fraction */
  readonly novuBudgetShare: number;
  readonly threadHeapMb: number;
  readonly threadYoungMb: number;
  /** undefined = derived from the cores */
  readonly poolThreads: number | undefined;
  /** basic auth for the board, /metrics and the detailed /health; undefined = board off, those open */
  readonly admin: { readonly user: string; readonly password: string; readonly readonly: boolean } | undefined;
  readonly metricsEnterpriseLimit: number;
  /** DAEMON_HOST_ID, or undefined for hostname-pid */
  readonly hostId: string | undefined;
  /** ENT_<id>_* switches, by enterprise id */
  readonly enterprises: Readonly<Record<string, EnterpriseOverride>>;
}

export class ConfigError extends NotifydError {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(Errors.CONFIG_INVALID.code, format(Errors.CONFIG_INVALID.template, problems.join('\n')));
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads VAR or VAR_FILE (Docker secrets); both set is a problem, as is an unreadable file. */
function rawValue(env: Env, name: string, problems: string[]): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (file !== undefined && file !== '') {
    if (direct !== undefined && direct !== '') {
      problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      return undefined;
    }
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  }
  return direct === '' ? undefined : direct;
}

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const values = {} as Record<VariableName, unknown>;
  for (const [name, spec] of Object.entries(variables) as [VariableName, (typeof variables)[VariableName]][]) {
    const raw = rawValue(env, name, problems) ?? ('default' in spec ? spec.default : undefined);
    if (raw === undefined) {
      if ('required' in spec && spec.required) problems.push(`${name}: required but not set`);
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    else {
      const messages = parsed.error.issues.map((i) => i.message).join('; ');
      const got = 'secret' in spec && spec.secret ? '' : ` (got ${JSON.stringify(raw.slice(0, 80))})`;
      problems.push(`${name}: ${messages}${got}`);
    }
  }

  let enterpriseIds: string[] | undefined;
  if (typeof values.DAEMON_ENTERPRISE_IDS === 'string') {
    const ids = values.DAEMON_ENTERPRISE_IDS.split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const bad = ids.filter((id) => !ENTERPRISE_ID_PATTERN.test(id));
    if (bad.length > 0) {
      const listed = bad.map((b) => JSON.stringify(b.slice(0, 80))).join(', ');
      const verdict = bad.length === 1 ? 'is not a valid enterprise id' : 'are not valid enterprise ids';
      problems.push(`DAEMON_ENTERPRISE_IDS: ${listed} ${verdict} (allowed: ${ENTERPRISE_ID_PATTERN.source})`);
    } else if (ids.length === 0) {
      problems.push(
        'DAEMON_ENTERPRISE_IDS: set but lists no enterprise id (unset it to serve every enabled enterprise)',
      );
    } else {
      const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
      if (dupes.length > 0)
        problems.push(`DAEMON_ENTERPRISE_IDS: lists ${[...new Set(dupes)].join(', ')} more than once`);
      enterpriseIds = [...new Set(ids)];
    }
  }

  const enterprises: Record<
    string,
    {
      subscriptionEnabled: boolean;
      realtimePriority: number | undefined;
      mode: EnterpriseMode | undefined;
      maxPerSecond: number | undefined;
    }
  > = {};
  for (const key of Object.keys(env).sort()) {
    const match = ENT_OVERRIDE_PATTERN.exec(key);
    if (match === null || key.endsWith('_FILE')) continue;
    const id = match[1] as string;
    const which = match[2] as keyof typeof entOverrideSchemas;
    if (!ENTERPRISE_ID_PATTERN.test(id)) {
      problems.push(
        `${key}: ${JSON.stringify(id.slice(0, 80))} is not a valid enterprise id ` +
          `(allowed: ${ENTERPRISE_ID_PATTERN.source})`,
      );
      continue;
    }
    const raw = env[key] ?? '';
    const parsed = entOverrideSchemas[which].safeParse(raw);
    if (!parsed.success) {
      problems.push(
        `${key}: ${parsed.error.issues.map((i) => i.message).join('; ')} (got ${JSON.stringify(raw.slice(0, 80))})`,
      );
      continue;
    }
    const entry = (enterprises[id] ??= {
      subscriptionEnabled: true,
      realtimePriority: undefined,
      mode: undefined,
      maxPerSecond: undefined,
    });
    if (which === 'SUBSCRIPTION_ENABLED') entry.subscriptionEnabled = parsed.data as boolean;
    else if (which === 'MODE') entry.mode = parsed.data as EnterpriseMode;
    else if (which === 'MAX_PER_SECOND') entry.maxPerSecond = parsed.data as number;
    else entry.realtimePriority = parsed.data as number;
  }

  if (
    (values.ADMIN_USER === undefined) !== (values.ADMIN_PASSWORD === undefined) &&
    !problems.some((p) => p.startsWith('ADMIN_'))
  ) {
    problems.push(
      values.ADMIN_USER === undefined
        ? 'ADMIN_USER: required when ADMIN_PASSWORD is set'
        : 'ADMIN_PASSWORD: required when ADMIN_USER is set',
    );
  }

  // Novu's key is needed as soon as anything may be delivered: the default mode, or one enterprise's ENT_<id>_MODE.
  const delivers = values.DELIVERY_MODE === 'novu' || Object.values(enterprises).some((e) => e.mode === 'deliver');
  if (
    delivers &&
    values.NOVU_SECRET_KEY === undefined &&
    !problems.some((p) => p.startsWith('NOVU_SECRET_KEY') || p.startsWith('DELIVERY_MODE'))
  ) {
    problems.push(
      'NOVU_SECRET_KEY: required unless every enterprise observes (DELIVERY_MODE=observe and no ENT_<id>_MODE=deliver)',
    );
  }

  problems.push(...clusterProblems(values, env));

  if (problems.length > 0) throw new ConfigError(problems);

  const v = values as {
    SUPABASE_URL: string;
    SUPABASE_SERVICE_ROLE_KEY: string;
    DATABASE_URL: string;
    REDIS_URL: string;
    REDIS_CLUSTER_NODES?: RedisNode[];
    NOVU_SECRET_KEY?: string;
    NOVU_API_URL: string;
    DELIVERY_MODE: 'novu' | 'observe';
    DAEMON_ROLE: 'all' | 'daemon' | 'worker';
    DAEMON_HEALTH_PORT: number;
    DAEMON_HEALTH_HOST: string;
    DAEMON_LOG_LEVEL: string;
    DAEMON_SHUTDOWN_TIMEOUT_MS: number;
    DAEMON_REALTIME_HOSTS: number;
    SUBSCRIPTION_RECONNECT_DELAY: number;
    SUBSCRIPTION_MAX_RETRIES: number;
    SUBSCRIPTION_HEALTH_CHECK_INTERVAL: number;
    SUBSCRIPTION_HEARTBEAT_INTERVAL: number;
    SUBSCRIPTION_JOIN_TIMEOUT: number;
    REALTIME_CHANNELS_PER_SOCKET: number;
    CATCHUP_OVERLAP_MS: number;
    REALTIME_MAX_JOINS_PER_SECOND: number;
    DELIVERY_BACKOFF_MS: number;
    DELIVERY_MAX_DURATION_MS: number;
    JOB_LOCK_MS: number;
    REALTIME_QUEUE_PRIORITY: number;
    SCHEDULED_QUEUE_PRIORITY: number;
    CRON_QUEUE_PRIORITY: number;
    WORKER_CONCURRENCY: number;
    QUEUE_PREFIX: string;
    SWEEP_INTERVAL_MS: number;
    CRON_SYNC_INTERVAL_MS: number;
    CRON_MISFIRE_GRACE_MS: number;
    DEBOUNCE_MS: number;
    REALTIME_POLL_MS: number;
    REALTIME_LATE_MS: number;
    REALTIME_POLL_HOLD_MS: number;
    REALTIME_VERIFY_MS: number;
    LEASE_MS: number;
    NOVU_TIMEOUT_MS: number;
    DELIVERY_MAX_ATTEMPTS: number;
    NOVU_MAX_RETRY_AFTER_MS: number;
    NOVU_BUDGET_PERCENT: number;
    DAEMON_THREAD_HEAP_MB: number;
    DAEMON_THREAD_YOUNG_MB: number;
    DAEMON_POOL_THREADS?: number;
    ADMIN_USER?: string;
    ADMIN_PASSWORD?: string;
    ADMIN_READONLY: boolean;
    METRICS_ENTERPRISE_LIMIT: number;
    DAEMON_HOST_ID?: string;
  };
  return deepFreeze<Config>({
    supabaseUrl: v.SUPABASE_URL,
    supabaseServiceRoleKey: v.SUPABASE_SERVICE_ROLE_KEY,
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    redisCluster: v.REDIS_CLUSTER_NODES,
    novuSecretKey: v.NOVU_SECRET_KEY,
    novuApiUrl: v.NOVU_API_URL.replace(/\/+$/, ''),
    deliveryMode: v.DELIVERY_MODE,
    role: v.DAEMON_ROLE,
    enterpriseIds,
    health: { port: v.DAEMON_HEALTH_PORT, host: v.DAEMON_HEALTH_HOST },
    logLevel: v.DAEMON_LOG_LEVEL,
    shutdownTimeoutMs: v.DAEMON_SHUTDOWN_TIMEOUT_MS,
    realtimeHosts: v.DAEMON_REALTIME_HOSTS,
    subscription: {
      reconnectDelayMs: v.SUBSCRIPTION_RECONNECT_DELAY,
      maxRetries: v.SUBSCRIPTION_MAX_RETRIES,
      healthCheckIntervalMs: v.SUBSCRIPTION_HEALTH_CHECK_INTERVAL,
      heartbeatIntervalMs: v.SUBSCRIPTION_HEARTBEAT_INTERVAL,
      joinTimeoutMs: v.SUBSCRIPTION_JOIN_TIMEOUT,
      channelsPerSocket: v.REALTIME_CHANNELS_PER_SOCKET,
      catchupOverlapMs: v.CATCHUP_OVERLAP_MS,
      maxJoinsPerSecond: v.REALTIME_MAX_JOINS_PER_SECOND,
    },
    priorities: {
      realtime: v.REALTIME_QUEUE_PRIORITY,
      scheduled: v.SCHEDULED_QUEUE_PRIORITY,
      cron: v.CRON_QUEUE_PRIORITY,
    },
    workerConcurrency: v.WORKER_CONCURRENCY,
    queuePrefix: v.QUEUE_PREFIX,
    sweepIntervalMs: v.SWEEP_INTERVAL_MS,
    cronSyncIntervalMs: v.CRON_SYNC_INTERVAL_MS,
    cronMisfireGraceMs: v.CRON_MISFIRE_GRACE_MS,
    debounceMs: v.DEBOUNCE_MS,
    realtimePollMs: v.REALTIME_POLL_MS,
    realtimeLateMs: v.REALTIME_LATE_MS,
    realtimePollHoldMs: v.REALTIME_POLL_HOLD_MS,
    realtimeVerifyMs: v.REALTIME_VERIFY_MS,
    leaseMs: v.LEASE_MS,
    novuTimeoutMs: v.NOVU_TIMEOUT_MS,
    deliveryMaxAttempts: v.DELIVERY_MAX_ATTEMPTS,
    deliveryBackoffMs: v.DELIVERY_BACKOFF_MS,
    deliveryMaxDurationMs: v.DELIVERY_MAX_DURATION_MS,
    jobLockMs: v.JOB_LOCK_MS,
    novuMaxRetryAfterMs: v.NOVU_MAX_RETRY_AFTER_MS,
    novuBudgetShare: v.NOVU_BUDGET_PERCENT / 100,
    threadHeapMb: v.DAEMON_THREAD_HEAP_MB,
    threadYoungMb: v.DAEMON_THREAD_YOUNG_MB,
    poolThreads: v.DAEMON_POOL_THREADS,
    admin:
      v.ADMIN_USER !== undefined && v.ADMIN_PASSWORD !== undefined
        ? { user: v.ADMIN_USER, password: v.ADMIN_PASSWORD, readonly: v.ADMIN_READONLY }
        : undefined,
    metricsEnterpriseLimit: v.METRICS_ENTERPRISE_LIMIT,
    hostId: v.DAEMON_HOST_ID,
    enterprises,
  });
}

/**
 * On Redis Cluster every key of a queue (and every key one of notifyd's scripts touches) must share a slot: the
 * QUEUE_PREFIX needs a {hash tag}. A cluster has only database 0, so REDIS_URL may not name another.
 */
function clusterProblems(values: Record<string, unknown>, env: Env): string[] {
  if (values['REDIS_CLUSTER_NODES'] === undefined) return [];
  const out: string[] = [];
  const prefix = values['QUEUE_PREFIX'];
  if (typeof prefix === 'string' && hashTagOf(prefix) === undefined) {
    const example = prefix.replace(/[{}]/g, '') || 'notifyd';
    out.push(
      `QUEUE_PREFIX: on Redis Cluster (REDIS_CLUSTER_NODES is set) it must contain a {hash tag}, so that every key ` +
        `of the queue lands in one slot; set QUEUE_PREFIX={${example}} (got ${JSON.stringify(prefix)}` +
        `${env['QUEUE_PREFIX'] === undefined ? ', the default' : ''})`,
    );
  }
  const url = values['REDIS_URL'];
  if (typeof url === 'string') {
    const db = new URL(url).pathname.replace(/^\/+/, '');
    if (db !== '' && db !== '0')
      out.push(`REDIS_URL: Redis Cluster has only database 0; remove the /${db.slice(0, 8)} from REDIS_URL`);
  }
  return out;
}

/** For entry points: a bad configuration prints one line per problem on stderr and exits 78 (EX_CONFIG). */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        `notifyd: invalid configuration (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}):\n`,
      );
      for (const p of err.problems) process.stderr.write(`  ${p}\n`);
      process.exit(EX_CONFIG);
    }
    throw err;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value as object)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
