// An OTP-style supervisor for the main thread: starts children (thread hosts, nested supervisors, anything
// with a ChildSpec) in order, restarts them by strategy and restart type, escalates past its intensity, and
// stops them in reverse start order with per-child budgets under a global deadline.
//
// State machine (supervisor)
//   idle|stopped|failed ──start()──► starting: static children one by one, in order
//   starting ──all started──► running          starting ──a child fails to start──► stops the started ones
//                                                (reverse order) ──► failed; start() rejects
//   running ──child exit──► not restarted (temporary; transient after normal/shutdown) or restart:
//              one_for_one: that child; rest_for_one: stop the children started after it (reverse order),
//              then restart it and them in order. Each restart is recorded in the intensity window first.
//   running ──more than `intensity` restarts in `periodMs`──► escalating: stop all (reverse) ──► failed
//              (`exited` resolves with a crash SUPERVISOR_INTENSITY_EXCEEDED: the parent or owner decides)
//   any ──stop({deadlineMs})──► stopping: reverse start order, each child min(shutdownMs, time left), then
//              kill; at the deadline every child left is killed ──► stopped
// Child states: starting → running → (restarting: waiting its backoff) → stopping → stopped.
// A stop the supervisor asked for is recorded on the child first, so that exit never triggers a restart.
import { EventEmitter } from 'node:events';
import { describeError, Errors, notifydError, toError } from '../errors.js';
import { rootLog, type Logger } from '../log/logger.js';
import { BackoffTracker } from './backoff.js';
import { RestartWindow } from './intensity.js';
import type {
  BackoffPolicy,
  ChildExit,
  ChildInfo,
  ChildRun,
  ChildSpec,
  ChildState,
  ChildType,
  RestartType,
  StopReport,
  Strategy,
  SupervisorState,
} from './types.js';

export type { ChildInfo, ChildState, StopReport, Strategy, SupervisorState } from './types.js';
import { deferred, kTimedOut, mapLimit, now, safeEmit, within, type Deferred } from './util.js';

export interface SupervisorOptions {
  id: string;
  /** @defaultValue 'one_for_one' */
  strategy?: Strategy;
  /** Restarts tolerated per period before escalating; Infinity never escalates. @defaultValue 3 */
  intensity?: number;
  /** @defaultValue 5000 (ms) */
  periodMs?: number;
  /** Delay before restarts; null restarts at once (OTP). A child spec may override. @defaultValue null */
  backoff?: Partial<BackoffPolicy> | null;
  /** Static children, started in this order at start(). */
  children?: ChildSpec[];
  /** @defaultValue Infinity */
  maxChildren?: number;
  /** Deadline for the stop that follows an escalation. @defaultValue 25000 (ms) */
  escalationDeadlineMs?: number;
  log?: Logger;
}

interface Entry {
  spec: ChildSpec & { restart: RestartType; shutdownMs: number; type: ChildType };
  dynamic: boolean;
  state: ChildState;
  run: ChildRun | undefined;
  starting: Promise<void> | undefined;
  abort: AbortController | undefined;
  timer: NodeJS.Timeout | undefined;
  backoff: BackoffTracker | undefined;
  restarts: number;
  stopRequested: boolean;
  killOnStart: boolean;
}

const KILL_GRACE_MS = 50;

export class Supervisor extends EventEmitter {
  readonly id: string;
  readonly log: Logger;
  readonly #opts: SupervisorOptions;
  #entries: Entry[] = [];
  #state: SupervisorState = 'idle';
  #window: RestartWindow;
  #lock: Promise<void> = Promise.resolve();
  #exit: Deferred<ChildExit> = deferred<ChildExit>();
  #stopping: Promise<StopReport> | undefined;
  #escalation: Promise<StopReport> | undefined;

  constructor(opts: SupervisorOptions) {
    super();
    if (typeof opts.id !== 'string' || opts.id.length === 0) {
      throw notifydError(Errors.RUNTIME_OPTION_INVALID, 'Supervisor options.id must be a non-empty string');
    }
    this.id = opts.id;
    this.#opts = opts;
    this.log = (opts.log ?? rootLog()).child({ component: 'supervisor', supervisor: opts.id });
    this.#window = new RestartWindow({ intensity: opts.intensity ?? 3, periodMs: opts.periodMs ?? 5_000 });
    const seen = new Set<string>();
    for (const spec of opts.children ?? []) {
      if (seen.has(spec.id))
        throw notifydError(Errors.SUPERVISOR_CHILD_EXISTS, 'child', spec.id, `${opts.id} (listed twice)`);
      seen.add(spec.id);
    }
  }

  get state(): SupervisorState {
    return this.#state;
  }

  /** Resolves when the current run ends: `shutdown` after stop(), `crash` after an escalation. */
  get exited(): Promise<ChildExit> {
    return this.#exit.promise;
  }

  children(): ChildInfo[] {
    return this.#entries.map((e) => ({
      id: e.spec.id,
      type: e.spec.type,
      restart: e.spec.restart,
      state: e.state,
      restarts: e.restarts,
      thread: e.run?.thread,
    }));
  }

  /** Starts the static children in order. Restartable after stop() or an escalation (a fresh run). */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#state !== 'idle' && this.#state !== 'stopped' && this.#state !== 'failed') {
      throw notifydError(Errors.SUPERVISOR_START_FAILED, this.id, `is ${this.#state}`);
    }
    this.#state = 'starting';
    this.#stopping = undefined;
    this.#escalation = undefined;
    if (this.#exit.settled) this.#exit = deferred<ChildExit>();
    this.#window.reset();
    this.#entries = (this.#opts.children ?? []).map((spec) => this.#entry(spec, false));
    const onAbort = (): void => void this.stop({ reason: 'start aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.#locked(async () => {
        for (const entry of this.#entries) {
          if (this.#state !== 'starting') break;
          await this.#startEntry(entry);
        }
      });
    } catch (err) {
      if (this.#state !== 'starting') {
        throw notifydError(Errors.SUPERVISOR_STOPPED, this.id, 'was stopped while starting', { cause: err });
      }
      this.log.error(
        { event: 'supervisor_start_failed', err: describeError(err) },
        'a child failed to start; stopping the others',
      );
      await this.#stopAll('start failed', this.#opts.escalationDeadlineMs ?? 25_000);
      this.#finish('failed', { reason: 'crash', error: toError(err) });
      throw notifydError(Errors.SUPERVISOR_START_FAILED, this.id, `failed to start: ${describeError(err)}`, {
        cause: err,
      });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (this.#state !== 'starting')
      throw notifydError(Errors.SUPERVISOR_STOPPED, this.id, 'was stopped while starting');
    this.#state = 'running';
    this.log.info({ event: 'supervisor_started', children: this.#entries.length }, 'supervisor started');
  }

  /** Adds and starts a dynamic child (appended to the start order). */
  async startChild(spec: ChildSpec): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') {
      throw notifydError(Errors.SUPERVISOR_STOPPED, this.id, `is ${this.#state}`);
    }
    if (this.#entries.some((e) => e.spec.id === spec.id))
      throw notifydError(Errors.SUPERVISOR_CHILD_EXISTS, 'child', spec.id, this.id);
    const max = this.#opts.maxChildren ?? Infinity;
    if (this.#entries.length >= max) throw notifydError(Errors.SUPERVISOR_MAX_CHILDREN, this.id, max);
    const entry = this.#entry(spec, true);
    this.#entries.push(entry);
    try {
      await this.#startEntry(entry);
    } catch (err) {
      this.#entries = this.#entries.filter((e) => e !== entry);
      throw err;
    }
  }

  /** Starts many dynamic children, at most `concurrency` at once; one result per spec, in order. */
  startChildren(specs: ChildSpec[], concurrency = 4): Promise<PromiseSettledResult<void>[]> {
    return mapLimit(specs, concurrency, (spec) =>
      this.startChild(spec).then(
        (value): PromiseSettledResult<void> => ({ status: 'fulfilled', value }),
        (reason: unknown): PromiseSettledResult<void> => ({ status: 'rejected', reason }),
      ),
    );
  }

  /** Stops a child (within its shutdownMs, then kill) and removes it. */
  async terminateChild(id: string): Promise<void> {
    const entry = this.#entries.find((e) => e.spec.id === id);
    if (entry === undefined) throw notifydError(Errors.ACTOR_NOT_FOUND, 'child', id, this.id);
    await this.#stopEntry(entry, entry.spec.shutdownMs, 'terminated');
    this.#entries = this.#entries.filter((e) => e !== entry);
  }

  /** Ordered stop: reverse start order, each child within min(shutdownMs, time left), then kill. Idempotent. */
  stop(opts: { deadlineMs?: number; reason?: string } = {}): Promise<StopReport> {
    if (this.#state === 'idle' || this.#state === 'stopped' || this.#state === 'failed') {
      return this.#stopping ?? this.#escalation ?? Promise.resolve({ order: [], killed: [], timedOut: false });
    }
    if (this.#state === 'escalating' && this.#escalation !== undefined) return this.#escalation;
    this.#stopping ??= (async () => {
      this.#state = 'stopping';
      const report = await this.#stopAll(opts.reason ?? 'shutdown', opts.deadlineMs ?? Infinity);
      this.#finish('stopped', { reason: 'shutdown' });
      return report;
    })();
    return this.#stopping;
  }

  /** Kills every child at once (brutal_kill). */
  async kill(): Promise<void> {
    if (this.#state === 'idle' || this.#state === 'stopped' || this.#state === 'failed') return;
    this.#state = 'stopping';
    await Promise.all(this.#entries.map((e) => this.#stopEntry(e, 0, 'killed')));
    this.#finish('stopped', { reason: 'shutdown' });
  }

  /** This supervisor as a child of another: type `supervisor`, stop budget = the parent's time left. */
  asChild(overrides: Partial<Omit<ChildSpec, 'id' | 'start'>> = {}): ChildSpec {
    return {
      id: this.id,
      type: 'supervisor',
      restart: 'permanent',
      shutdownMs: Infinity,
      ...overrides,
      start: async (ctx) => {
        await this.start(ctx.signal);
        const exited = this.exited;
        return {
          exited,
          stop: async (reason, timeoutMs) => void (await this.stop({ reason, deadlineMs: timeoutMs })),
          kill: () => this.kill(),
        };
      },
    };
  }

  // ---- internals -------------------------------------------------------------------------------------------

  #entry(spec: ChildSpec, dynamic: boolean): Entry {
    const type = spec.type ?? 'worker';
    const policy = spec.backoff !== undefined ? spec.backoff : (this.#opts.backoff ?? null);
    return {
      spec: {
        ...spec,
        type,
        restart: spec.restart ?? 'permanent',
        shutdownMs: spec.shutdownMs ?? (type === 'supervisor' ? Infinity : 5_000),
      },
      dynamic,
      state: 'stopped',
      run: undefined,
      starting: undefined,
      abort: undefined,
      timer: undefined,
      backoff: policy === null ? undefined : new BackoffTracker(policy),
      restarts: 0,
      stopRequested: false,
      killOnStart: false,
    };
  }

  #locked(fn: () => Promise<void>): Promise<void> {
    const next = this.#lock.then(fn);
    this.#lock = next.catch(() => undefined);
    return next;
  }

  async #startEntry(entry: Entry): Promise<void> {
    const abort = new AbortController();
    entry.abort = abort;
    entry.state = 'starting';
    entry.stopRequested = false;
    entry.killOnStart = false;
    let settled!: () => void;
    entry.starting = new Promise<void>((resolve) => (settled = resolve)); // set before start() runs any code
    try {
      const run = await entry.spec.start({ signal: abort.signal });
      entry.run = run;
      void run.exited.then((exit) => this.#onExit(entry, run, exit));
      if (entry.killOnStart) void run.kill(); // its stop gave up waiting for this start
    } catch (err) {
      entry.state = 'stopped';
      const aborted = entry.stopRequested || abort.signal.aborted;
      this.log[aborted ? 'info' : 'error'](
        {
          event: 'child_start_failed',
          error_context: 'start_error',
          offender: entry.spec.id,
          reason: describeError(err),
        },
        aborted ? 'child start abandoned by a stop' : 'child failed to start',
      );
      throw err;
    } finally {
      settled();
      entry.starting = undefined;
      entry.abort = undefined;
    }
    // a stop (the stop path ends the run) or an exit (#onExit handles it) came in meanwhile
    if (entry.stopRequested || entry.state !== 'starting' || this.#state === 'stopping' || this.#state === 'escalating')
      return;
    entry.state = 'running';
    entry.backoff?.started(now());
    safeEmit(this, this.log, 'child:started', {
      id: entry.spec.id,
      thread: entry.run?.thread,
      restarts: entry.restarts,
    });
  }

  #onExit(entry: Entry, run: ChildRun, exit: ChildExit): void {
    if (entry.run !== run) return;
    entry.run = undefined;
    safeEmit(this, this.log, 'child:exited', { id: entry.spec.id, ...exit });
    if (
      entry.stopRequested ||
      this.#state === 'stopping' ||
      this.#state === 'escalating' ||
      this.#state === 'stopped' ||
      this.#state === 'failed'
    ) {
      entry.state = 'stopped';
      return;
    }
    const level = exit.reason === 'crash' ? 'error' : 'info';
    this.log[level](
      {
        event: 'child_exit',
        error_context: 'child_terminated',
        offender: entry.spec.id,
        reason: exit.reason,
        err: exit.error === undefined ? undefined : describeError(exit.error),
      },
      'child exited',
    );
    const restart =
      entry.spec.restart === 'permanent' || (entry.spec.restart === 'transient' && exit.reason === 'crash');
    if (!restart) {
      entry.state = 'stopped';
      if (entry.dynamic) this.#entries = this.#entries.filter((e) => e !== entry);
      return;
    }
    entry.state = 'restarting';
    void this.#locked(() => this.#restartFrom(entry)).catch((err: unknown) =>
      this.log.error({ event: 'restart_failed', err: describeError(err) }, 'restart handling failed'),
    );
  }

  /** Records the restart, escalates past the intensity, else restarts by strategy (after the backoff). */
  async #restartFrom(entry: Entry): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    if (!this.#entries.includes(entry) || entry.stopRequested) return;
    if (this.#window.record(now())) {
      await this.#escalate(entry);
      return;
    }
    let targets = [entry];
    if ((this.#opts.strategy ?? 'one_for_one') === 'rest_for_one') {
      const later = this.#entries
        .slice(this.#entries.indexOf(entry) + 1)
        .filter((e) => e.state !== 'stopped' || e.run !== undefined);
      for (const e of [...later].reverse()) {
        await this.#stopEntry(e, e.spec.shutdownMs, 'rest_for_one');
        e.stopRequested = false;
      }
      for (const e of later.filter((x) => x.spec.restart === 'temporary'))
        this.#entries = this.#entries.filter((x) => x !== e);
      targets = [entry, ...later.filter((e) => e.spec.restart !== 'temporary')];
    }
    const delayMs = entry.backoff?.failed(now()).delayMs ?? 0;
    for (const t of targets) t.state = 'restarting';
    entry.restarts += 1;
    safeEmit(this, this.log, 'child:restarting', {
      id: entry.spec.id,
      delayMs,
      restarts: entry.restarts,
      with: targets.slice(1).map((t) => t.spec.id),
    });
    this.log.info(
      { event: 'child_restart_scheduled', offender: entry.spec.id, delay_ms: delayMs, restarts: entry.restarts },
      'child restart scheduled',
    );
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.#locked(async () => {
        for (const t of targets) {
          if (this.#state !== 'running' && this.#state !== 'starting') return;
          if (t.state !== 'restarting' || !this.#entries.includes(t)) continue;
          try {
            await this.#startEntry(t);
          } catch {
            t.state = 'restarting';
            void this.#locked(() => this.#restartFrom(t));
            return;
          }
        }
      });
    }, delayMs);
  }

  async #escalate(offender: Entry): Promise<void> {
    this.#state = 'escalating';
    const policy = this.#window.policy;
    const error = notifydError(
      Errors.SUPERVISOR_INTENSITY_EXCEEDED,
      this.id,
      policy.intensity + 1,
      policy.periodMs,
      policy.intensity,
      offender.spec.id,
      { details: { supervisor: this.id, offender: offender.spec.id } },
    );
    this.log.error(
      {
        event: 'intensity_exceeded',
        error_context: 'shutdown',
        offender: offender.spec.id,
        reason: 'reached_max_restart_intensity',
      },
      'restart intensity exceeded; stopping all children',
    );
    safeEmit(this, this.log, 'intensity-exceeded', { id: this.id, offender: offender.spec.id });
    this.#escalation = this.#stopAll('shutdown', this.#opts.escalationDeadlineMs ?? 25_000);
    await this.#escalation;
    this.#finish('failed', { reason: 'crash', error });
  }

  async #stopAll(reason: string, deadlineMs: number): Promise<StopReport> {
    const deadline = now() + deadlineMs;
    const report: StopReport = { order: [], killed: [], timedOut: false };
    for (const e of this.#entries) {
      clearTimeout(e.timer);
      e.timer = undefined;
      e.abort?.abort(new Error(reason));
    }
    for (const entry of [...this.#entries].reverse()) {
      if (entry.run === undefined && entry.starting === undefined) {
        entry.state = 'stopped';
        continue;
      }
      const left = deadline - now();
      if (left <= 0) {
        report.timedOut = true;
        break;
      }
      const how = await this.#stopEntry(entry, Math.min(entry.spec.shutdownMs, left), reason);
      report.order.push(entry.spec.id);
      if (how === 'killed') report.killed.push(entry.spec.id);
    }
    if (report.timedOut) {
      const rest = this.#entries.filter((e) => e.run !== undefined || e.starting !== undefined);
      this.log.error(
        { event: 'stop_deadline', children: rest.map((e) => e.spec.id) },
        'stop deadline passed; killing the children left',
      );
      await Promise.all(
        [...rest].reverse().map(async (e) => {
          await this.#stopEntry(e, 0, reason);
          report.order.push(e.spec.id);
          report.killed.push(e.spec.id);
        }),
      );
    }
    return report;
  }

  /** Stops one child within `budgetMs` (0 = kill at once). The stop is recorded before it happens. */
  async #stopEntry(entry: Entry, budgetMs: number, reason: string): Promise<'graceful' | 'killed' | 'none'> {
    entry.stopRequested = true;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.abort?.abort(new Error(reason));
    const t0 = now();
    if (entry.run === undefined && entry.starting !== undefined) await within(entry.starting, budgetMs);
    const run = entry.run;
    if (run === undefined) {
      if (entry.starting !== undefined) entry.killOnStart = true;
      entry.state = 'stopped';
      return 'none';
    }
    entry.state = 'stopping';
    safeEmit(this, this.log, 'child:stopping', { id: entry.spec.id, budgetMs });
    const left = Math.max(0, budgetMs - (now() - t0));
    let how: 'graceful' | 'killed' = 'graceful';
    if (left === 0) {
      how = 'killed';
      await run.kill();
    } else {
      void run.stop(reason, left).catch(() => undefined);
      if ((await within(run.exited, left + KILL_GRACE_MS)) === kTimedOut) await run.kill();
      if (now() - t0 >= budgetMs) how = 'killed';
    }
    await within(run.exited, 5_000);
    entry.run = undefined;
    entry.state = 'stopped';
    const ms = Math.round(now() - t0);
    this.log[how === 'killed' ? 'warn' : 'info'](
      { event: 'child_stopped', offender: entry.spec.id, how, ms },
      how === 'killed' ? 'child killed after its stop budget' : 'child stopped',
    );
    safeEmit(this, this.log, 'child:stopped', { id: entry.spec.id, how, ms });
    return how;
  }

  #finish(state: 'stopped' | 'failed', exit: ChildExit): void {
    this.#state = state;
    safeEmit(this, this.log, state === 'failed' ? 'failed' : 'stopped', exit);
    this.#exit.resolve(exit);
  }
}
