// Proves: Realtime going away loses and duplicates nothing — Realtime never replays, so what was inserted while the
// daemon could not hear it must come from the catch-up after the re-subscribe (or the sweep).
// - realtime-drop: the stand-in drops every socket and refuses connections for 10 s (restart with downtime), then
//   accepts sockets but refuses every join for 5 s; the enterprise actors keep retrying (and may be restarted by
//   their host after SUBSCRIPTION_MAX_RETRIES), subscribe again and catch up.
// - realtime-silent: the stand-in goes silent for 8 s without closing anything (no heartbeat replies, no join
//   replies, no events): missed heartbeats must tear the sockets down, and rows inserted during the silence are
//   still delivered.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bound,
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

const DOWN_MS = 10_000;
const REFUSE_MS = 5_000;
const SILENT_MS = 8_000;

export const realtimeDrop: Scenario = {
  name: 'realtime-drop',
  behaviour:
    'Realtime dropping every socket for 10 s, then refusing joins for 5 s: rows inserted meanwhile are delivered once',
  boundMs: bound(190, 40),
  async run(ctx) {
    const rig = await standardRig(ctx);
    const daemon = await startDaemon(ctx, rig);
    await waitReady(daemon);
    // the load covers the outage and the refused joins, and a little before and after
    const load = startLoad(rig.pool, {
      total: ctx.load,
      spreadMs: DOWN_MS + REFUSE_MS + 3000,
      batches: 40,
      signal: ctx.signal,
    });
    await load.reached(0.1);
    ctx.progress(`dropping every socket for ${DOWN_MS / 1000} s (${load.inserted()} inserted)`);
    const t0 = Date.now();
    await rig.realtime.restart({ downtimeMs: DOWN_MS });
    rig.realtime.refuseJoins(true);
    ctx.progress(`refusing joins for ${REFUSE_MS / 1000} s (${load.inserted()} inserted)`);
    await sleep(REFUSE_MS);
    rig.realtime.refuseJoins(false);
    const faultEndAt = Date.now();
    const insertedDuring = load.inserted();
    const resubscribedAt = await waitReady(daemon, 90_000).catch(() => undefined);
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    const stop = await stopDaemon(daemon);
    const notes = [
      `outage ${((faultEndAt - t0) / 1000).toFixed(1)} s with ${insertedDuring} inserted by its end`,
      resubscribedAt === undefined
        ? 'not re-subscribed within 90 s'
        : `re-subscribed ${((resubscribedAt - faultEndAt) / 1000).toFixed(1)} s after joins were accepted again`,
    ];
    const outcome = await reconcile(rig, { settled, faultEndAt, notes });
    if (resubscribedAt === undefined)
      outcome.problems.push('enterprises did not re-subscribe within 90 s of Realtime coming back');
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code}`);
    return outcome;
  },
};

export const realtimeSilent: Scenario = {
  name: 'realtime-silent',
  behaviour:
    'Realtime going silent without closing: missed heartbeats reconnect ' +
    'and rows inserted during the silence are delivered once',
  boundMs: bound(170, 40),
  async run(ctx) {
    const rig = await standardRig(ctx);
    const daemon = await startDaemon(ctx, rig);
    await waitReady(daemon);
    const load = startLoad(rig.pool, { total: ctx.load, spreadMs: SILENT_MS + 3000, batches: 30, signal: ctx.signal });
    await load.reached(0.1);
    const t0 = Date.now();
    const insertedBefore = load.inserted();
    rig.realtime.silence(true);
    ctx.progress(`silent for ${SILENT_MS / 1000} s (${insertedBefore} inserted)`);
    const noticed = await waitNotReady(daemon, SILENT_MS);
    const noticedMs = Date.now() - t0;
    await sleep(Math.max(0, t0 + SILENT_MS - Date.now()));
    rig.realtime.silence(false);
    const faultEndAt = Date.now();
    const insertedDuring = load.inserted() - insertedBefore;
    const resubscribedAt = await waitReady(daemon, 60_000).catch(() => undefined);
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    const stop = await stopDaemon(daemon);
    const notes = [
      `${insertedDuring} rows inserted during the silence`,
      noticed
        ? `silence noticed in /health after ${(noticedMs / 1000).toFixed(1)} s`
        : 'silence never showed in /health',
      resubscribedAt === undefined
        ? 'not re-subscribed within 60 s'
        : `re-subscribed ${((resubscribedAt - faultEndAt) / 1000).toFixed(1)} s after the silence`,
    ];
    const outcome = await reconcile(rig, { settled, faultEndAt, notes });
    if (!noticed)
      outcome.problems.push(`a silent Realtime was not detected within ${SILENT_MS / 1000} s (heartbeat interval 1 s)`);
    if (resubscribedAt === undefined)
      outcome.problems.push('enterprises did not re-subscribe within 60 s of the silence ending');
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code}`);
    return outcome;
  },
};
