// Proves: a tenant with large payloads cannot take the process down for everyone. 2,000 rows of 400 KB payloads
// (800 MB in all) go through a daemon whose main heap is capped at 512 MB (--max-old-space-size) and each worker
// thread's at 128 MB (DAEMON_THREAD_HEAP_MB): the routing paths never read payloads, buffered Realtime events keep
// only their routing columns, a claim batch carries payloads over 64 KB only by reference, and each pool thread reads
// them within its payload budget, at WORKER_CONCURRENCY 200 (what the bench runs). Everything is delivered once; the
// daemon's peak RSS (VmHWM, all threads) is reported and must stay under MAX_PEAK_RSS_MB.
import { readFileSync } from 'node:fs';
import {
  bound,
  events,
  reconcile,
  settle,
  standardRig,
  startDaemon,
  stopDaemon,
  waitReady,
  type Scenario,
} from '../harness.js';
import { ENTERPRISES } from '../load.js';

const PAYLOAD_BYTES = 400 * 1024;

/** Peak resident set of a process (kB → MB), all its threads. */
function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Math.round(Number(m[1]) / 1024);
  } catch {
    return undefined;
  }
}

/** The daemon's peak RSS this scenario allows: about 1.5 times what it measured with the payload budget. */
const MAX_PEAK_RSS_MB = 600;

export const largePayloads: Scenario = {
  name: 'large-payloads',
  behaviour:
    '2,000 rows of 400 KB payloads through a daemon with a 512 MB heap (128 MB per thread): all delivered once',
  boundMs: bound(240, 0),
  fixedLoad: 2000,
  async run(ctx) {
    // at the jobs in flight an operator sets for throughput: the payload budget, not a low concurrency, bounds memory
    const rig = await standardRig(ctx, { WORKER_CONCURRENCY: '200' });
    const daemon = await startDaemon(ctx, rig, {
      NODE_OPTIONS: '--max-old-space-size=512',
      DAEMON_THREAD_HEAP_MB: '128',
    });
    await waitReady(daemon);
    // 400 KB of hex that does not compress much (md5s, built once by PostgreSQL), a row number in front of it
    const per = Math.ceil(ctx.load / ENTERPRISES.length);
    for (const [i, e] of ENTERPRISES.entries()) {
      for (let done = 0; done < per && i * per + done < ctx.load; done += 50) {
        const n = Math.min(50, per - done);
        await rig.pool.query(
          `with b as (select string_agg(md5(k::text), '') as s from generate_series(1, $3::int / 32) k)
           insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload)
           select $1, 'welcome', array['user-' || g], jsonb_build_object('n', g, 'blob', b.s)
             from b, generate_series(1, $2) g`,
          [e, n, PAYLOAD_BYTES],
        );
      }
    }
    const lastInsertAt = Date.now();
    const settled = await settle(rig.pool, 180_000, ctx.signal);
    const peak = peakRssMb(daemon.child.pid);
    const oom = events(daemon, 'host_exit', 'pool_error', 'pool_task_failed').length;
    const alive = daemon.child.exitCode === null;
    const stop = await stopDaemon(daemon);
    const notes = [`peak RSS ${peak ?? '?'} MB (VmHWM of the daemon process); ${oom} thread exits or pool failures`];
    const outcome = await reconcile(rig, { settled, faultEndAt: lastInsertAt, notes });
    if (!alive) outcome.problems.push(`the daemon exited (code ${daemon.child.exitCode})`);
    // 384 MB with the pool thread's payload budget, 743 MB without it (200 jobs in flight holding 400 KB each)
    if (peak !== undefined && peak > MAX_PEAK_RSS_MB) {
      outcome.problems.push(`peak RSS ${peak} MB over ${MAX_PEAK_RSS_MB} MB: large payloads are not bounded in flight`);
    }
    if (stop.code !== 0) outcome.problems.push(`final SIGTERM exit ${stop.code}`);
    return outcome;
  },
};
