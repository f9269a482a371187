// Proves nothing by itself: the control. The same load through the same daemon with no fault at all, so the other
// rows of the table can be read against it (its time to recover is the plain time to drain the load after the
// last insert). Not part of the default run; select it with CHAOS_SCENARIOS=baseline.
import {
  bound,
  events,
  reconcile,
  settle,
  standardRig,
  startDaemon,
  startLoad,
  stopDaemon,
  waitReady,
  type Scenario,
} from '../harness.js';

export const baseline: Scenario = {
  name: 'baseline',
  behaviour: 'no fault: the load is delivered exactly once (control)',
  boundMs: bound(120, 30),
  async run(ctx) {
    const rig = await standardRig(ctx);
    const daemon = await startDaemon(ctx, rig);
    await waitReady(daemon);
    const load = startLoad(rig.pool, { total: ctx.load, signal: ctx.signal });
    const lastInsertAt = await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    const sweeps = events(daemon, 'sweep_done');
    const sum = (k: string) => sweeps.reduce((n, e) => n + Number(e[k] ?? 0), 0);
    const stop = await stopDaemon(daemon);
    const notes = [
      `sweeps reported missed ${sum('missed')}, repaired ${sum('repaired')}, expired ${sum('expired')}; ` +
        'recovery counted from the last insert',
    ];
    const outcome = await reconcile(rig, { settled, faultEndAt: lastInsertAt, notes });
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code}`);
    return outcome;
  },
};
