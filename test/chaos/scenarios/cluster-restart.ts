// Proves: on a 3-master Redis Cluster without replicas, SIGKILL of the master that serves the queue's hash-tag slot
// in the middle of a load (its slots unavailable until it returns, on its port with its nodes.conf and no data)
// loses and duplicates nothing. While it is away every enqueue fails fast and is retried, and the worker
// reconnects through ioredis's slot refresh; once it is back, the scheduler finds its epoch marker gone and
// re-enqueues every pending row from PostgreSQL, the sweep covers the rest. Runs on a private cluster.
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisCluster } from '../../support/redis-cluster.js';
import {
  bound,
  ENTERPRISES,
  events,
  loadUntilMidFlight,
  reconcile,
  settle,
  standardRig,
  startDaemon,
  stopDaemon,
  type Scenario,
} from '../harness.js';

const DOWNTIME_MS = 3000;
/** The repair must start by then after the master is back: 3 of the chaos rig's 2 s sweep intervals, plus its work. */
const REPAIR_WITHIN_MS = 15_000;

export const clusterMasterRestart: Scenario = {
  name: 'cluster-master-restart',
  behaviour:
    "Redis Cluster: the master holding the queue's slot is killed mid-load and comes back empty; " +
    'deliveries resume and every notification is sent once',
  boundMs: bound(150, 40),
  async run(ctx) {
    const cluster = await startRedisCluster();
    ctx.defer(() => cluster.stop());
    const rig = await standardRig(ctx, {}, ENTERPRISES, cluster);
    const prefix = rig.env['QUEUE_PREFIX'] as string;
    const master = await cluster.masterOf(prefix);
    const daemon = await startDaemon(ctx, rig);
    const load = await loadUntilMidFlight(ctx, rig, daemon, 0.1);
    const before = rig.novu.deliveries().length;
    ctx.progress(`killing the master on ${master.port} (${before} delivered, ${load.inserted()} inserted)`);
    const killedAt = Date.now();
    await master.kill();
    await sleep(DOWNTIME_MS);
    await master.start();
    await cluster.waitOk();
    const backAt = Date.now();
    ctx.progress(`master back after ${backAt - killedAt} ms`);
    const firstAfter = await waitForDeliveryAfter(rig.novu, backAt, ctx.signal);
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    // the rows can all be sent before the leader's next sweep (2 s after its last, which failed in the outage) runs
    // the repair: wait for it, up to a few sweep intervals after the master came back
    const repair = await waitForEvent(daemon, 'repair_done', backAt + REPAIR_WITHIN_MS, ctx.signal);
    const alive = daemon.child.exitCode === null;
    const stop = await stopDaemon(daemon);
    const notes = [
      `master ${master.port} of 3 SIGKILLed after ${before} deliveries, back (cluster_state:ok) ` +
        `${((backAt - killedAt) / 1000).toFixed(1)} s later with no data; first delivery ` +
        `${firstAfter === undefined ? 'never' : `${firstAfter - backAt} ms`} after it was back; ` +
        (repair === undefined
          ? `no repair pass logged within ${REPAIR_WITHIN_MS / 1000} s`
          : `repair pass done ${Date.parse(String(repair['time'])) - backAt} ms after it was back, re-enqueued ` +
            `${Number(repair['missed'] ?? 0)} rows`),
    ];
    const outcome = await reconcile(rig, { settled, faultEndAt: backAt, notes });
    if (repair === undefined) outcome.problems.push('the scheduler did not notice that the master lost its data');
    if (!alive) outcome.problems.push(`the daemon exited during the outage (code ${daemon.child.exitCode})`);
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code} after ${stop.ms} ms`);
    return outcome;
  },
};

/** The first `name` event the daemon logged, waiting for it until `deadline` (undefined if none by then). */
async function waitForEvent(
  daemon: Parameters<typeof events>[0],
  name: string,
  deadline: number,
  signal: AbortSignal,
): Promise<Record<string, unknown> | undefined> {
  for (;;) {
    const found = events(daemon, name)[0];
    if (found !== undefined || Date.now() >= deadline || signal.aborted) return found;
    await sleep(100);
  }
}

/** When Novu first received a delivery at or after `t` (undefined if none within 60 s). */
async function waitForDeliveryAfter(
  novu: { deliveries(): { at: number }[] },
  t: number,
  signal: AbortSignal,
): Promise<number | undefined> {
  const until = Date.now() + 60_000;
  while (Date.now() < until && !signal.aborted) {
    const d = novu.deliveries().find((x) => x.at >= t);
    if (d !== undefined) return d.at;
    await sleep(50);
  }
  return undefined;
}
