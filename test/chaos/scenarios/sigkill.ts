// Proves: a daemon killed with SIGKILL in the middle of a load (no drain, no cleanup, jobs active in BullMQ and rows
// `processing` under a lease) loses and duplicates nothing once it is restarted: the new process takes over the
// dead one's stalled jobs after JOB_LOCK_MS, reclaims their rows (same job id, same lease owner, or the expired
// lease through the sweep), and Novu's Idempotency-Key / transactionId absorb the triggers that were already sent.
// It runs with the product's own JOB_LOCK_MS and LEASE_MS (not the chaos suite's shorter ones) and measures from
// the SIGKILL to the last row delivered: the target is 15 s, with the restart 1 s after the kill.
import { setTimeout as sleep } from 'node:timers/promises';
import { variables } from '../../../src/config/schema.js';
import {
  bound,
  loadUntilMidFlight,
  reconcile,
  settle,
  standardRig,
  startDaemon,
  stopDaemon,
  type Scenario,
} from '../harness.js';

export const sigkill: Scenario = {
  name: 'sigkill',
  behaviour: 'SIGKILL of the daemon mid-load, then a restart: every notification is sent exactly once',
  boundMs: bound(150, 40),
  async run(ctx) {
    const rig = await standardRig(ctx, {
      JOB_LOCK_MS: variables.JOB_LOCK_MS.default,
      LEASE_MS: variables.LEASE_MS.default,
    });
    const first = await startDaemon(ctx, rig);
    // kill while rows are being inserted and delivered: what is inserted while it is dead has no live listener
    const load = await loadUntilMidFlight(ctx, rig, first, 0.05, 200);
    first.signal('SIGKILL');
    const killedAt = Date.now();
    await first.exited;
    const at = (
      await rig.pool.query<{ status: string; n: number }>(
        'select status, count(*)::int as n from notify.ent_notification group by status',
      )
    ).rows;
    ctx.note(`killed at ${JSON.stringify(Object.fromEntries(at.map((r) => [r.status, r.n])))}`);
    ctx.progress(`SIGKILL sent; ${rig.novu.deliveries().length} delivered so far`);
    await sleep(1000);
    const second = await startDaemon(ctx, rig);
    const restartedAt = Date.now();
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    const stop = await stopDaemon(second);
    const notes = stop.code === 0 ? [] : [`final SIGTERM exit ${stop.code}`];
    notes.push(
      `restarted ${((restartedAt - killedAt) / 1000).toFixed(1)} s after the kill; recovery counted from the kill`,
    );
    return reconcile(rig, { settled, faultEndAt: killedAt, notes });
  },
};
