// The checks of `notifyd doctor`, one group per dependency (PostgreSQL and the schema, Redis, Novu, Realtime), each
// bounded in time and side-effect free, each result naming the fix when it fails. A group whose variables are
// invalid is skipped (the configuration check names them).
import { randomBytes } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import type pg from 'pg';
import { bounded } from '../../bounded.js';
import type { Config } from '../../config/load.js';
import { createPool } from '../../db/pool.js';
import { migrationState, realtimeSetup } from '../../db/inspect.js';
import { migrations } from '../../db/migrations/index.js';
import { NovuDelivery } from '../../delivery/novu-client.js';
import { describeError } from '../../errors.js';
import { createRedis, evictionPolicies, mastersOf } from '../../queue/redis.js';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface Check {
  id: string;
  status: CheckStatus;
  detail: string;
  /** what to do about it, when it did not pass */
  fix?: string;
}

const pass = (id: string, detail: string): Check => ({ id, status: 'pass', detail });
const fail = (id: string, detail: string, fix: string): Check => ({ id, status: 'fail', detail, fix });
const warn = (id: string, detail: string, fix: string): Check => ({ id, status: 'warn', detail, fix });
const skip = (ids: readonly string[], detail: string): Check[] => ids.map((id) => ({ id, status: 'skip', detail }));

export const PG_CHECKS = ['postgres', 'migrations', 'replica-identity', 'publication', 'wal-level'] as const;

export async function postgresChecks(config: Config): Promise<Check[]> {
  const db = createPool({
    databaseUrl: config.databaseUrl,
    max: 1,
    applicationName: 'notifyd-doctor',
    statementTimeoutMs: 5000,
  });
  try {
    let version: string;
    try {
      const res = await db.pool.query<{ v: string; db: string }>(
        `select current_setting('server_version') as v, current_database() as db`,
      );
      version = `PostgreSQL ${res.rows[0]?.v ?? '?'}, database ${res.rows[0]?.db ?? '?'}`;
    } catch (err) {
      return [
        fail(
          'postgres',
          `cannot connect: ${describeError(err)}`,
          'check DATABASE_URL (host, port, database, user, password, sslmode) and that PostgreSQL accepts this client',
        ),
        ...skip(PG_CHECKS.slice(1), 'PostgreSQL unreachable'),
      ];
    }
    const schema = [await migrationsCheck(db.pool), ...(await realtimeChecks(db.pool))];
    return [pass('postgres', `reachable: ${version}`), ...schema];
  } finally {
    await db.close(2000);
  }
}

async function migrationsCheck(db: pg.Pool): Promise<Check> {
  const m = await migrationState(db, migrations);
  if (m.changed.length > 0) {
    return fail(
      'migrations',
      `applied migrations were edited afterwards: ${m.changed.join(', ')} (checksum mismatch)`,
      'run the notifyd version that applied them, or restore them; an applied migration is never edited',
    );
  }
  if (m.missing.length > 0) {
    return fail(
      'migrations',
      `${m.missing.length} of ${migrations.length} not applied: ${m.missing.join(', ')}`,
      'run: notifyd migrate (or npm run migrate) with this DATABASE_URL',
    );
  }
  if (m.unknown.length > 0) {
    return warn(
      'migrations',
      `all ${migrations.length} applied, plus ones this version does not know: ` + `${m.unknown.join(', ')}`,
      'a newer notifyd migrated this database: upgrade this host',
    );
  }
  return pass('migrations', `current: all ${migrations.length} applied`);
}

async function realtimeChecks(db: pg.Pool): Promise<Check[]> {
  const r = await realtimeSetup(db);
  const out: Check[] = [];
  if (!r.table) {
    out.push(fail('replica-identity', 'notify.ent_notification does not exist', 'run: notifyd migrate'));
  } else if (r.replicaIdentity !== 'f') {
    const ident = identityName(r.replicaIdentity);
    out.push(
      fail(
        'replica-identity',
        `notify.ent_notification has REPLICA IDENTITY ${ident}, ` +
          'so DELETE events carry no enterprise_id and filtered subscriptions miss them',
        'run: alter table notify.ent_notification replica identity full;',
      ),
    );
  } else {
    out.push(pass('replica-identity', 'notify.ent_notification has REPLICA IDENTITY FULL'));
  }
  if (!r.publication) {
    out.push(
      fail(
        'publication',
        'the supabase_realtime publication does not exist',
        'run: create publication supabase_realtime; alter publication supabase_realtime add table ' +
          'notify.ent_notification; (on Supabase: Database → Publications)',
      ),
    );
  } else if (!r.inPublication) {
    out.push(
      fail(
        'publication',
        'notify.ent_notification is not in the supabase_realtime publication: Realtime ' + 'sends none of its changes',
        'run: alter publication supabase_realtime add table notify.ent_notification;',
      ),
    );
  } else {
    out.push(pass('publication', 'notify.ent_notification is in the supabase_realtime publication'));
  }
  if (r.walLevel === 'logical') out.push(pass('wal-level', 'wal_level = logical'));
  else {
    out.push(
      warn(
        'wal-level',
        r.walLevel === null
          ? 'could not read wal_level'
          : `wal_level = ${r.walLevel}: Realtime reads changes by logical decoding, which needs logical`,
        'on the database Realtime reads: alter system set wal_level = logical; then restart PostgreSQL',
      ),
    );
  }
  return out;
}

function identityName(code: string | null): string {
  return ({ d: 'DEFAULT', n: 'NOTHING', i: 'USING INDEX' } as Record<string, string>)[code ?? ''] ?? String(code);
}

export const REDIS_CHECKS = ['redis', 'redis-eviction'] as const;

/** Redis answers (on a cluster: every master), and none of its masters may evict keys. */
export async function redisChecks(config: Config): Promise<Check[]> {
  let lastError: Error | undefined;
  const cluster = config.redisCluster !== undefined;
  const redis = createRedis(config, {
    lazyConnect: true,
    connectTimeout: 3000,
    commandTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectionName: 'notifyd-doctor',
  });
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    let reachable: string;
    try {
      await redis.connect();
      await redis.ping();
      const masters = mastersOf(redis);
      const versions = await Promise.all(
        masters.map(async (m) => /redis_version:(\S+)/.exec(await m.info('server'))?.[1] ?? '?'),
      );
      reachable = cluster
        ? `reachable: Redis Cluster of ${masters.length} masters (Redis ${[...new Set(versions)].join(', ')})`
        : `reachable: Redis ${versions[0] ?? '?'}`;
    } catch (err) {
      const why = lastError !== undefined ? describeError(lastError) : describeError(err);
      return [
        fail(
          'redis',
          `cannot connect: ${why}`,
          cluster
            ? 'check REDIS_CLUSTER_NODES (host:port of the nodes), the password and TLS in REDIS_URL, and that the ' +
                'cluster is up (cluster_state:ok)'
            : 'check REDIS_URL (host, port, password; rediss:// for TLS) and that Redis runs',
        ),
        ...skip(REDIS_CHECKS.slice(1), 'Redis unreachable'),
      ];
    }
    const policies = await evictionPolicies(redis);
    const unread = [...policies].filter(([, p]) => p === undefined).map(([node]) => node);
    const evicting = [...policies].filter(([, p]) => p !== undefined && p !== 'noeviction');
    const where = (node: string) => (cluster ? ` on ${node}` : '');
    const eviction: Check =
      evicting.length > 0
        ? fail(
            'redis-eviction',
            `${evicting.map(([node, p]) => `maxmemory-policy = ${p}${where(node)}`).join(', ')}: under memory ` +
              'pressure Redis deletes keys, and deleted keys are lost jobs',
            `set maxmemory-policy noeviction${cluster ? ' on every master' : ''} (redis.conf, CONFIG SET, or the ` +
              "managed service's parameter group)",
          )
        : unread.length > 0
          ? warn(
              'redis-eviction',
              `could not read maxmemory-policy${cluster ? ` of ${unread.join(', ')}` : ''}`,
              'make sure maxmemory-policy is noeviction',
            )
          : pass('redis-eviction', `maxmemory-policy = noeviction${cluster ? ` on all ${policies.size} masters` : ''}`);
    return [pass('redis', reachable), eviction];
  } finally {
    redis.disconnect();
  }
}

/** A Novu call with no side effect: cancelling a transaction that cannot exist. 401/403 = the key is refused. */
export async function novuCheck(config: Config, needed: boolean | undefined): Promise<Check> {
  if (config.novuSecretKey === undefined) {
    return needed === false
      ? pass('novu', 'not needed: every enterprise observes (DELIVERY_MODE=observe, no ENT_<id>_MODE=deliver)')
      : { id: 'novu', status: 'skip', detail: 'NOVU_SECRET_KEY is not set' };
  }
  const novu = new NovuDelivery({
    secretKey: config.novuSecretKey,
    apiUrl: config.novuApiUrl,
    timeoutMs: Math.min(config.novuTimeoutMs, 10_000),
  });
  const res = await novu.cancel(`notifyd-doctor-${randomBytes(8).toString('hex')}`);
  if (res.ok) return pass('novu', `key accepted by ${config.novuApiUrl}`);
  const status = res.call.status;
  const reason = 'reason' in res.outcome ? res.outcome.reason : res.outcome.kind;
  if (status === 401 || status === 403) {
    return fail(
      'novu',
      `${config.novuApiUrl} refused NOVU_SECRET_KEY (${status})`,
      'set NOVU_SECRET_KEY to the secret key of the Novu environment notifyd delivers to (dashboard → API Keys), ' +
        'and NOVU_API_URL to its region (e.g. https://eu.api.novu.co)',
    );
  }
  if (status === undefined) {
    return fail(
      'novu',
      `cannot reach NOVU_API_URL ${config.novuApiUrl}: ${reason}`,
      'check NOVU_API_URL (without /v1) and that this host can reach it',
    );
  }
  return fail(
    'novu',
    `${config.novuApiUrl} answered ${status}: ${reason}`,
    'check NOVU_API_URL (without /v1) points at the Novu API',
  );
}

/** Joins a postgres_changes channel on notify.ent_notification for a probe enterprise, as an enterprise actor does. */
export async function realtimeCheck(config: Config): Promise<Check> {
  const timeoutMs = Math.min(config.subscription.joinTimeoutMs, 15_000);
  const probe = `notifyd-doctor-${randomBytes(6).toString('hex')}`;
  const client = createClient(config.supabaseUrl, config.supabaseServiceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { timeout: timeoutMs },
  });
  const channel = client.channel(probe);
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await new Promise<{ ok: true } | { ok: false; why: string }>((resolve) => {
      const late = `no "Subscribed to PostgreSQL" within ${timeoutMs} ms`;
      timer = setTimeout(() => resolve({ ok: false, why: late }), timeoutMs);
      channel
        .on(
          'postgres_changes',
          {
            event: '*',
            schema: 'notify',
            table: 'ent_notification',
            filter: `enterprise_id=eq.${probe}`,
          },
          () => undefined,
        )
        .on('system', {}, (msg: { extension?: string; status?: string; message?: string }) => {
          if (msg.extension === 'postgres_changes' && msg.status === 'ok') resolve({ ok: true });
          else if (msg.status === 'error') {
            resolve({ ok: false, why: `Realtime: ${String(msg.message ?? 'error').slice(0, 300)}` });
          }
        })
        .subscribe((status, err) => {
          if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT' || status === 'CLOSED') {
            resolve({ ok: false, why: `${status}${err ? `: ${err.message.slice(0, 300)}` : ''}` });
          }
        });
    });
    if (outcome.ok) {
      return pass(
        'realtime',
        `joined notify.ent_notification at ${config.supabaseUrl} in ` +
          `${Math.round(performance.now() - started)} ms ("Subscribed to PostgreSQL")`,
      );
    }
    return fail(
      'realtime',
      `join failed at ${config.supabaseUrl}: ${outcome.why}`,
      "check SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (this project's service_role key), that Realtime is " +
        'enabled, and the publication check above',
    );
  } finally {
    clearTimeout(timer);
    await bounded(client.removeChannel(channel), 1000);
    client.realtime.disconnect();
  }
}
