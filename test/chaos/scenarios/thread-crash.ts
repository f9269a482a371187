// Proves: threads dying inside the daemon lose and duplicate nothing.
// - realtime-thread: every realtime host thread (two of them, holding the five enterprise actors) exits at once in
//   the middle of the load (src/faults.ts realtime_thread_exit_at). The host pool restarts them, the actors
//   re-subscribe and catch up from their watermark, and the sweep covers the rows whose events died with them.
// - pool-worker: a Piscina pool thread exits (pool_crash_rate=0.02 per job) after Novu accepted a trigger and before
//   the outcome was recorded — the worst moment. BullMQ retries the job; the retry reclaims its own lease and Novu
//   answers the repeated Idempotency-Key from its cache, so the row ends `sent` and Novu delivered it once.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bound,
  events,
  reconcile,
  settle,
  standardRig,
  startDaemon,
  startLoad,
  stopDaemon,
  waitNotReady,
  waitReady,
  type Scenario,
} from '../harness.js';

/** How far after the spawn the realtime threads exit: enough for a slow start on a busy machine. */
const EXIT_AFTER_SPAWN_MS = 15_000;
/** The load starts this long before the exit, and lasts LOAD_SPREAD_MS: the exit falls mid-load. */
const LEAD_MS = 2500;
const LOAD_SPREAD_MS = 5000;

export const realtimeThreadCrash: Scenario = {
  name: 'realtime-thread',
  behaviour:
    'realtime host threads crashing mid-load are restarted, re-subscribe and catch up: nothing lost or sent twice',
  boundMs: bound(170, 40),
  async run(ctx) {
    const rig = await standardRig(ctx, { DAEMON_REALTIME_HOSTS: '2' });
    const exitAt = Date.now() + EXIT_AFTER_SPAWN_MS;
    const daemon = await startDaemon(ctx, rig, { NOTIFYD_TEST_FAULTS: `realtime_thread_exit_at=${exitAt}` });
    // On a very busy machine the daemon may not be ready before the crash: the crash still happens, mid-start-up.
    const readyAt = await waitReady(daemon, Math.max(1000, exitAt - LEAD_MS - Date.now())).catch(() => undefined);
    if (readyAt === undefined) ctx.note('the daemon was not ready before the crash (slow start-up)');
    await sleep(Math.max(0, exitAt - LEAD_MS - Date.now()));
    const load = startLoad(rig.pool, { total: ctx.load, spreadMs: LOAD_SPREAD_MS, signal: ctx.signal });
    await sleep(Math.max(0, exitAt - Date.now()));
    const insertedAtCrash = load.inserted();
    ctx.progress(`realtime threads exit now; ${insertedAtCrash}/${ctx.load} inserted`);
    // the fault ends when every enterprise is subscribed again (after /health has shown them down)
    const sawDown = await waitNotReady(daemon, 5000);
    const resubscribedAt = await waitReady(daemon, 60_000);
    if (!sawDown) ctx.note('/health never showed an enterprise down');
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    const exits = events(daemon, 'host_exit').filter((e) => e['reason'] === 'crash').length;
    const stop = await stopDaemon(daemon);
    const notes = [
      `${exits} host thread crashes, ${insertedAtCrash}/${ctx.load} inserted at the crash, ` +
        `re-subscribed after ${((resubscribedAt - exitAt) / 1000).toFixed(1)} s`,
    ];
    const outcome = await reconcile(rig, { settled, faultEndAt: resubscribedAt, notes });
    if (exits === 0) outcome.problems.push('no realtime host thread crashed: the fault did not happen');
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code}`);
    return outcome;
  },
};

export const poolWorkerCrash: Scenario = {
  name: 'pool-worker',
  behaviour:
    'Piscina workers dying between the Novu trigger and the outcome write: retried with the same keys, each sent once',
  boundMs: bound(150, 50),
  async run(ctx) {
    const rig = await standardRig(ctx);
    const daemon = await startDaemon(ctx, rig, { NOTIFYD_TEST_FAULTS: 'pool_crash_rate=0.02' });
    await waitReady(daemon);
    const load = startLoad(rig.pool, { total: ctx.load, signal: ctx.signal });
    const lastInsertAt = await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 40, ctx.signal);
    const poolErrors = events(daemon, 'pool_error').length;
    const retries = events(daemon, 'delivery_retry').length;
    const stop = await stopDaemon(daemon);
    const outcome = await reconcile(rig, {
      settled,
      faultEndAt: lastInsertAt,
      notes: [
        `${poolErrors} pool thread crashes logged, ${retries} retries logged; ` +
          'fault lasts the whole run, recovery counted from the last insert',
      ],
    });
    if (poolErrors === 0 && outcome.absorbed === 0)
      outcome.problems.push('no pool thread crashed: the fault did not happen');
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code}`);
    return outcome;
  },
};
