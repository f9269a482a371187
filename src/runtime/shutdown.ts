// Turns SIGTERM/SIGINT (and a root escalation) into the ordered stop of the tree and the process exit code.
// Signals are only seen by the main thread, so this is the one place that decides when the process ends.
//
// State machine
//   armed ──first signal / shutdown(reason)──► stopping: beforeStop hooks → root.stop(time left) →
//            afterStop hooks ──► exit(0)  (exit(1) if a step threw)
//   stopping ──global deadline (25 s)──► root.kill() ──► exit(1)
//   stopping ──second signal──► exit(1) at once
//   armed ──root escalated (its `exited` is a crash; it has stopped its children)──► afterStop hooks ──► exit(1)
// Signal source and exit function are injectable so tests drive all of this without killing the runner.
import { describeError, Errors, notifydError } from '../errors.js';
import { flushLogsSync, rootLog, type Logger } from '../log/logger.js';
import type { StopReport } from './supervisor.js';
import type { ChildExit } from './types.js';
import { kTimedOut, now, within } from './util.js';

export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** What the coordinator stops: a Supervisor fits. */
export interface StoppableRoot {
  stop(opts: { deadlineMs?: number; reason?: string }): Promise<StopReport | void>;
  kill(): Promise<void>;
  readonly exited?: Promise<ChildExit>;
}

export type ShutdownHook = (reason: string) => Promise<void> | void;

export interface ShutdownOptions {
  root: StoppableRoot;
  /** Global budget from the first signal to the exit. @defaultValue 25000 (ms) */
  deadlineMs?: number;
  /** @defaultValue ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[];
  /** @defaultValue process */
  source?: SignalSource;
  /** @defaultValue process.exit (after flushing the log) */
  exit?: (code: number) => void;
  /** Run in order before the tree stops (readiness → 503, the k8s shutdown delay...). */
  beforeStop?: ShutdownHook[];
  /** Run in order after the tree stopped (close the HTTP server, connections...). */
  afterStop?: ShutdownHook[];
  /** Exit code after a root escalation. @defaultValue 1 */
  escalationExitCode?: number;
  log?: Logger;
}

export class ShutdownCoordinator {
  readonly #opts: ShutdownOptions;
  readonly #log: Logger;
  readonly #source: SignalSource;
  readonly #signals: NodeJS.Signals[];
  #running: Promise<number> | undefined;
  #exited = false;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #installed = false;
  readonly #onSignal = (signal: NodeJS.Signals): void => this.#signal(signal);

  constructor(opts: ShutdownOptions) {
    this.#opts = opts;
    this.#log = (opts.log ?? rootLog()).child({ component: 'shutdown' });
    this.#source = opts.source ?? process;
    this.#signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  }

  /** True from the first signal (or shutdown() call) on: readiness should answer 503. */
  get shuttingDown(): boolean {
    return this.#running !== undefined;
  }

  /** Listens for the signals and for a root escalation. Idempotent. */
  install(): this {
    if (this.#installed) return this;
    this.#installed = true;
    for (const sig of this.#signals) this.#source.on(sig, this.#onSignal);
    void this.#opts.root.exited?.then((exit) => {
      if (exit.reason !== 'crash' || this.#running !== undefined) return;
      this.#running = this.#afterEscalation(exit);
    });
    return this;
  }

  /** Removes the signal listeners and the deadline timer (tests; after exit). */
  dispose(): void {
    for (const sig of this.#signals) this.#source.off(sig, this.#onSignal);
    clearTimeout(this.#deadlineTimer);
    this.#installed = false;
  }

  /** Starts the ordered stop (once); resolves with the exit code passed to exit(). */
  shutdown(reason: string): Promise<number> {
    this.#running ??= this.#shutdown(reason);
    return this.#running;
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#running === undefined) {
      this.#log.info({ event: 'shutdown_signal', signal }, 'signal received; stopping in order');
      void this.shutdown(`signal ${signal}`);
      return;
    }
    this.#log.warn({ event: 'shutdown_forced', signal }, 'second signal; exiting now');
    this.#exit(1);
  }

  async #shutdown(reason: string): Promise<number> {
    const budget = this.#opts.deadlineMs ?? 25_000;
    const deadline = now() + budget;
    const left = (): number => Math.max(0, deadline - now());
    const expired = new Promise<typeof kTimedOut>((resolve) => {
      this.#deadlineTimer = setTimeout(() => resolve(kTimedOut), budget);
    });
    const ordered = (async (): Promise<number> => {
      let code = 0;
      code = Math.max(code, await this.#hooks(this.#opts.beforeStop, reason, 'beforeStop'));
      try {
        const report = await this.#opts.root.stop({ deadlineMs: left(), reason });
        if (report?.timedOut === true) code = 1;
      } catch (err) {
        this.#log.error({ event: 'shutdown_stop_failed', err: describeError(err) }, 'stopping the tree failed');
        code = 1;
      }
      return Math.max(code, await this.#hooks(this.#opts.afterStop, reason, 'afterStop'));
    })();
    const outcome = await Promise.race([ordered, expired]);
    clearTimeout(this.#deadlineTimer);
    if (outcome === kTimedOut) {
      const err = notifydError(Errors.SHUTDOWN_TIMEOUT, budget);
      this.#log.error(
        { event: 'shutdown_deadline', err: describeError(err) },
        'shutdown deadline passed; terminating what is left',
      );
      await within(
        this.#opts.root.kill().catch(() => undefined),
        5_000,
      );
      this.#exit(1);
      return 1;
    }
    this.#log.info({ event: 'shutdown_complete', exit_code: outcome }, 'stopped in order');
    this.#exit(outcome);
    return outcome;
  }

  async #afterEscalation(exit: ChildExit): Promise<number> {
    const code = this.#opts.escalationExitCode ?? 1;
    this.#log.fatal({ event: 'root_escalated', err: describeError(exit.error) }, 'root supervisor gave up; exiting');
    await within(this.#hooks(this.#opts.afterStop, 'escalation', 'afterStop'), this.#opts.deadlineMs ?? 25_000);
    this.#exit(code);
    return code;
  }

  async #hooks(hooks: ShutdownHook[] | undefined, reason: string, phase: string): Promise<number> {
    let code = 0;
    for (const hook of hooks ?? []) {
      try {
        await hook(reason);
      } catch (err) {
        this.#log.error({ event: 'shutdown_hook_failed', phase, err: describeError(err) }, 'shutdown hook threw');
        code = 1;
      }
    }
    return code;
  }

  #exit(code: number): void {
    if (this.#exited) return;
    this.#exited = true;
    this.dispose();
    if (this.#opts.exit !== undefined) {
      this.#opts.exit(code);
      return;
    }
    flushLogsSync();
    process.exit(code);
  }
}
