// Proves: Redis restarting in the middle of a load (killed, down for a few seconds, back with its append-only file)
// loses and duplicates nothing. BullMQ's jobs survive in the AOF; while Redis is away the enterprise actors cannot
// enqueue (fail-fast producers, retried) and the worker reconnects; jobs that were active when Redis died are taken
// over through their expired locks, rows whose jobs were never written are found by the sweep. The daemon runs
// against a private redis-server (--appendonly yes --appendfsync always) on its own port: the shared one is never
// touched.
import { Redis } from 'ioredis';
import {
  bound,
  events,
  loadUntilMidFlight,
  reconcile,
  settle,
  standardRig,
  startDaemon,
  stopDaemon,
  type Scenario,
} from '../harness.js';
import { startPrivateRedis } from '../infra.js';

const DOWNTIME_MS = 3000;

/** Number of keys in the private Redis (-1 if it does not answer): the AOF must bring them back. */
async function dbsize(url: string): Promise<number> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.dbsize();
  } catch {
    return -1;
  } finally {
    r.disconnect();
  }
}

export const redisRestart: Scenario = {
  name: 'redis-restart',
  behaviour:
    'Redis restarted mid-load with append-only persistence: the queue resumes and every notification is sent once',
  boundMs: bound(170, 40),
  async run(ctx) {
    const redis = await startPrivateRedis({ appendfsync: 'always' });
    ctx.defer(() => redis.stop());
    const rig = await standardRig(ctx, { REDIS_URL: redis.url });
    const daemon = await startDaemon(ctx, rig);
    const load = await loadUntilMidFlight(ctx, rig, daemon, 0.1);
    const before = rig.novu.deliveries().length;
    const keysBefore = await dbsize(redis.url);
    ctx.progress(`killing redis (${before} delivered, ${load.inserted()} inserted, ${keysBefore} keys)`);
    await redis.restart(DOWNTIME_MS);
    const backAt = Date.now();
    const keysAfter = await dbsize(redis.url);
    ctx.progress('redis is back');
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    const queueErrors = events(daemon, 'queue_error', 'enqueue_failed', 'infrastructure_unavailable').length;
    const sweeps = events(daemon, 'sweep_done').length;
    const alive = daemon.child.exitCode === null;
    const stop = await stopDaemon(daemon);
    const notes = [
      `SIGKILL after ${before} deliveries, down ${DOWNTIME_MS / 1000} s, ` +
        `${keysBefore} keys before, ${keysAfter} after the AOF reload; ` +
        `${queueErrors} queue/enqueue errors, ${sweeps} sweeps that found work`,
    ];
    const outcome = await reconcile(rig, { settled, faultEndAt: backAt, notes });
    if (!alive) outcome.problems.push(`the daemon exited during the Redis outage (code ${daemon.child.exitCode})`);
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code} after ${stop.ms} ms`);
    return outcome;
  },
};
