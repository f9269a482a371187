// The pipeline benchmark (`npm run bench`, a script, never a test): rows inserted at offered rates flow through the
// real daemon (a child process: `node dist/supervisor.js`) to the Novu stand-in; it measures delivered/s and the
// latency from the row's created_at (set by PostgreSQL at insert) to the stand-in's receipt, next to raw BullMQ
// no-op throughput on the same Redis as the engine's ceiling. It prints a table, a CPU breakdown (which process and
// thread was busy), a "what limits it" line, and as its last line one JSON object (also written to
// .bench/pipeline.json).
//
// Env: BENCH_SECONDS (10 per rate), BENCH_RATES ("100,500,1000,max"), WORKER_CONCURRENCY (daemon, default below),
// BENCH_ENTERPRISES (5), BENCH_MAX_BACKLOG (rows kept in flight by the "max" run), BENCH_BASELINE_JOBS (20000),
// BENCH_BASELINE_REPEATS (3), BENCH_REALTIME_HOSTS (daemon's DAEMON_REALTIME_HOSTS, its default 1),
// BENCH_DAEMON_NODE_OPTIONS (NODE_OPTIONS for the daemon, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it),
// BENCH_DAEMON_ENV (a JSON object of daemon variables, e.g. '{"DAEMON_THREAD_YOUNG_MB":"32"}'; the daemon sees no other
// variable of the bench's environment).
import { mkdirSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME, jobIdFor, type NotificationJobData } from '../../src/queue/jobs.js';
import { startDaemonProcess, type DaemonProcess } from '../../src/devstack/daemon-process.js';
import { ensureServices, TEST_REDIS_URL } from '../support/services.js';
import { startStack, type Stack } from '../support/stack.js';
import type { Delivery } from '../../src/devstack/novu/types.js';
import { bullmqNoop, type NoopResult } from './bullmq-noop.js';
import { cpuBetween, pidsNamed, processCpuMs, snapshotCpu, type CpuTargets } from './cpu.js';
import {
  median,
  pctl,
  percentiles,
  printReport,
  r1,
  whatLimits,
  type Rate,
  type RunResult,
  type StageLatency,
} from './pipeline-report.js';

/**
 * What an operator sets for throughput (WORKER_CONCURRENCY overrides it; the daemon's own default is 5). Claims, sent
 * marks and Novu requests of concurrent jobs share statements and bulk requests, so jobs in flight are the batch
 * size: on 2026-12-06, max runs at 20 / 100 / 200 / 400 cost 3.57 / 2.12 / 1.82 / 1.76 ms of CPU per notification,
 * all processes together.
 */
const DEFAULT_WORKER_CONCURRENCY = 200;

function intEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}, got ${raw}`);
  return Math.floor(n);
}

function parseRates(raw: string): Rate[] {
  return raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
    .map((s) => {
      if (s === 'max') return 'max';
      const n = Number(s);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`BENCH_RATES: ${s} is not a positive number or "max"`);
      return n;
    });
}

/**
 * Also what an operator sets for throughput (the daemon's default is 8, lean for 1,000 enterprises;
 * BENCH_DAEMON_ENV overrides it): on 2026-12-07, max runs at 8 / 32 / 64 cost a median 0.67 / 0.59 / 0.60 ms of CPU
 * per notification, all processes together (4 paired runs each).
 */
const DEFAULT_THREAD_YOUNG_MB = 32;

const SECONDS = intEnv('BENCH_SECONDS', 10);
const RATES = parseRates(process.env['BENCH_RATES'] ?? '100,500,1000,max');
const CONCURRENCY = intEnv('WORKER_CONCURRENCY', DEFAULT_WORKER_CONCURRENCY);
const ENTERPRISES = intEnv('BENCH_ENTERPRISES', 5);
const MAX_BACKLOG = intEnv('BENCH_MAX_BACKLOG', 2000);
const BASELINE_JOBS = intEnv('BENCH_BASELINE_JOBS', 20_000);
const BASELINE_REPEATS = intEnv('BENCH_BASELINE_REPEATS', 3);
const DAEMON_ENV = JSON.parse(process.env['BENCH_DAEMON_ENV'] ?? '{}') as Record<string, string>;
const THREAD_YOUNG_MB = DAEMON_ENV['DAEMON_THREAD_YOUNG_MB'] ?? String(DEFAULT_THREAD_YOUNG_MB);
const REALTIME_HOSTS = intEnv('BENCH_REALTIME_HOSTS', 1);
/** the first second of a run is ramp-up; "sustained" delivered/s counts receipts after it */
const RAMP_MS = SECONDS >= 4 ? 1000 : 0;
/** per-stage latency is read back from BullMQ for at most this many rows of a run */
const STAGE_SAMPLE = 3000;
/** "max" inserts at most this many rows per 10 ms tick (up to 20,000 rows/s offered, in small batches, not bursts) */
const MAX_BATCH = 200;
/** Issue 11's targets on this 2-core machine, everything in one run (the `unlimited` scenario). */
const TARGET_P99_MS = 50;
const TARGET_PER_S = 3000;
const TARGET_CPU_MS = 0.6;
const ENTERPRISE_IDS = Array.from({ length: ENTERPRISES }, (_, i) => `bench${i + 1}`);

let aborted = false;
process.once('SIGINT', () => {
  aborted = true;
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// the daemon

interface HealthBody {
  status: string;
  components?: { subscriptions?: { active: number } };
}

async function waitSubscribed(healthUrl: string, daemon: DaemonProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | undefined;
  void daemon.exited.then((code) => {
    exited = code;
  });
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited !== undefined)
      throw new Error(
        `daemon exited with ${exited} while starting:\n${daemon.stderr.join('')}${daemon.lines.slice(-10).join('\n')}`,
      );
    try {
      const res = await fetch(healthUrl, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as HealthBody;
      last = `${body.status}, ${body.components?.subscriptions?.active ?? 0} subscribed`;
      if (body.status === 'healthy' && body.components?.subscriptions?.active === ENTERPRISES) return;
    } catch (err) {
      last = String(err);
    }
    await sleep(200);
  }
  throw new Error(`daemon not healthy with ${ENTERPRISES} subscriptions within ${timeoutMs} ms (last: ${last})`);
}

async function stopDaemon(daemon: DaemonProcess): Promise<number> {
  daemon.signal('SIGTERM');
  try {
    return await bounded(daemon.exited, 30_000, 'daemon SIGTERM');
  } catch {
    daemon.signal('SIGKILL');
    return bounded(daemon.exited, 5000, 'daemon SIGKILL').catch(() => -1);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// load

async function insertRows(stack: Stack, tag: string, offset: number, n: number): Promise<void> {
  await stack.pool.query(
    `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload)
     select 'bench' || ((($3::int + g) % $4::int) + 1), $1, array['user-' || ($3::int + g)],
            jsonb_build_object('n', $3::int + g)
       from generate_series(1, $2::int) g`,
    [tag, n, offset, ENTERPRISES],
  );
}

interface LoadResult {
  /** rows committed */
  rows: number;
  insertErrors: number;
  startWall: number;
  endWall: number;
}

/**
 * Offers `rate` rows/s for `ms`: every 10 ms it inserts what the schedule says is due (rate/100 rows when on time)
 * in one multi-row INSERT spread over the enterprises. "max" keeps MAX_BACKLOG rows inserted but not yet received
 * by the Novu stand-in (a closed loop: it offers as fast as the pipeline takes rows, without an unbounded queue).
 */
async function offerLoad(stack: Stack, tag: string, rate: Rate, ms: number): Promise<LoadResult> {
  const inflight = new Set<Promise<void>>();
  let requested = 0;
  let committed = 0;
  let insertErrors = 0;
  let delivered = 0;
  let lastPoll = 0;
  const startWall = Date.now();
  const t0 = performance.now();
  for (;;) {
    const now = performance.now();
    const elapsed = now - t0;
    if (elapsed >= ms || aborted) break;
    let want: number;
    if (rate === 'max') {
      if (now - lastPoll >= 50) {
        delivered = stack.novu.deliveries().length;
        lastPoll = now;
      }
      want = Math.min(MAX_BATCH, MAX_BACKLOG - (requested - delivered));
    } else {
      want = Math.min(5000, Math.floor((rate * elapsed) / 1000) - requested);
    }
    if (want > 0 && inflight.size < 3) {
      const offset = requested;
      requested += want;
      const p: Promise<void> = insertRows(stack, tag, offset, want)
        .then(
          () => {
            committed += want;
          },
          () => {
            insertErrors += 1;
          },
        )
        .finally(() => {
          inflight.delete(p);
        });
      inflight.add(p);
    }
    await sleep(10);
  }
  await Promise.all(inflight);
  return { rows: committed, insertErrors, startWall, endWall: Date.now() };
}

// ---------------------------------------------------------------------------------------------------------------
// measurement

async function stageLatency(
  queue: Queue<NotificationJobData>,
  created: Map<string, number>,
  receipts: Map<string, number>,
): Promise<StageLatency | undefined> {
  const ids = [...receipts.keys()];
  const step = Math.max(1, Math.ceil(ids.length / STAGE_SAMPLE));
  const sample = ids.filter((_, i) => i % step === 0);
  const c2e: number[] = [];
  const wait: number[] = [];
  const a2n: number[] = [];
  const n2f: number[] = [];
  const origins: Record<string, number> = {};
  let retried = 0;
  const retriedExamples: StageLatency['retried_examples'] = [];
  for (let i = 0; i < sample.length; i += 100) {
    const jobs = await Promise.all(
      sample.slice(i, i + 100).map((id) => queue.getJob(jobIdFor(id, '1')).catch(() => undefined)),
    );
    for (const job of jobs as (Job<NotificationJobData> | undefined | null)[]) {
      if (job === undefined || job === null || job.processedOn === undefined || job.finishedOn === undefined) continue;
      const id = job.data.notificationId;
      const c = created.get(id);
      const n = receipts.get(id);
      if (c === undefined || n === undefined) continue;
      const returned = (job.returnvalue as { kind?: string } | null | undefined)?.kind ?? 'none';
      const key = `${job.data.origin}→${returned}`;
      origins[key] = (origins[key] ?? 0) + 1;
      if (returned !== 'sent') continue;
      if (job.attemptsMade > 1 || job.attemptsStarted > 1) {
        retried += 1;
        if (retriedExamples.length < 3) {
          retriedExamples.push({
            jobId: job.id ?? '',
            attemptsStarted: job.attemptsStarted,
            attemptsMade: job.attemptsMade,
            stalledCounter: job.stalledCounter,
            failedReason: job.failedReason ?? null,
          });
        }
      }
      c2e.push(job.data.enqueuedAt - c);
      wait.push(job.processedOn - job.data.enqueuedAt);
      a2n.push(n - job.processedOn);
      n2f.push(job.finishedOn - n);
    }
  }
  if (c2e.length === 0) return undefined;
  return {
    sampled: c2e.length,
    origins,
    retried,
    retried_examples: retriedExamples,
    commit_to_enqueue_ms: percentiles(c2e),
    queue_wait_ms: percentiles(wait),
    active_to_novu_ms: percentiles(a2n),
    novu_to_finished_ms: percentiles(n2f),
  };
}

async function pgPidsByApp(stack: Stack): Promise<Map<string, number[]>> {
  const res = await stack.pool.query<{ pid: number; app: string }>(
    "select pid, coalesce(nullif(application_name, ''), 'bench') as app from pg_stat_activity " +
      'where datname = current_database()',
  );
  const out = new Map<string, number[]>();
  for (const row of res.rows) out.set(row.app, [...(out.get(row.app) ?? []), row.pid]);
  return out;
}

/**
 * What a run measures. The PostgreSQL backends of our database are grouped by application_name; `refresh()` reads
 * them again so connections opened during the run (pools grow under load) count too.
 */
async function cpuTargets(
  stack: Stack,
  daemonPid: number,
  redisPid: number | undefined,
): Promise<{ targets: CpuTargets; refresh: () => Promise<void> }> {
  const byApp = new Map<string, number[]>();
  const groups: CpuTargets['groups'] = {
    daemon: () => [daemonPid],
    bench: () => [process.pid],
    redis: () => (redisPid === undefined ? [] : [redisPid]),
    'pg (all, any database)': () => pidsNamed('postgres'),
  };
  const refresh = async () => {
    for (const [app, pids] of await pgPidsByApp(stack)) {
      byApp.set(app, [...new Set([...(byApp.get(app) ?? []), ...pids])]);
      groups[`pg:${app}`] ??= () => byApp.get(app) ?? [];
    }
  };
  await refresh();
  return { targets: { groups, threadsOf: { daemon: daemonPid, bench: process.pid } }, refresh };
}

/** Samples what our database's active backends wait on (pg_stat_activity) while the load runs. */
function sampleWaits(stack: Stack, everyMs: number): { stop: () => Promise<Record<string, number>> } {
  const counts: Record<string, number> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const res = await stack.pool.query<{ w: string; n: number }>(
          `select coalesce(wait_event_type || ':' || wait_event, 'on CPU') as w, count(*)::int as n
             from pg_stat_activity
            where datname = current_database() and state = 'active' and pid <> pg_backend_pid() group by 1`,
        );
        for (const row of res.rows) counts[row.w] = (counts[row.w] ?? 0) + row.n;
      } catch {
        // a sample lost is fine
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      return Object.fromEntries(
        Object.entries(counts)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => [k, Math.round((v / Math.max(1, total)) * 1000) / 10]),
      );
    },
  };
}

/** What Novu would bill per row in this phase (the stand-in's counters were reset at its start). */
function novuUsagePerRow(stack: Stack, rows: number): { novu_requests_per_row: number; novu_tokens_per_row: number } {
  const envs = Object.values(stack.novu.counters().environments);
  const per = (n: number) => Math.round((n / Math.max(1, rows)) * 100) / 100;
  return {
    novu_requests_per_row: per(envs.reduce((a, e) => a + e.requests, 0)),
    novu_tokens_per_row: per(envs.reduce((a, e) => a + e.tokens, 0)),
  };
}

/** Rows of a workflow not yet sent or failed. */
async function pendingRows(stack: Stack, workflow: string): Promise<number> {
  const open = await stack.pool.query<{ n: number }>(
    'select count(*)::int as n from notify.ent_notification ' +
      "where workflow_id = $1 and status in ('pending', 'processing')",
    [workflow],
  );
  return open.rows[0]?.n ?? 0;
}

/** Until the Realtime stand-in has sent no event for 500 ms (at most 10 s): the pipeline's changes have gone out. */
async function realtimeQuiet(stack: Stack): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = -1;
  while (Date.now() < deadline && !aborted) {
    const now = stack.realtime.stats().eventsSent;
    if (now === last) return;
    last = now;
    await sleep(500);
  }
}

async function runPhase(
  stack: Stack,
  queue: Queue<NotificationJobData>,
  index: number,
  rate: Rate,
  daemonPid: number,
  redisPid: number | undefined,
): Promise<RunResult> {
  const tag = `bench-${index}-${rate}`;
  stack.novu.reset();
  const { targets, refresh } = await cpuTargets(stack, daemonPid, redisPid);
  const eventsBefore = stack.realtime.stats().eventsSent;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const before = snapshotCpu(targets);
  const waits = sampleWaits(stack, 100);
  const load = await offerLoad(stack, tag, rate, SECONDS * 1000);
  const pgWaits = await waits.stop();
  await refresh();
  const afterLoad = snapshotCpu(targets);
  loop.disable();
  const loadEndPerf = performance.now();
  // drain: every committed row reaches the stand-in (bounded: a stuck pipeline is reported, not waited out)
  const drainDeadline = Date.now() + Math.max(30_000, Math.min(180_000, load.rows * 20));
  while (stack.novu.deliveries().length < load.rows && Date.now() < drainDeadline && !aborted) await sleep(100);
  const drainMs = Math.round(performance.now() - loadEndPerf);
  // and the rows are recorded as sent (markSent follows the Novu call), so the next run starts from a quiet pipeline
  const settleDeadline = Date.now() + 15_000;
  while (Date.now() < settleDeadline && !aborted && (await pendingRows(stack, tag)) > 0) await sleep(200);

  // and the Realtime events of those status writes have reached the daemon, so none counts in the next run
  await realtimeQuiet(stack);

  const deliveries: Delivery[] = stack.novu.deliveries().filter((d) => d.workflow === tag);
  const rows = await stack.pool.query<{ id: string; created: string; status: string }>(
    'select id::text as id, extract(epoch from created_at) * 1000 as created, status ' +
      'from notify.ent_notification where workflow_id = $1',
    [tag],
  );
  const created = new Map<string, number>();
  const rowStatus: Record<string, number> = {};
  for (const row of rows.rows) {
    created.set(row.id, Number(row.created));
    rowStatus[row.status] = (rowStatus[row.status] ?? 0) + 1;
  }
  const receipts = new Map<string, number>();
  let duplicates = 0;
  const latencies: number[] = [];
  let inWindow = 0;
  let lastReceipt = 0;
  for (const d of deliveries) {
    const m = /^notifyd-[^-]+-(\d+)-\d+$/.exec(d.transactionId);
    const id = m?.[1];
    if (id === undefined) continue;
    if (receipts.has(id)) {
      duplicates += 1;
      continue;
    }
    receipts.set(id, d.acceptedAt);
    const c = created.get(id);
    if (c !== undefined) latencies.push(d.acceptedAt - c);
    if (d.acceptedAt >= load.startWall + RAMP_MS && d.acceptedAt <= load.endWall) inWindow += 1;
    lastReceipt = Math.max(lastReceipt, d.acceptedAt);
  }
  const firstCreated = Math.min(...created.values());
  latencies.sort((a, b) => a - b);
  const windowS = Math.max(0.001, (load.endWall - load.startWall - RAMP_MS) / 1000);
  const stages = await stageLatency(queue, created, receipts);
  const cpu = cpuBetween(before, afterLoad);
  // rows delivered while the CPU was measured: receipts during the load window
  const duringLoad = [...receipts.values()].filter((t) => t >= load.startWall && t <= load.endWall).length;
  const perRow = (p: number) =>
    duringLoad === 0 ? NaN : Math.round((((p / 100) * cpu.wallMs) / duringLoad) * 100) / 100;
  const pgThisDb = Object.entries(cpu.groups)
    .filter(([k]) => k.startsWith('pg:'))
    .reduce((a, [, v]) => a + v, 0);
  const cpuPerRow: Record<string, number> = {
    daemon: perRow(cpu.groups['daemon'] ?? 0),
    'postgres (this db)': perRow(pgThisDb),
    'bench process': perRow(cpu.groups['bench'] ?? 0),
    redis: perRow(cpu.groups['redis'] ?? 0),
  };
  cpuPerRow['total'] = Math.round(Object.values(cpuPerRow).reduce((a, b) => a + b, 0) * 100) / 100;
  for (const [k, v] of Object.entries(cpu.threads['daemon'] ?? {})) cpuPerRow[`daemon ${k}`] = perRow(v);
  for (const [k, v] of Object.entries(cpu.groups)) if (k.startsWith('pg:')) cpuPerRow[k] = perRow(v);
  return {
    rate,
    seconds: r1((load.endWall - load.startWall) / 1000),
    rows: load.rows,
    offered_per_s: Math.round(load.rows / ((load.endWall - load.startWall) / 1000)),
    delivered: receipts.size,
    delivered_per_s: Math.round(inWindow / windowS),
    overall_per_s: lastReceipt > firstCreated ? Math.round(receipts.size / ((lastReceipt - firstCreated) / 1000)) : 0,
    p50_ms: r1(pctl(latencies, 50)),
    p95_ms: r1(pctl(latencies, 95)),
    p99_ms: r1(pctl(latencies, 99)),
    max_ms: r1(latencies.at(-1) ?? NaN),
    mean_ms: r1(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)),
    drain_ms: drainMs,
    not_delivered: load.rows - receipts.size,
    duplicates,
    insert_errors: load.insertErrors,
    row_status: rowStatus,
    stages,
    cpu,
    cpu_ms_per_row: cpuPerRow,
    realtime_events_per_row:
      Math.round(((stack.realtime.stats().eventsSent - eventsBefore) / Math.max(1, load.rows)) * 100) / 100,
    ...novuUsagePerRow(stack, load.rows),
    novu_ignored: stack.novu.ignored().length,
    pg_waits_pct: pgWaits,
    bench_loop_delay_ms: { p99: r1(loop.percentile(99) / 1e6), max: r1(loop.max / 1e6) },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// main

/** Redis's pid when it runs on this machine (for its CPU); undefined when it cannot be seen. */
async function redisProcessId(): Promise<number | undefined> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const raw = /process_id:(\d+)/.exec(await redis.info('server'))?.[1];
    return raw === undefined || processCpuMs(Number(raw)) === undefined ? undefined : Number(raw);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  await ensureServices();
  console.log(
    `notifyd pipeline bench: ${SECONDS} s per rate, rates ${RATES.join(', ')}, ${ENTERPRISES} enterprises, ` +
      `WORKER_CONCURRENCY=${CONCURRENCY}, DAEMON_THREAD_YOUNG_MB=${THREAD_YOUNG_MB}, ` +
      `DAEMON_REALTIME_HOSTS=${REALTIME_HOSTS}, Node ${process.version}`,
  );

  // 1. the engine's ceiling, before anything else runs (so it has the machine to itself)
  const redisPid = await redisProcessId();
  const noopRuns: (NoopResult & { othersPct: number })[] = [];
  const measured = async (variant: 'plain' | 'daemon-options') => {
    const targets: CpuTargets = {
      groups: { bench: () => [process.pid], redis: () => (redisPid === undefined ? [] : [redisPid]) },
      threadsOf: {},
    };
    const a = snapshotCpu(targets);
    const result = await bullmqNoop(TEST_REDIS_URL, BASELINE_JOBS, variant);
    const c = cpuBetween(a, snapshotCpu(targets));
    return {
      ...result,
      othersPct: Math.max(0, r1(c.machinePct - (c.groups['bench'] ?? 0) - (c.groups['redis'] ?? 0))),
    };
  };
  for (let i = 0; i < BASELINE_REPEATS && !aborted; i++) noopRuns.push(await measured('plain'));
  const noopOpts = aborted ? undefined : await measured('daemon-options');
  const noop = Math.round(median(noopRuns.map((r) => r.processPerS)));
  const noopRates = noopRuns.map((r) => `${r.processPerS}/s`).join(', ');
  const noopAddPerS = Math.round(median(noopRuns.map((r) => r.addPerS)));
  const noopOthers = noopRuns.map((r) => `${r.othersPct}%`).join(', ');
  console.log(
    `BullMQ no-op (addBulk ${BASELINE_JOBS}, 1 Worker × concurrency 50, removeOnComplete): ` +
      `${noopRates} → median ${noop} jobs/s` +
      ` (addBulk ${noopAddPerS}/s; other work on the machine meanwhile: ${noopOthers} of a core);` +
      ` with notifyd's job/worker options: ${noopOpts?.processPerS ?? '?'} jobs/s`,
  );

  // 2. the stack and the daemon as a child process
  const healthPort = await freePort();
  const stack = await startStack({
    enterprises: ENTERPRISE_IDS,
    startDaemon: false,
    env: {
      WORKER_CONCURRENCY: String(CONCURRENCY),
      // scavenges of a larger young generation promote less of the in-flight jobs' data
      DAEMON_THREAD_YOUNG_MB: String(DEFAULT_THREAD_YOUNG_MB),
      DAEMON_LOG_LEVEL: 'warn',
      DAEMON_HEALTH_PORT: String(healthPort),
      DAEMON_REALTIME_HOSTS: String(REALTIME_HOSTS),
      // production defaults instead of the test stack's fast timers
      SWEEP_INTERVAL_MS: '10000',
      JOB_LOCK_MS: '30000',
      DELIVERY_BACKOFF_MS: '1000',
      SUBSCRIPTION_HEARTBEAT_INTERVAL: '25000',
      SUBSCRIPTION_HEALTH_CHECK_INTERVAL: '30000',
      // the daemon's environment is only what the stack gives it: variables to try go through BENCH_DAEMON_ENV
      ...DAEMON_ENV,
    },
  });
  console.log(
    `stack: database ${stack.db.name}, BullMQ prefix ${stack.prefix}, ` +
      `Novu stand-in ${stack.novu.url}, Realtime stand-in ${stack.realtime.url}`,
  );
  let daemon: DaemonProcess | undefined;
  let redis: Redis | undefined;
  let queue: Queue<NotificationJobData> | undefined;
  const runs: RunResult[] = [];
  let failure: unknown;
  let daemonWarnings: Record<string, number> = {};
  try {
    const nodeOptions = process.env['BENCH_DAEMON_NODE_OPTIONS'];
    daemon = startDaemonProcess(nodeOptions === undefined ? stack.env : { ...stack.env, NODE_OPTIONS: nodeOptions });
    const daemonPid = daemon.child.pid;
    if (daemonPid === undefined) throw new Error('daemon process did not start');
    await waitSubscribed(`http://127.0.0.1:${healthPort}/health`, daemon, 60_000);
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    queue = new Queue<NotificationJobData>(QUEUE_NAME, { connection: redis, prefix: stack.prefix });
    queue.on('error', () => undefined);

    // warm-up (JIT, connection pools): 500 rows, not measured
    await insertRows(stack, 'bench-warmup', 0, 500);
    const warmDeadline = Date.now() + 60_000;
    while (stack.novu.deliveries().length < 500 && Date.now() < warmDeadline) await sleep(100);
    if (stack.novu.deliveries().length < 500)
      throw new Error(`warm-up: ${stack.novu.deliveries().length}/500 delivered within 60 s`);
    // the warm-up's status writes reach Realtime after Novu's receipts: their events must not count in the first run
    while (Date.now() < warmDeadline && (await pendingRows(stack, 'bench-warmup')) > 0) await sleep(100);
    await realtimeQuiet(stack);

    for (const [i, rate] of RATES.entries()) {
      if (aborted) break;
      const run = await runPhase(stack, queue, i, rate, daemonPid, redisPid);
      runs.push(run);
      const label = rate === 'max' ? 'max' : `${rate}/s`;
      console.log(
        `  ${label}: ${run.delivered}/${run.rows} delivered, ${run.delivered_per_s}/s, ` +
          `p50 ${run.p50_ms} p99 ${run.p99_ms} ms`,
      );
      await sleep(1000);
    }
  } catch (err) {
    failure = err;
  } finally {
    if (daemon !== undefined) {
      const code = await stopDaemon(daemon);
      if (code !== 0)
        console.log(
          `daemon exited with ${code}${daemon.stderr.length > 0 ? `: ${daemon.stderr.join('').slice(-2000)}` : ''}`,
        );
      const warnings = daemon.lines.filter((l) => /"level":"(warn|error|fatal)"/.test(l));
      daemonWarnings = {};
      for (const l of warnings) {
        const event = /"event":"([^"]+)"/.exec(l)?.[1] ?? '?';
        daemonWarnings[event] = (daemonWarnings[event] ?? 0) + 1;
      }
      if (warnings.length > 0) {
        console.log(
          `daemon logged ${warnings.length} warning/error lines: ${Object.entries(daemonWarnings)
            .map(([k, v]) => `${k} ×${v}`)
            .join(', ')}; first:\n${warnings.slice(0, 3).join('\n')}`,
        );
      }
    }
    await queue?.close().catch(() => undefined);
    redis?.disconnect();
    await bounded(stack.stop(), 30_000, 'stack.stop').catch((err: unknown) => console.log(`cleanup: ${String(err)}`));
  }
  if (failure !== undefined) throw failure;

  // 3. report
  const maxRun = runs.find((r) => r.rate === 'max');
  const at500 = runs.find((r) => r.rate === 500);
  const deliveredPerS = maxRun?.delivered_per_s ?? Math.max(0, ...runs.map((r) => r.delivered_per_s));
  const limits = whatLimits(runs, noop, median(noopRuns.map((r) => r.othersPct)));
  printReport(runs, { rampMs: RAMP_MS, maxBacklog: MAX_BACKLOG });
  console.log(
    `BullMQ no-op ceiling ${noop} jobs/s (median of ${noopRuns.length}); ` +
      `pipeline ${deliveredPerS} delivered/s = ${Math.round((deliveredPerS / noop) * 100)}% of it.`,
  );
  const p99Verdict =
    at500 === undefined
      ? 'not run'
      : at500.p99_ms <= TARGET_P99_MS
        ? `met (${at500.p99_ms} ms)`
        : `MISSED (${at500.p99_ms} ms)`;
  const sustainedVerdict =
    maxRun === undefined
      ? 'not run'
      : deliveredPerS >= TARGET_PER_S
        ? `met (${deliveredPerS}/s)`
        : `MISSED (${deliveredPerS}/s)`;
  const cpuPerRow = maxRun?.cpu_ms_per_row['total'];
  const cpuVerdict =
    cpuPerRow === undefined
      ? 'not run'
      : cpuPerRow <= TARGET_CPU_MS
        ? `met (${cpuPerRow} ms)`
        : `MISSED (${cpuPerRow} ms)`;
  console.log(
    `targets: p99 ≤ ${TARGET_P99_MS} ms at 500/s: ${p99Verdict}; ` +
      `sustained ≥ ${TARGET_PER_S}/s: ${sustainedVerdict}; CPU ≤ ${TARGET_CPU_MS} ms per notification: ${cpuVerdict}`,
  );
  console.log(`what limits it: ${limits}`);

  const result = {
    bench: 'pipeline',
    at: new Date().toISOString(),
    delivered_per_s: deliveredPerS,
    bullmq_noop_per_s: noop,
    ratio_to_bullmq: Math.round((deliveredPerS / noop) * 1000) / 1000,
    p50_ms: at500?.p50_ms ?? null,
    p95_ms: at500?.p95_ms ?? null,
    p99_ms: at500?.p99_ms ?? null,
    latency_from: 'row created_at (PostgreSQL now() at insert) to Novu stand-in acceptedAt',
    targets: { p99_ms_at_500: TARGET_P99_MS, delivered_per_s: TARGET_PER_S, cpu_ms_per_notification: TARGET_CPU_MS },
    worker_concurrency: CONCURRENCY,
    thread_young_mb: Number(THREAD_YOUNG_MB),
    realtime_hosts: REALTIME_HOSTS,
    enterprises: ENTERPRISES,
    seconds_per_rate: SECONDS,
    max_backlog: MAX_BACKLOG,
    cpu_ms_per_row_max_run: maxRun?.cpu_ms_per_row['total'] ?? null,
    cpu_bound_estimate_per_s:
      maxRun === undefined || !(maxRun.cpu_ms_per_row['total'] ?? 0)
        ? null
        : Math.round((maxRun.cpu.capacityPct * 10) / (maxRun.cpu_ms_per_row['total'] as number)),
    bullmq_noop_runs: noopRuns,
    bullmq_daemon_options: noopOpts ?? null,
    runs: runs.map((r) => ({ ...r, rate: r.rate === 'max' ? 'max' : r.rate })),
    what_limits_it: limits,
    daemon_warnings: daemonWarnings,
    node: process.version,
  };
  const dir = fileURLToPath(new URL('../../../.bench/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}pipeline.json`, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`pipeline bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
