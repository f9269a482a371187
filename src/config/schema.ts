// Every environment variable notifyd reads, declared once with its type, default and meaning (CONTRACT.md).
// Validation messages name the variable; the loader (load.ts) turns problems into exit code 78.
import { z } from 'zod';

export const ENTERPRISE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const EX_CONFIG = 78;

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, { message: 'must be a whole number' })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { message: `must be between ${min} and ${max}` });

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(v), {
    message: 'must be true or false',
  })
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const url = (protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .min(1, { message: 'must not be empty' })
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      { message: `must be a URL (${protocols.map((p) => p.replace(':', '://')).join(' or ')})` },
    );

const secret = z.string().min(1, { message: 'must not be empty' });

/** A Redis Cluster node: host (name, IPv4, or [IPv6]) and port. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** host:port,host:port → nodes; every malformed entry is named in the message. */
const redisNodes = z.string().transform((v, ctx): RedisNode[] => {
  const entries = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const nodes: RedisNode[] = [];
  const bad: string[] = [];
  for (const e of entries) {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(e);
    const port = Number(m?.[2]);
    if (m === null || port < 1 || port > 65535) bad.push(JSON.stringify(e.slice(0, 80)));
    else nodes.push({ host: (m[1] as string).replace(/^\[(.*)\]$/, '$1'), port });
  }
  if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `${bad.join(', ')}: each node must be host:port` });
  else if (nodes.length === 0) ctx.addIssue({ code: 'custom', message: 'lists no node (host:port,host:port)' });
  return nodes;
});

/**
 * The hash tag Redis Cluster hashes a key by (the text between the first `{` and the next `}`, if not empty), or
 * undefined. Every key notifyd writes starts with QUEUE_PREFIX, so a prefix with a tag keeps them all in one slot.
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** name → [schema, default (undefined = required or optional), one-line description for docs] */
export const variables = {
  SUPABASE_URL: {
    schema: url(['http:', 'https:']),
    required: true,
    doc: 'Supabase project URL; Realtime is at /realtime/v1/websocket',
  },
  SUPABASE_SERVICE_ROLE_KEY: { schema: secret, required: true, secret: true, doc: 'key for Realtime; never logged' },
  DATABASE_URL: {
    schema: url(['postgres:', 'postgresql:']),
    required: true,
    secret: true,
    doc: 'PostgreSQL for claims, sweeps, rules',
  },
  REDIS_URL: {
    schema: url(['redis:', 'rediss:']),
    default: 'redis://127.0.0.1:6379',
    secret: true,
    doc: "BullMQ's Redis",
  },
  REDIS_CLUSTER_NODES: {
    schema: redisNodes,
    doc:
      'Redis Cluster: comma-separated host:port of some of its nodes (the others are discovered); user, password ' +
      'and TLS come from REDIS_URL, whose host is then unused; QUEUE_PREFIX must contain a {hash tag}',
  },
  NOVU_SECRET_KEY: {
    schema: secret,
    secret: true,
    doc: 'Novu API key (required unless every enterprise observes); never logged',
  },
  NOVU_API_URL: {
    schema: url(['http:', 'https:']),
    default: 'https://api.novu.co',
    doc: 'Novu API base URL, without /v1',
  },
  DELIVERY_MODE: {
    schema: z
      .string()
      .trim()
      .refine((v) => v !== 'log', {
        message: 'log was replaced by observe (log marked rows sent without delivering them)',
      })
      .pipe(z.enum(['novu', 'observe'], { message: 'must be novu or observe' })),
    default: 'novu',
    doc: 'novu delivers; observe subscribes, catches up and reports what would be delivered, changing no row',
  },
  DAEMON_ROLE: {
    schema: z
      .string()
      .trim()
      .pipe(z.enum(['all', 'daemon', 'worker'], { message: 'must be all, daemon or worker' })),
    default: 'all',
    doc:
      'all: everything in one process; daemon: intake only (subscriptions, sweep, cron); ' +
      'worker: processing only (the BullMQ worker and the Piscina pool)',
  },
  DAEMON_ENTERPRISE_IDS: {
    schema: z.string(),
    doc: 'comma-separated enterprise ids; unset = enabled rows of notify.enterprise',
  },
  DAEMON_HOST_ID: {
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_.:-]{1,128}$/, { message: 'must be 1-128 characters of A-Z a-z 0-9 _ . : -' }),
    doc: "this process's id in the host registry and logs; unset = hostname-pid",
  },
  DAEMON_HEALTH_PORT: { schema: intIn(0, 65535), default: '3001', doc: 'HTTP port for /health, /livez, /readyz' },
  DAEMON_HEALTH_HOST: { schema: z.string().trim().min(1), default: '0.0.0.0', doc: 'address the health server binds' },
  DAEMON_LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
    default: 'info',
    doc: 'pino level',
  },
  DAEMON_SHUTDOWN_TIMEOUT_MS: {
    schema: intIn(1000, 600_000),
    default: '25000',
    doc: 'hard deadline for an orderly shutdown, then exit 1',
  },
  DAEMON_REALTIME_HOSTS: {
    schema: intIn(1, 64),
    default: '1',
    doc: 'worker threads that host enterprise actors; one serves 1,000, and each costs ~40 MB',
  },
  SUBSCRIPTION_RECONNECT_DELAY: {
    schema: intIn(10, 600_000),
    default: '1000',
    doc: 'ms, base of the reconnect backoff',
  },
  SUBSCRIPTION_MAX_RETRIES: {
    schema: intIn(1, 1000),
    default: '10',
    doc: 'failed reconnects before the actor reports failed and is restarted',
  },
  SUBSCRIPTION_HEALTH_CHECK_INTERVAL: {
    schema: intIn(100, 3_600_000),
    default: '30000',
    doc: 'ms between subscription health checks',
  },
  SUBSCRIPTION_HEARTBEAT_INTERVAL: {
    schema: intIn(100, 300_000),
    default: '25000',
    doc: 'ms between Realtime heartbeats; a missed reply tears the socket down',
  },
  SUBSCRIPTION_JOIN_TIMEOUT: {
    schema: intIn(100, 300_000),
    default: '10000',
    doc: 'ms a join may take, up to the "Subscribed to PostgreSQL" message, before it is retried',
  },
  REALTIME_CHANNELS_PER_SOCKET: {
    schema: intIn(1, 100),
    default: '100',
    doc: 'enterprise channels per Realtime socket (Realtime allows 100)',
  },
  REALTIME_MAX_JOINS_PER_SECOND: {
    schema: intIn(1, 100_000),
    default: '100',
    doc:
      "the Supabase plan's channel joins per second (Free 100, Pro 500, Team 2,500); " +
      'joins are paced at 80 % of it, shared by every host through Redis',
  },
  CATCHUP_OVERLAP_MS: {
    schema: intIn(0, 86_400_000),
    default: '60000',
    doc: 'how far before the watermark a catch-up looks again (dedup absorbs the overlap)',
  },
  REALTIME_QUEUE_PRIORITY: { schema: intIn(1, 100), default: '10', doc: 'larger = more urgent' },
  SCHEDULED_QUEUE_PRIORITY: { schema: intIn(1, 100), default: '5', doc: 'larger = more urgent' },
  CRON_QUEUE_PRIORITY: { schema: intIn(1, 100), default: '1', doc: 'larger = more urgent' },
  WORKER_CONCURRENCY: { schema: intIn(1, 1000), default: '5', doc: 'jobs in flight per host' },
  QUEUE_PREFIX: {
    schema: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_{}-]{1,64}$/, { message: 'must be 1-64 characters of A-Z a-z 0-9 _ - { }' }),
    default: 'notifyd',
    doc: 'BullMQ key prefix (use a {hash tag} on Redis Cluster)',
  },
  SWEEP_INTERVAL_MS: {
    schema: intIn(100, 3_600_000),
    default: '10000',
    doc: 'ms between sweeps for missed and stuck notifications',
  },
  CRON_SYNC_INTERVAL_MS: {
    schema: intIn(100, 3_600_000),
    default: '10000',
    doc: 'ms between re-reads of notify.notification_rule (new, changed, disabled, deleted rules)',
  },
  REALTIME_POLL_MS: {
    schema: intIn(50, 10_000),
    default: '300',
    doc: 'interval of the fast poll that serves an enterprise while its Realtime feed is missing changes',
  },
  REALTIME_POLL_HOLD_MS: {
    schema: intIn(1000, 3_600_000),
    default: '30000',
    doc: 'the fast poll goes on this long after the last sign that the Realtime feed is missing changes',
  },
  REALTIME_LATE_MS: {
    schema: intIn(100, 600_000),
    default: '1000',
    doc: 'three Realtime events in 5 s arriving this long after their commit switch their enterprise to the fast poll',
  },
  REALTIME_VERIFY_MS: {
    schema: intIn(0, 60_000),
    default: '1000',
    doc:
      'how often each realtime thread checks, with one query for all its enterprises, that every pending row ' +
      'changed lately came through Realtime; a row still missing REALTIME_LATE_MS after the check saw it starts ' +
      'the fast poll (over its plan the server skips changes silently). 0 turns the check off',
  },
  DEBOUNCE_MS: {
    schema: intIn(0, 10_000),
    default: '250',
    doc: 'UPDATEs of one pending row within this window (reschedules, re-arms) are evaluated once, in their last state',
  },
  CRON_MISFIRE_GRACE_MS: {
    schema: intIn(0, 86_400_000),
    default: '60000',
    doc: "a fire this late or less is on time; later ones follow the rule's missed_run_policy",
  },
  LEASE_MS: {
    schema: intIn(1000, 3_600_000),
    default: '15000',
    doc: "lease of a claimed notification, renewed while its attempt runs; a dead worker's row is free this long after",
  },
  NOVU_TIMEOUT_MS: { schema: intIn(100, 300_000), default: '10000', doc: 'per-attempt timeout of a Novu call' },
  DELIVERY_MAX_ATTEMPTS: {
    schema: intIn(1, 100),
    default: '8',
    doc: 'attempts for transient delivery failures before failed',
  },
  DELIVERY_MAX_DURATION_MS: {
    schema: intIn(1000, 7 * 86_400_000),
    default: '3600000',
    doc:
      'transient delivery failures (including 429s) stop being retried this long after the first attempt; ' +
      'the row is then failed',
  },
  DELIVERY_BACKOFF_MS: {
    schema: intIn(10, 600_000),
    default: '1000',
    doc: 'base of the exponential retry backoff for transient delivery failures',
  },
  JOB_LOCK_MS: {
    schema: intIn(1000, 600_000),
    default: '8000',
    doc: "BullMQ job lock (renewed every half); a dead host's in-flight jobs run again within 1.5 times it",
  },
  NOVU_BUDGET_PERCENT: {
    schema: intIn(10, 100),
    default: '97',
    doc: "share of the Novu environment's announced trigger rate notifyd spends; lower it if others trigger there",
  },
  NOVU_MAX_RETRY_AFTER_MS: {
    schema: intIn(1000, 3_600_000),
    default: '60000',
    doc: "longest pause a Novu 429's Retry-After or RateLimit-Reset may impose; longer values are clamped (and logged)",
  },
  ADMIN_USER: {
    schema: z.string().trim().min(1, { message: 'must not be empty' }),
    doc: 'basic-auth user for Bull Board (/admin/queues), /metrics and the detailed /health; unset = board off',
  },
  ADMIN_PASSWORD: {
    schema: secret,
    secret: true,
    doc: 'basic-auth password (ADMIN_PASSWORD_FILE for a Docker secret); never logged',
  },
  ADMIN_READONLY: { schema: bool, default: 'false', doc: 'Bull Board without retry and remove' },
  METRICS_ENTERPRISE_LIMIT: {
    schema: intIn(0, 10_000),
    default: '100',
    doc:
      'most enterprises given their own series (notifyd_enterprise_subscribed); ' +
      'the rest are counted in notifyd_enterprise_series_omitted',
  },
  DAEMON_POOL_THREADS: {
    schema: intIn(1, 64),
    doc:
      'Piscina threads that run deliveries (validation, the Novu call); ' +
      'unset = 1 per 2 cores, at least 1, at most 4',
  },
  DAEMON_THREAD_YOUNG_MB: {
    schema: intIn(1, 1024),
    default: '8',
    doc: "young-generation size of every worker thread (MB): V8's default takes tens of MB per thread at scale",
  },
  DAEMON_THREAD_HEAP_MB: {
    schema: intIn(32, 16_384),
    default: '256',
    doc: 'old-generation heap limit of each worker thread (MB); a thread over it is restarted alone',
  },
} as const satisfies Record<string, VariableSpec>;

export interface VariableSpec {
  schema: z.ZodType<unknown, string>;
  required?: boolean;
  default?: string;
  secret?: boolean;
  doc: string;
}

export type VariableName = keyof typeof variables;

export const ENT_OVERRIDE_PATTERN = /^ENT_(.+)_(SUBSCRIPTION_ENABLED|REALTIME_PRIORITY|MODE|MAX_PER_SECOND)$/;
export const entOverrideSchemas = {
  SUBSCRIPTION_ENABLED: bool,
  REALTIME_PRIORITY: intIn(1, 100),
  MAX_PER_SECOND: intIn(1, 100_000),
  MODE: z
    .string()
    .trim()
    .pipe(z.enum(['observe', 'deliver'], { message: 'must be observe or deliver' })),
} as const;
