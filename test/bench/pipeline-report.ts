// Benchmark helper for pipeline.ts: the result types of one offered-rate run and the printed report — the table,
// per-stage latency, CPU by process and thread, CPU per row, and the "what limits it" reading of those numbers.
import type { CpuUse } from './cpu.js';

export type Rate = number | 'max';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2 === 1
      ? (s[(s.length - 1) / 2] as number)
      : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
/** nearest-rank percentile of a sorted array */
export const pctl = (sorted: number[], p: number): number =>
  sorted.length === 0
    ? NaN
    : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number);
export const r1 = (n: number) => Math.round(n * 10) / 10;

export interface StageLatency {
  /** rows whose job was read back */
  sampled: number;
  /**
   * The sampled rows' job records by "who enqueued it → what it returned" (e.g. "realtime→sent"). Only "…→sent"
   * records describe the delivery and feed the stage figures; a sweep that re-enqueued an already sent row replaces
   * the record under the same job id ("sweep→skipped").
   */
  origins: Record<string, number>;
  /** sampled delivering jobs that were started more than once (retry, or taken back after a lost lock) */
  retried: number;
  retried_examples: {
    jobId: string;
    attemptsStarted: number;
    attemptsMade: number;
    stalledCounter: number;
    failedReason: string | null;
  }[];
  /** created_at → producer's enqueue (the Realtime path: trigger, stand-in feed, WebSocket, enterprise actor) */
  commit_to_enqueue_ms: Percentiles;
  /** enqueue → a worker took the job (BullMQ wait) */
  queue_wait_ms: Percentiles;
  /** worker took the job → Novu stand-in receipt (pool hand-off, claim, HTTP) */
  active_to_novu_ms: Percentiles;
  /** Novu receipt → job finished (markSent, moveToFinished): not in the latency, but in the work per row */
  novu_to_finished_ms: Percentiles;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface RunResult {
  rate: Rate;
  seconds: number;
  rows: number;
  offered_per_s: number;
  delivered: number;
  /** receipts after the ramp-up second until the load stopped, per second */
  delivered_per_s: number;
  /** every row of the run / (last receipt − first insert) */
  overall_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
  drain_ms: number;
  not_delivered: number;
  duplicates: number;
  insert_errors: number;
  row_status: Record<string, number>;
  stages: StageLatency | undefined;
  cpu: CpuUse;
  /** CPU ms spent per delivered row during the load, by process (what one notification costs the machine) */
  cpu_ms_per_row: Record<string, number>;
  /** postgres_changes frames the Realtime stand-in sent to the daemon per row (INSERT + notifyd's own UPDATEs) */
  realtime_events_per_row: number;
  novu_requests_per_row: number;
  novu_tokens_per_row: number;
  /**
   * What our database's active backends were doing, % of samples (every 100 ms during the load): "on CPU", or the
   * wait event, e.g. "Lock:object" (the cluster-wide lock every NOTIFY-ing commit takes), "IO:WALSync" (commit fsync)
   */
  pg_waits_pct: Record<string, number>;
  /** triggers the Novu stand-in answered but did not deliver because the transactionId was already delivered */
  novu_ignored: number;
  /** event-loop delay of the bench process (load generator + both stand-ins) during the load: p99 and max, ms */
  bench_loop_delay_ms: { p99: number; max: number };
}

export function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: r1(pctl(s, 50)), p95: r1(pctl(s, 95)), p99: r1(pctl(s, 99)) };
}

export function pad(s: string | number, n: number): string {
  const t = String(s);
  return t.length >= n ? t : ' '.repeat(n - t.length) + t;
}

/** CPU of PostgreSQL backends connected to the bench's database (ours), % of one core */
export function pgOurs(c: CpuUse): number {
  return r1(
    Object.entries(c.groups)
      .filter(([k]) => k.startsWith('pg:'))
      .reduce((a, [, v]) => a + v, 0),
  );
}

/**
 * Machine CPU not attributed to the daemon, the bench process, Redis or our database's backends: mostly other
 * people's work on a shared machine, plus kernel time (loopback softirq) and connections that opened and closed
 * between two samples.
 */
export function othersPct(c: CpuUse): number {
  return Math.max(
    0,
    r1(c.machinePct - (c.groups['daemon'] ?? 0) - (c.groups['bench'] ?? 0) - (c.groups['redis'] ?? 0) - pgOurs(c)),
  );
}

export function cpuLine(c: CpuUse): string {
  const pg = Object.entries(c.groups)
    .filter(([k]) => k.startsWith('pg:'))
    .map(([k, v]) => `${k.slice(3)} ${v}`)
    .join(', ');
  const threads = Object.entries(c.threads['daemon'] ?? {})
    .slice(0, 6)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const bench = Object.entries(c.threads['bench'] ?? {})
    .slice(0, 3)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return (
    `machine ${c.machinePct}/${c.capacityPct}% | daemon ${c.groups['daemon']}% [${threads}] | ` +
    `bench+stand-ins ${c.groups['bench']}% [${bench}] | redis ${c.groups['redis']}% | ` +
    `pg (this db) ${pgOurs(c)}% [${pg}] | pg (every db) ${c.groups['pg (all, any database)']}% | ` +
    `unattributed ${othersPct(c)}%`
  );
}

/** The reading of the numbers: which resource ran out in the max run (or the slowest stage at 500/s). */
export function whatLimits(runs: RunResult[], noop: number, noopOthersPct: number): string {
  const parts: string[] = [];
  const max = runs.find((r) => r.rate === 'max') ?? runs.at(-1);
  if (max !== undefined) {
    const c = max.cpu;
    const others = othersPct(c);
    const busy = c.capacityPct > 0 ? c.machinePct / c.capacityPct : 0;
    const hot = [
      ...Object.entries(c.threads['daemon'] ?? {}).map(([t, v]) => [`daemon ${t}`, v] as const),
      ...Object.entries(c.threads['bench'] ?? {}).map(([t, v]) => [`bench ${t}`, v] as const),
      ['redis', c.groups['redis'] ?? 0] as const,
    ].sort((a, b) => b[1] - a[1]);
    const top = hot[0];
    const consumers = [
      ['daemon', c.groups['daemon'] ?? 0],
      ['bench process (load + Realtime/Novu stand-ins)', c.groups['bench'] ?? 0],
      ['PostgreSQL (this db)', pgOurs(c)],
      ['Redis', c.groups['redis'] ?? 0],
      ["unattributed (other people's tests on the shared machine, kernel network work)", others],
    ] as const;
    const list = [...consumers]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}%`)
      .join(', ');
    if (busy >= 0.85)
      parts.push(`max run is CPU-bound: the machine was ${c.machinePct}% of ${c.capacityPct}% busy (${list})`);
    else parts.push(`max run used ${c.machinePct}% of ${c.capacityPct}% CPU (${list})`);
    if (top !== undefined && top[1] >= 85) parts.push(`one thread is saturated: ${top[0]} at ${top[1]}% of a core`);
    else if (top !== undefined) parts.push(`hottest thread ${top[0]} at ${top[1]}% of a core`);
    const per = max.cpu_ms_per_row;
    const total = per['total'] ?? NaN;
    if (Number.isFinite(total) && total > 0) {
      parts.push(
        `one notification costs ${total} ms of CPU (daemon ${per['daemon']}, ` +
          `PostgreSQL ${per['postgres (this db)']}, bench process with both stand-ins ${per['bench process']}, ` +
          `Redis ${per['redis']}), so ${c.capacityPct / 100} cores cap the pipeline near ` +
          `${Math.round((c.capacityPct * 10) / total)} rows/s even with no other work on the machine`,
      );
    }
    const w = max.pg_waits_pct;
    const notifyLock = w['Lock:object'] ?? 0;
    const wal = (w['IO:WALSync'] ?? 0) + (w['LWLock:WALWrite'] ?? 0) + (w['IO:WALWrite'] ?? 0);
    if (notifyLock + wal >= 20) {
      parts.push(
        `PostgreSQL commits are serialized: ${notifyLock}% of active-backend samples wait on Lock:object ` +
          '(the cluster-wide NOTIFY commit lock, ' +
          "taken because the Realtime stand-in's capture trigger NOTIFYs on every row change) " +
          `and ${r1(wal)}% on the WAL flush`,
      );
    }
    parts.push(
      `delivered/s is ${Math.round((max.delivered_per_s / noop) * 100)}% of BullMQ's no-op ceiling ` +
        `(${noop}/s, measured before the daemon started, other work meanwhile ${noopOthersPct}% of a core)`,
    );
  }
  const mid = runs.find((r) => r.rate === 500);
  if (mid?.stages !== undefined) {
    const s = mid.stages;
    const stages = [
      ['Realtime path (created_at → enqueue)', s.commit_to_enqueue_ms.p99],
      ['queue wait', s.queue_wait_ms.p99],
      ['worker → Novu receipt', s.active_to_novu_ms.p99],
    ] as const;
    const worst = [...stages].sort((a, b) => b[1] - a[1])[0];
    if (worst !== undefined) {
      const behind = mid.delivered_per_s < 0.95 * mid.offered_per_s;
      parts.push(
        behind
          ? `at 500/s the pipeline delivers only ${mid.delivered_per_s}/s, so rows queue up ` +
              `and the latency is mostly ${worst[0]} (p99 ${worst[1]} ms)`
          : `at 500/s the largest p99 stage is ${worst[0]} ${worst[1]} ms`,
      );
    }
  }
  return parts.join('; ');
}

/** Prints everything but the verdict lines and the JSON (the caller prints those). */
export function printReport(runs: RunResult[], opts: { rampMs: number; maxBacklog: number }): void {
  console.log('');
  console.log(
    "latency = Novu stand-in receipt (Delivery.acceptedAt) − the row's created_at " +
      '(PostgreSQL now() at insert, i.e. the',
  );
  console.log(
    "inserting transaction's start, a few ms before its commit; both clocks are this machine's). delivered/s counts",
  );
  console.log(
    `receipts from ${opts.rampMs / 1000} s after the load starts until it stops; ` +
      `"max" keeps ${opts.maxBacklog} rows in flight.`,
  );
  console.log('');
  const head = [
    'offered',
    'rows/s in',
    'delivered/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
    'drain ms',
    'lost',
    'dup',
    'daemon%',
    'bench%',
    'pg%',
    'redis%',
    'others%',
    'machine%',
  ];
  const widths = [8, 10, 12, 8, 8, 8, 8, 9, 5, 4, 8, 7, 5, 7, 8, 10];
  const line = (cells: (string | number)[]) => cells.map((c, i) => pad(c, widths[i] ?? 8)).join(' ');
  console.log(line(head));
  for (const r of runs) {
    console.log(
      line([
        r.rate === 'max' ? 'max' : `${r.rate}/s`,
        r.offered_per_s,
        r.delivered_per_s,
        r.p50_ms,
        r.p95_ms,
        r.p99_ms,
        r.max_ms,
        r.drain_ms,
        r.not_delivered,
        r.duplicates,
        r.cpu.groups['daemon'] ?? 0,
        r.cpu.groups['bench'] ?? 0,
        pgOurs(r.cpu),
        r.cpu.groups['redis'] ?? 0,
        othersPct(r.cpu),
        `${r.cpu.machinePct}/${r.cpu.capacityPct}`,
      ]),
    );
  }
  console.log(
    "(CPU columns: % of one core during the load; pg = backends of the bench's database; " +
      'others = CPU not attributed to',
  );
  console.log(
    "these: other people's work on the shared machine, kernel time for loopback traffic, " +
      'connections that came and went)',
  );
  console.log('');
  console.log(
    'per-stage p50/p99 ms (sampled rows, from the BullMQ job records): ' +
      'created→enqueue | queue wait | worker→Novu | Novu→job finished',
  );
  for (const r of runs) {
    const s = r.stages;
    if (s === undefined) continue;
    const f = (p: Percentiles) => `${p.p50}/${p.p99}`;
    const rate = pad(r.rate === 'max' ? 'max' : `${r.rate}/s`, 7);
    const origins = Object.entries(s.origins)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(
      `  ${rate}: ${f(s.commit_to_enqueue_ms)} | ${f(s.queue_wait_ms)} | ` +
        `${f(s.active_to_novu_ms)} | ${f(s.novu_to_finished_ms)}` +
        `  (${s.sampled} rows; job records by origin→result: ${origins}; ${s.retried} retried; ` +
        `Novu ignored ${r.novu_ignored} repeated triggers; ${r.realtime_events_per_row} Realtime events per row)`,
    );
    console.log(
      `           per row: ${r.realtime_events_per_row} Realtime messages, ${r.novu_requests_per_row} Novu ` +
        `requests, ${r.novu_tokens_per_row} Novu tokens`,
    );
  }
  console.log('');
  console.log('CPU during the load, % of one core:');
  for (const r of runs) console.log(`  ${pad(r.rate === 'max' ? 'max' : `${r.rate}/s`, 7)}: ${cpuLine(r.cpu)}`);
  console.log('CPU ms per delivered row (load window; PostgreSQL backends by application: bench = inserts,');
  console.log("notifyd-pool = claim/markSent; realtime-standin-wal = the stand-in's WAL sender decoding,");
  console.log('realtime-standin = what it renders in PostgreSQL):');
  for (const r of runs) {
    console.log(
      `  ${pad(r.rate === 'max' ? 'max' : `${r.rate}/s`, 7)}: ${Object.entries(r.cpu_ms_per_row)
        .filter(([, v]) => v >= 0.01)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}` +
        ` | bench event loop delay p99 ${r.bench_loop_delay_ms.p99} ms, max ${r.bench_loop_delay_ms.max} ms`,
    );
  }
  console.log(
    'PostgreSQL (this db) active backends, % of samples: ' +
      'on CPU or waiting on (Lock:object = the cluster-wide lock every',
  );
  console.log(
    'NOTIFY-ing commit holds through its WAL flush; ' +
      "the Realtime stand-in's capture trigger NOTIFYs on every row change):",
  );
  for (const r of runs)
    console.log(
      `  ${pad(r.rate === 'max' ? 'max' : `${r.rate}/s`, 7)}: ${Object.entries(r.pg_waits_pct)
        .slice(0, 6)
        .map(([k, v]) => `${k} ${v}%`)
        .join(', ')}`,
    );
  console.log('');
}
