// The chaos harness: what every fault scenario shares — the chaos-friendly daemon environment, the rig (database,
// stand-ins, env), the daemon as a child process (ready = every enterprise `subscribed` in /health), and
// runScenario(): a hard time bound, and cleanups that run whatever happens. The load (load.ts) and the
// reconciliation (reconcile.ts) are re-exported from here, so a scenario imports one module.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { DaemonProcess } from '../../src/devstack/daemon-process.js';
import { startDaemonOnFreePort } from '../support/daemon-on-port.js';
import type { LocalRedisCluster } from '../support/redis-cluster.js';
import { startStack } from '../support/stack.js';
import type { NovuStandin } from '../../src/devstack/novu/types.js';
import type { RealtimeStandin } from '../../src/devstack/realtime/server.js';
import { within } from './infra.js';
import { ENTERPRISES } from './load.js';

export { deliveredAtLeast, ENTERPRISES, startLoad, type Load } from './load.js';
import { deliveredAtLeast, startLoad, type Load } from './load.js';
export { reconcile, settle, type Settlement } from './reconcile.js';

/** What the brief asks of the daemon under chaos: short locks, leases and sweeps so faults heal within seconds. */
export const CHAOS_ENV: Readonly<Record<string, string>> = Object.freeze({
  JOB_LOCK_MS: '5000',
  LEASE_MS: '10000',
  SWEEP_INTERVAL_MS: '2000',
  SUBSCRIPTION_HEARTBEAT_INTERVAL: '1000',
  SUBSCRIPTION_JOIN_TIMEOUT: '3000',
  SUBSCRIPTION_RECONNECT_DELAY: '200',
  DELIVERY_BACKOFF_MS: '200',
  DELIVERY_MAX_ATTEMPTS: '10',
  NOVU_TIMEOUT_MS: '1000',
  WORKER_CONCURRENCY: '16',
  DAEMON_LOG_LEVEL: 'warn',
  DAEMON_ENTERPRISE_IDS: ENTERPRISES.join(','),
});

export interface ScenarioResult {
  scenario: string;
  load: number;
  notifications: number;
  delivered: number;
  failed: number;
  /** rows the load's application cancelled (none of them may be delivered) */
  cancelled: number;
  failedReasons: Record<string, number>;
  lost: number;
  duplicates: number;
  /** Novu requests answered from its Idempotency-Key cache, plus triggers ignored for a repeated transactionId */
  absorbed: number;
  /** from the fault's end (or the restart) to the moment the last row settled; null if it never did */
  recoverMs: number | null;
  durationMs: number;
  boundMs: number;
  /** settled and reconciled within the scenario's bound, without an error */
  finished: boolean;
  notes: string[];
  problems: string[];
}

/** What one scenario measures; runScenario adds the name, duration and bound. */
export type Outcome = Omit<ScenarioResult, 'scenario' | 'load' | 'durationMs' | 'boundMs' | 'finished'> & {
  settled: boolean;
};

export interface ScenarioContext {
  readonly name: string;
  readonly load: number;
  /** aborted when the scenario's time bound is reached */
  readonly signal: AbortSignal;
  /** registers a cleanup; cleanups run last-in first-out after the scenario, even on failure or timeout */
  defer(fn: () => Promise<unknown> | unknown): void;
  note(text: string): void;
  /** progress for the operator (stderr in the CLI, silent in the tests) */
  progress(text: string): void;
}

export interface Scenario {
  /** short id used by CHAOS_SCENARIOS and in the table */
  name: string;
  /** the behaviour it proves (the test's name) */
  behaviour: string;
  /** hard bound for the scenario, setup included (cleanups run after it, each bounded by 40 s) */
  boundMs(load: number): number;
  /** the load this scenario always runs at, whatever the suite's (its issue names a size) */
  fixedLoad?: number;
  run(ctx: ScenarioContext): Promise<Outcome>;
}

const CLEANUP_BOUND_MS = 40_000;

/** The scenario's bound; CHAOS_BOUND_SCALE stretches (or shrinks) every bound, e.g. 2 on a much slower machine. */
export function effectiveBoundMs(scenario: Scenario, load: number): number {
  const scale = Number(process.env['CHAOS_BOUND_SCALE'] ?? 1);
  return Math.round(scenario.boundMs(load) * (Number.isFinite(scale) && scale > 0 ? scale : 1));
}

export async function runScenario(
  scenario: Scenario,
  suiteLoad: number,
  progress: (text: string) => void = () => undefined,
): Promise<ScenarioResult> {
  const load = scenario.fixedLoad ?? suiteLoad;
  const boundMs = effectiveBoundMs(scenario, load);
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const notes: string[] = [];
  let closed = false;
  const abort = new AbortController();
  const ctx: ScenarioContext = {
    name: scenario.name,
    load,
    signal: abort.signal,
    // a scenario still running after its bound must not leave anything behind: late cleanups run at once
    defer: (fn) => {
      if (closed)
        void Promise.resolve()
          .then(fn)
          .catch(() => undefined);
      else cleanups.push(fn);
    },
    note: (text) => {
      notes.push(text);
    },
    progress: (text) => progress(`[${scenario.name}] ${text}`),
  };
  const started = Date.now();
  let outcome: Outcome | 'timeout' | Error;
  // After a timeout the scenario keeps running against torn-down resources: its later failure is expected.
  const running = scenario.run(ctx);
  running.catch(() => undefined);
  try {
    outcome = (await within(running, boundMs)) ?? 'timeout';
  } catch (err) {
    outcome = err instanceof Error ? err : new Error(String(err));
  } finally {
    abort.abort();
    closed = true;
  }
  for (const fn of cleanups.reverse()) {
    try {
      await within(Promise.resolve().then(fn), CLEANUP_BOUND_MS);
    } catch (err) {
      notes.push(`cleanup failed: ${String(err)}`);
    }
  }
  const durationMs = Date.now() - started;
  const base = { scenario: scenario.name, load, durationMs, boundMs };
  if (outcome === 'timeout' || outcome instanceof Error) {
    const why =
      outcome === 'timeout'
        ? `did not finish within its bound of ${Math.round(boundMs / 1000)} s`
        : `error: ${outcome.message}`;
    return {
      ...base,
      notifications: 0,
      delivered: 0,
      failed: 0,
      cancelled: 0,
      failedReasons: {},
      lost: 0,
      duplicates: 0,
      absorbed: 0,
      recoverMs: null,
      finished: false,
      notes,
      problems: [why],
    };
  }
  const { settled, ...rest } = outcome;
  return { ...base, ...rest, notes: [...rest.notes, ...notes], finished: settled };
}

// ---------------------------------------------------------------------------------------------------- the rig

/** The outside world of one scenario: a database with the schema, the two stand-ins, and the daemon's env. */
export interface Rig {
  pool: pg.Pool;
  novu: NovuStandin;
  realtime: RealtimeStandin;
  env: Record<string, string>;
}

/**
 * A fresh database on the shared PostgreSQL, the stand-ins, a private BullMQ prefix (startStack, no daemon); on
 * `redisCluster` when given (a {hash tag} prefix there).
 */
export async function standardRig(
  ctx: ScenarioContext,
  env: Record<string, string> = {},
  enterprises: readonly string[] = ENTERPRISES,
  redisCluster?: LocalRedisCluster,
): Promise<Rig> {
  const stack = await startStack({
    enterprises: [...enterprises],
    startDaemon: false,
    env: { ...CHAOS_ENV, ...env },
    ...(redisCluster === undefined ? {} : { redisCluster }),
  });
  ctx.defer(() => stack.stop());
  return { pool: stack.pool, novu: stack.novu, realtime: stack.realtime, env: stack.env };
}

// ---------------------------------------------------------------------------------------------------- daemons

export interface Daemon extends DaemonProcess {
  readonly healthUrl: string;
  readonly startedAt: number;
}

/** Starts `node dist/supervisor.js` with the rig's env (plus extra), on a free health port; killed at cleanup. */
export async function startDaemon(ctx: ScenarioContext, rig: Rig, extra: Record<string, string> = {}): Promise<Daemon> {
  if (ctx.signal.aborted) throw new Error('scenario over: not starting a daemon');
  // CHAOS_DAEMON_LOG_LEVEL (e.g. info) and CHAOS_DUMP_DIR (where each daemon's log lines are written) for diagnosis
  const level = process.env['CHAOS_DAEMON_LOG_LEVEL'];
  const { proc, port } = await startDaemonOnFreePort({
    ...rig.env,
    ...extra,
    ...(level ? { DAEMON_LOG_LEVEL: level } : {}),
  });
  const dumpDir = process.env['CHAOS_DUMP_DIR'];
  if (dumpDir) {
    ctx.defer(() =>
      writeFile(
        join(dumpDir, `${ctx.name}-${proc.child.pid ?? 'x'}.log`),
        `${proc.lines.join('\n')}\n${proc.stderr.join('')}`,
      ).catch(() => undefined),
    );
  }
  ctx.defer(async () => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.signal('SIGKILL');
    await within(proc.exited, 5000);
  });
  return Object.assign(proc, { healthUrl: `http://127.0.0.1:${port}/health`, startedAt: Date.now() });
}

export async function enterpriseStatus(d: Daemon): Promise<Record<string, string> | undefined> {
  try {
    const res = await fetch(d.healthUrl, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { enterprise_status?: Record<string, string> }).enterprise_status;
  } catch {
    return undefined;
  }
}

/** Resolves once /health shows every enterprise `subscribed`; rejects if the process exits or time runs out. */
export async function waitReady(d: Daemon, timeoutMs = 60_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (d.child.exitCode !== null)
      throw new Error(`daemon exited with ${d.child.exitCode} before it was ready\n${d.stderr.join('').slice(-2000)}`);
    const s = await enterpriseStatus(d);
    if (s !== undefined && ENTERPRISES.every((e) => s[e] === 'subscribed')) return Date.now();
    if (Date.now() > until)
      throw new Error(`daemon not ready within ${timeoutMs} ms: ${JSON.stringify(s)}\n${d.lines.slice(-5).join('\n')}`);
    await sleep(200);
  }
}

/** Resolves true once /health shows an enterprise that is not `subscribed` (false after timeoutMs). */
export async function waitNotReady(d: Daemon, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const s = await enterpriseStatus(d);
    if (s === undefined || ENTERPRISES.some((e) => s[e] !== 'subscribed')) return true;
    await sleep(50);
  }
  return false;
}

/** SIGTERM, bounded wait; SIGKILL if it hangs. Returns the exit code and how long it took. */
export async function stopDaemon(
  d: Daemon,
  timeoutMs = 35_000,
): Promise<{ code: number; ms: number; killed: boolean }> {
  const t0 = Date.now();
  if (d.child.exitCode !== null) return { code: d.child.exitCode, ms: 0, killed: false };
  d.signal('SIGTERM');
  const code = await within(d.exited, timeoutMs);
  if (code !== undefined) return { code, ms: Date.now() - t0, killed: false };
  d.signal('SIGKILL');
  return { code: await d.exited, ms: Date.now() - t0, killed: true };
}

/** Log lines (JSON) of a daemon whose `event` is one of these. */
export function events(d: DaemonProcess, ...names: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of d.lines) {
    if (!names.some((n) => line.includes(`"event":"${n}"`))) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
  }
  return out;
}

/** Load-proportional bound helper: fixed setup cost plus a per-notification allowance. */
export function bound(fixedS: number, perThousandS: number): (load: number) => number {
  return (load) => Math.round((fixedS + (perThousandS * load) / 1000) * 1000);
}

/**
 * The common opening of a fault scenario: the daemon is ready, the load is running, 40 % of it is committed and
 * at least `deliveredShare` of it (at most `deliveredCap`) has reached Novu — the fault then strikes mid-flight.
 */
export async function loadUntilMidFlight(
  ctx: ScenarioContext,
  rig: Rig,
  daemon: Daemon,
  deliveredShare: number,
  deliveredCap = Number.POSITIVE_INFINITY,
): Promise<Load> {
  return loadUntilMidFlightWith(ctx, rig, daemon, deliveredShare, {}, deliveredCap);
}

/** loadUntilMidFlight with the load's shape chosen (spread, batches, lifecycle edits). */
export async function loadUntilMidFlightWith(
  ctx: ScenarioContext,
  rig: Rig,
  daemon: Daemon,
  deliveredShare: number,
  shape: Omit<Parameters<typeof startLoad>[1], 'total' | 'signal'>,
  deliveredCap = Number.POSITIVE_INFINITY,
): Promise<Load> {
  await waitReady(daemon);
  const load = startLoad(rig.pool, { total: ctx.load, signal: ctx.signal, ...shape });
  await load.reached(0.4);
  await deliveredAtLeast(rig.novu, Math.min(deliveredCap, Math.ceil(ctx.load * deliveredShare)), 60_000, ctx.signal);
  return load;
}
