// Proves: PostgreSQL restarting in the middle of a load (pg_ctl -m fast restart: every connection is terminated,
// in-flight statements fail) loses and duplicates nothing. The daemon's pools absorb the dead connections, claims
// and outcome writes that failed are retried (a row left `processing` comes back through its lease and the sweep),
// and a trigger Novu accepted before the outcome write failed is absorbed by its Idempotency-Key on the retry.
// Runs on a private cluster (initdb in a temp dir, own port) so the shared PostgreSQL on 5432 is never restarted;
// the application's inserts retry while the server is away, as an application would.
import pg from 'pg';
import { migrate } from '../../../src/db/migrate.js';
import { deletePrefix, uniquePrefix } from '../../support/redis.js';
import { TEST_REDIS_URL } from '../../support/services.js';
import { SERVICE_ROLE_KEY } from '../../support/stack.js';
import { DEFAULT_NOVU_API_KEY, startNovuStandin } from '../../../src/devstack/novu/index.js';
import { startRealtimeStandin } from '../../../src/devstack/realtime/server.js';
import {
  bound,
  CHAOS_ENV,
  ENTERPRISES,
  events,
  loadUntilMidFlight,
  reconcile,
  settle,
  startDaemon,
  stopDaemon,
  type Rig,
  type Scenario,
  type ScenarioContext,
} from '../harness.js';
import { startPrivatePostgres, type PrivatePostgres } from '../infra.js';

/** startStack's world, on a private cluster: database + schema, the two stand-ins, a private BullMQ prefix. */
async function privatePostgresRig(ctx: ScenarioContext): Promise<Rig & { cluster: PrivatePostgres }> {
  const cluster = await startPrivatePostgres();
  ctx.defer(() => cluster.stop());
  const admin = new pg.Client({ connectionString: cluster.url('postgres') });
  await admin.connect();
  await admin.query('create database notifyd_chaos');
  await admin.end();
  const url = cluster.url('notifyd_chaos');
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);
  ctx.defer(() => pool.end().catch(() => undefined));
  const realtime = await startRealtimeStandin({ databaseUrl: url, apiKeys: [SERVICE_ROLE_KEY] });
  ctx.defer(() => realtime.close());
  const novu = await startNovuStandin({ tenants: [...ENTERPRISES], workflows: 'any' });
  ctx.defer(() => novu.close());
  const prefix = uniquePrefix('ntf-chaos');
  ctx.defer(() => deletePrefix(prefix));
  const env: Record<string, string> = {
    SUPABASE_URL: realtime.url,
    SUPABASE_SERVICE_ROLE_KEY: SERVICE_ROLE_KEY,
    DATABASE_URL: url,
    REDIS_URL: TEST_REDIS_URL,
    NOVU_SECRET_KEY: DEFAULT_NOVU_API_KEY,
    NOVU_API_URL: novu.url,
    QUEUE_PREFIX: prefix,
    DAEMON_REALTIME_HOSTS: '1',
    SUBSCRIPTION_HEALTH_CHECK_INTERVAL: '1000',
    ...CHAOS_ENV,
  };
  return { pool, novu, realtime, env, cluster };
}

export const postgresRestart: Scenario = {
  name: 'postgres-restart',
  behaviour: 'PostgreSQL restarted mid-load: claims and outcome writes recover and every notification is sent once',
  boundMs: bound(190, 40),
  async run(ctx) {
    const rig = await privatePostgresRig(ctx);
    const daemon = await startDaemon(ctx, rig);
    const load = await loadUntilMidFlight(ctx, rig, daemon, 0.1);
    const before = rig.novu.deliveries().length;
    ctx.progress(`restarting PostgreSQL (${before} delivered, ${load.inserted()} inserted)`);
    const t0 = Date.now();
    await rig.cluster.restart();
    const backAt = Date.now();
    ctx.progress(`PostgreSQL is back after ${backAt - t0} ms`);
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    const alive = daemon.child.exitCode === null;
    const crashes = events(daemon, 'host_exit', 'actor_crashed', 'uncaught_exception').length;
    const stop = await stopDaemon(daemon);
    const notes = [
      `restart took ${backAt - t0} ms after ${before} deliveries; ${load.retries()} application inserts retried; ` +
        `${crashes} thread/actor crashes logged`,
    ];
    const outcome = await reconcile(rig, { settled, faultEndAt: backAt, notes });
    if (!alive)
      outcome.problems.push(`the daemon exited during the PostgreSQL restart (code ${daemon.child.exitCode})`);
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code} after ${stop.ms} ms`);
    return outcome;
  },
};
