// `npm run bench:runtime`: what the actor runtime itself costs. Memory per host thread and per idle
// enterprise-sized actor, time to start N actors spread over host threads (cold: threads included), message
// round trip, restart latency of an actor and of a host thread with all its actors. Prints a table, then,
// as its last line, one JSON object. Options: --actors 1000 --threads 4 --runs 3.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HostPool } from '../../src/runtime/host-pool.js';
import { StatusRegistry } from '../../src/runtime/status-registry.js';
import { ThreadHost } from '../../src/runtime/thread-host.js';

process.env['DAEMON_LOG_LEVEL'] ??= 'silent';
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ACTORS = arg('actors', 1_000);
const THREADS = arg('threads', 4);
const RUNS = arg('runs', 3);
const module = new URL('../fixtures/runtime/bench-enterprise.js', import.meta.url).href;
const out = (s: string): void => void process.stdout.write(`${s}\n`);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const mb = (bytes: number): number => Math.round((bytes / 1_048_576) * 10) / 10;
const specs = (n: number, tag = '') =>
  Array.from({ length: n }, (_, i) => ({
    id: `enterprise:ent${tag}${i}`,
    kind: 'enterprise',
    module,
    args: { enterpriseId: `ent${i}` },
    backoff: { minMs: 0, maxMs: 0 },
  }));

let gcInThreads = true; // false when a thread could not collect (then thread figures include garbage)
/** RSS after collecting garbage in the main thread and (through one actor each) in every host thread. */
async function settledRss(pool?: HostPool): Promise<number> {
  for (let i = 0; i < 2; i++) {
    if (pool !== undefined) {
      await Promise.all(
        pool.hosts.map(async (h) => {
          const first = h.actors()[0];
          if (first !== undefined)
            gcInThreads = (await h.ask<boolean>(first.id, { type: 'gc' }, 10_000).catch(() => false)) && gcInThreads;
        }),
      );
    }
    gc();
    await sleep(300);
  }
  return process.memoryUsage().rss;
}

function newPool(registry: StatusRegistry): HostPool {
  return new HostPool({
    id: 'realtime',
    size: THREADS,
    registry,
    host: { heartbeatMs: 1_000, resourceLimits: { maxYoungGenerationSizeMb: 16 } },
    intensity: 100,
    periodMs: 10_000,
  });
}

// ---- memory: a fresh process, then idle threads, then N actors spread over them -----------------------------
await sleep(200);
const rss0 = await settledRss();
const registry = new StatusRegistry();
const pool = newPool(registry);
await pool.start();
const rss1 = await settledRss();
const spawned = await pool.spawnMany(specs(ACTORS));
const up = registry.snapshot((s) => s.kind === 'enterprise' && s.status === 'subscribed').length;
if (spawned.some((r) => r.status === 'rejected') || up !== ACTORS)
  throw new Error(`only ${up}/${ACTORS} actors started`);
const rssAll = await settledRss(pool);
const rssThreads = (rss1 - rss0) / THREADS;
const rssActors = (rssAll - rss1) / ACTORS;

// ---- message round trip (sequential asks) and throughput (64 in flight) -------------------------------------
const target = 'enterprise:ent0';
for (let i = 0; i < 500; i++) await pool.ask(target, { type: 'ping' });
const rtt: number[] = [];
for (let i = 0; i < 5_000; i++) {
  const t = performance.now();
  await pool.ask(target, { type: 'echo', value: { n: i, pad: 'x'.repeat(64) } });
  rtt.push((performance.now() - t) * 1_000);
}
const tp0 = performance.now();
let sent = 0;
await Promise.all(
  Array.from({ length: 64 }, async (_, lane) => {
    while (sent < 20_000) {
      sent += 1;
      await pool.ask(`enterprise:ent${lane * 7}`, { type: 'ping' });
    }
  }),
);
const msgsPerSec = 20_000 / ((performance.now() - tp0) / 1_000);

// ---- restart latency: one actor (backoff 0) and one host thread with all its actors -------------------------
const actorRestart: number[] = [];
for (let i = 0; i < 10; i++) {
  const id = `enterprise:ent${10 + i}`;
  const before = registry.get(id)!.restarts;
  const t = performance.now();
  await pool.ask(id, { type: 'fail' });
  await new Promise<void>((resolve) => {
    const off = registry.subscribe(({ status }) => {
      if (status.id === id && status.status === 'subscribed' && status.restarts > before) {
        off();
        resolve();
      }
    });
  });
  actorRestart.push(performance.now() - t);
}
const hostRestart: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const host = pool.hosts[i % THREADS]!;
  const mine = host.actors().map((s) => s.id);
  const t = performance.now();
  host.tell(mine[0]!, { type: 'exit-thread' });
  await new Promise<void>((resolve) => host.once('ready', () => resolve()));
  const allBack = mine.every(
    (id) => registry.get(id)?.status === 'subscribed' && registry.get(id)?.thread === host.thread,
  );
  if (!allBack) throw new Error('host restarted without all its actors');
  hostRestart.push(performance.now() - t);
}
await pool.stop(10_000);

// ---- heap inside one thread: runtime cost of an actor (bare) vs an enterprise-sized one -----------------------
const HEAP_N = 500;
const probeHost = new ThreadHost({
  id: 'heap-probe',
  heartbeatMs: 1_000,
  actors: [{ id: 'probe', kind: 'probe', module, args: { enterpriseId: 'p', bare: true } }],
});
await probeHost.start();
const threadHeap = async (): Promise<number> => {
  for (let i = 0; i < 2; i++) await probeHost.ask('probe', { type: 'gc' });
  await sleep(100);
  return probeHost.ask<number>('probe', { type: 'heap' });
};
const heap0 = await threadHeap();
for (let i = 0; i < HEAP_N; i++)
  await probeHost.spawn({ id: `bare${i}`, kind: 'bare', module, args: { enterpriseId: `b${i}`, bare: true } });
const heap1 = await threadHeap();
for (let i = 0; i < HEAP_N; i++)
  await probeHost.spawn({ id: `ent${i}`, kind: 'enterprise', module, args: { enterpriseId: `e${i}` } });
const heap2 = await threadHeap();
await probeHost.stop(10_000);
const heapBare = (heap1 - heap0) / HEAP_N;
const heapEnterprise = (heap2 - heap1) / HEAP_N;

// ---- cold start: new threads + N actors, median of RUNS -----------------------------------------------------
const startMs: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const reg = new StatusRegistry();
  const p = newPool(reg);
  const t0 = performance.now();
  await p.start();
  const results = await p.spawnMany(specs(ACTORS, `r${run}-`));
  startMs.push(performance.now() - t0);
  const ok = reg.snapshot((s) => s.kind === 'enterprise' && s.status === 'subscribed').length;
  if (results.some((r) => r.status === 'rejected') || ok !== ACTORS)
    throw new Error(`run ${run}: only ${ok}/${ACTORS} actors started`);
  await p.stop(10_000);
}

// ---- report -------------------------------------------------------------------------------------------------
const perHost = Math.round(ACTORS / THREADS);
const rows: [string, string][] = [
  ['actors / host threads', `${ACTORS} / ${THREADS}`],
  ['RSS, whole process (main + threads + actors)', `${mb(rssAll)} MB`],
  ['RSS, process before any thread', `${mb(rss0)} MB`],
  ['RSS per host thread (idle, runtime only)', `${mb(rssThreads)} MB`],
  ['RSS per idle enterprise-sized actor', `${Math.round(rssActors / 1024)} KB`],
  [
    'JS heap per actor in its thread: runtime only / enterprise-sized',
    `${(heapBare / 1024).toFixed(1)} KB / ${(heapEnterprise / 1024).toFixed(1)} KB`,
  ],
  [
    `cold start: ${THREADS} threads + ${ACTORS} actors (median of ${RUNS})`,
    `${Math.round(median(startMs))} ms (runs: ${startMs.map(Math.round).join(', ')})`,
  ],
  ['ask round trip, main ↔ actor (median / p99)', `${Math.round(median(rtt))} µs / ${Math.round(pct(rtt, 0.99))} µs`],
  ['asks per second, 64 in flight', `${Math.round(msgsPerSec)}`],
  ['actor restart latency, backoff 0 (median of 10)', `${median(actorRestart).toFixed(1)} ms`],
  [`host thread restart with its ${perHost} actors (median of ${RUNS})`, `${Math.round(median(hostRestart))} ms`],
];
const w = Math.max(...rows.map(([k]) => k.length));
out(`notifyd runtime benchmark — node ${process.version}, ${process.platform}/${process.arch}`);
for (const [k, v] of rows) out(`${k.padEnd(w)}  ${v}`);
out(
  JSON.stringify({
    actors: ACTORS,
    threads: THREADS,
    rss_mb: mb(rssAll),
    rss_base_mb: mb(rss0),
    rss_per_thread_mb: mb(rssThreads),
    rss_per_actor_kb: Math.round(rssActors / 1024),
    heap_per_actor_runtime_kb: Math.round(heapBare / 102.4) / 10,
    heap_per_actor_enterprise_kb: Math.round(heapEnterprise / 102.4) / 10,
    start_ms: Math.round(median(startMs)),
    roundtrip_us: Math.round(median(rtt)),
    roundtrip_p99_us: Math.round(pct(rtt, 0.99)),
    asks_per_s: Math.round(msgsPerSec),
    actor_restart_ms: Math.round(median(actorRestart) * 10) / 10,
    host_restart_ms: Math.round(median(hostRestart)),
    runs: RUNS,
    gc_in_threads: gcInThreads,
  }),
);
