// Proves: Novu misbehaving does not lose or duplicate notifications.
// - novu-faults: for the whole load Novu answers 10% 503s, plus 429 bursts (Retry-After: 1), responses slower than
//   NOVU_TIMEOUT_MS (the trigger was processed, the response is lost), connection resets after processing, gateway
//   503s and 500s after processing. Every retry carries the same Idempotency-Key and transactionId, so whatever
//   Novu already processed is answered from its cache; every row ends `sent` and Novu delivered each once.
// - sigterm-slow-novu: Novu takes 2 s per trigger and the daemon gets SIGTERM mid-load: it drains what is in flight
//   and exits 0 within its 25 s deadline, leaving no row `processing`; a restart finishes the rest.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bound,
  deliveredAtLeast,
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
import { within } from '../infra.js';

export const novuFaults: Scenario = {
  name: 'novu-faults',
  behaviour:
    'Novu answering 429 bursts, 5xx, timeouts and connection resets: every notification ends sent, delivered once',
  boundMs: bound(150, 50),
  async run(ctx) {
    const rig = await standardRig(ctx);
    const daemon = await startDaemon(ctx, rig);
    await waitReady(daemon);
    const f = rig.novu.faults;
    const n = (share: number) => Math.max(5, Math.round(ctx.load * share));
    // The faults follow the deliveries, not the inserts, so they cover most of the work at any load.
    const at = (share: number) =>
      deliveredAtLeast(rig.novu, Math.ceil(ctx.load * share), 60_000 + ctx.load * 40, ctx.signal);
    f.failFraction(0.1, 503);
    const load = startLoad(rig.pool, { total: ctx.load, spreadMs: 8000, batches: 40, signal: ctx.signal });
    await at(0.15);
    f.rateLimitBurst(n(0.01), 1);
    await at(0.3);
    f.latency(1500, { count: n(0.02) }); // above NOVU_TIMEOUT_MS (1 s): processed, response lost
    await at(0.45);
    f.resetNext(n(0.01), { afterProcessing: true });
    f.resetNext(n(0.005));
    await at(0.6);
    f.rateLimitBurst(n(0.01), 1);
    f.unavailableNext(n(0.005));
    f.failNext(n(0.005), { status: 500, afterProcessing: true });
    await at(0.8);
    f.clear();
    const faultEndAt = Date.now();
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 40, ctx.signal);
    const requests = rig.novu.requests();
    const byOutcome = {
      '429': requests.filter((r) => r.status === 429).length,
      '5xx': requests.filter((r) => (r.status ?? 0) >= 500).length,
      '409': requests.filter((r) => r.status === 409).length,
      reset: requests.filter((r) => r.outcome === 'reset').length,
      'client-gone': requests.filter((r) => r.outcome === 'client-gone').length,
    };
    const rateLimited = events(daemon, 'delivery_rate_limited').length;
    const stop = await stopDaemon(daemon);
    const notes = [`${requests.length} requests: ${JSON.stringify(byOutcome)}; ${rateLimited} queue pauses`];
    const outcome = await reconcile(rig, { settled, faultEndAt, notes });
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code}`);
    return outcome;
  },
};

const SLOW_MS = 2000;
const DEADLINE_MS = 25_000;

export const sigtermSlowNovu: Scenario = {
  name: 'sigterm-slow-novu',
  behaviour:
    'SIGTERM while Novu answers in 2 s: drains in flight, exits 0 within 25 s, nothing left processing, ' +
    'restart finishes',
  boundMs: bound(170, 30),
  async run(ctx) {
    // slow, but within the client timeout: the in-flight triggers succeed while the daemon drains
    const rig = await standardRig(ctx, { NOVU_TIMEOUT_MS: '5000' });
    rig.novu.faults.latency(SLOW_MS);
    const first = await startDaemon(ctx, rig);
    await waitReady(first);
    const load = startLoad(rig.pool, { total: ctx.load, signal: ctx.signal });
    await load.reached(0.5);
    await deliveredAtLeast(rig.novu, 16, 60_000, ctx.signal);
    await sleep(500);
    const signalledAt = Date.now();
    first.signal('SIGTERM');
    const code = await within(first.exited, DEADLINE_MS + 10_000);
    const exitedAt = Date.now();
    const stopMs = exitedAt - signalledAt;
    if (code === undefined) first.signal('SIGKILL');
    const midway = Object.fromEntries(
      (
        await rig.pool.query<{ status: string; n: number }>(
          'select status, count(*)::int as n from notify.ent_notification group by status',
        )
      ).rows.map((r) => [r.status, r.n]),
    );
    const during = rig.novu.requests().filter((r) => r.receivedAt >= signalledAt && r.receivedAt <= exitedAt).length;
    const unanswered = rig.novu.requests().filter((r) => r.outcome === 'client-gone' || r.outcome === 'pending').length;
    ctx.progress(`stopped in ${stopMs} ms with ${String(code)}: ${JSON.stringify(midway)}`);
    rig.novu.faults.clear();
    const second = await startDaemon(ctx, rig);
    const restartedAt = Date.now();
    await load.done;
    const settled = await settle(rig.pool, 60_000 + ctx.load * 30, ctx.signal);
    const stop = await stopDaemon(second);
    const notes = [
      `stop took ${(stopMs / 1000).toFixed(1)} s, exit ${String(code)}; at exit ${JSON.stringify(midway)}; ` +
        `${during} new Novu requests between SIGTERM and exit, ${unanswered} abandoned by the client`,
    ];
    const outcome = await reconcile(rig, { settled, faultEndAt: restartedAt, notes });
    if (code !== 0) outcome.problems.push(`SIGTERM exit code ${String(code)} (expected 0)`);
    if (stopMs > DEADLINE_MS) outcome.problems.push(`stop took ${stopMs} ms, over the ${DEADLINE_MS} ms deadline`);
    if ((midway['processing'] ?? 0) > 0)
      outcome.problems.push(`${midway['processing']} rows left processing by the SIGTERM drain`);
    if ((midway['sent'] ?? 0) >= ctx.load)
      outcome.problems.push('the load finished before SIGTERM: the scenario proved nothing');
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code}`);
    return outcome;
  },
};
