// One incarnation of a host thread, seen from the parent: the Worker, its heartbeats, hang detection, the
// stop the parent asked for, and how its exit is classified. ThreadHost (thread-host.ts) makes one per start.
//
// State machine
//   booting ──'ready'─────────────────────────► serving   (hang detection starts)
//   booting ──stop()/kill()/abort────────────► exited    terminate() before 'online' exits 0: intent says shutdown
//   booting ──no 'ready' in startTimeoutMs───► exited    crash HOST_START_FAILED
//   serving ──stop(reason, ms)───────────────► stopping  posts `shutdown`; after ms, terminate()
//   serving ──no heartbeat for missed×period─► hung ──terminate()──► exited crash HOST_UNRESPONSIVE
//   any     ──exit──────────────────────────► exited:
//              asked to stop → shutdown; hung → crash; 'error' event or `fatal` message → crash with it;
//              code 0 → normal; any other code → crash HOST_EXITED. The exit code alone never decides.
import { Worker, type ResourceLimits, type SHARE_ENV, type Transferable } from 'node:worker_threads';
import { describeError, Errors, notifydError, NotifydError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { deserializeError } from './mailbox.js';
import type { ChildExit, ChildRun, HostCommand, HostEvent, HostWorkerData } from './types.js';
import { deferred, kTimedOut, now, within, type Deferred } from './util.js';

export type RunState = 'booting' | 'serving' | 'stopping' | 'hung' | 'exited';

export interface HostRunOptions {
  workerData: HostWorkerData;
  heartbeatMs: number;
  missedHeartbeats: number;
  startTimeoutMs: number;
  resourceLimits?: ResourceLimits;
  env?: NodeJS.Dict<string> | typeof SHARE_ENV;
  execArgv?: string[];
  log: Logger;
  /** Everything the thread sends that is not a reply to a request. */
  onEvent(event: HostEvent): void;
}

/** Time left to the thread to exit after its actors had their share of a stop budget. */
const EXIT_MARGIN_MS = 250;
/** Wait for 'exit' after terminate(); terminate() normally takes a few ms. */
const KILL_WAIT_MS = 5_000;
const workerUrl = new URL('./host-worker.js', import.meta.url);

export class HostRun implements ChildRun {
  readonly worker: Worker;
  readonly exited: Promise<ChildExit>;
  readonly ready: Promise<void>;
  state: RunState = 'booting';
  heapUsed = 0;
  lastHeartbeat = now();
  readonly #opts: HostRunOptions;
  readonly #log: Logger;
  readonly #ready: Deferred<void>;
  readonly #exit = deferred<ChildExit>();
  readonly #pending = new Map<number, Deferred<HostEvent | undefined>>();
  #intent: 'none' | 'stop' | 'hung' = 'none';
  #error: Error | undefined;
  #stopping: Promise<void> | undefined;
  #startTimer: NodeJS.Timeout | undefined;
  #hangTimer: NodeJS.Timeout | undefined;

  constructor(opts: HostRunOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#ready = deferred<void>();
    this.ready = this.#ready.promise;
    this.ready.catch(() => undefined);
    this.exited = this.#exit.promise;
    const { hostId } = opts.workerData;
    this.worker = new Worker(workerUrl, {
      name: `notifyd:${hostId}`,
      workerData: opts.workerData,
      ...(opts.resourceLimits === undefined ? {} : { resourceLimits: opts.resourceLimits }),
      ...(opts.env === undefined ? {} : { env: opts.env }),
      ...(opts.execArgv === undefined ? {} : { execArgv: opts.execArgv }),
    });
    this.worker.on('message', (event: HostEvent) => this.#onMessage(event));
    this.worker.on('error', (err) => {
      this.#error ??= err;
      this.#log.error({ event: 'host_thread_error', err: describeError(err) }, 'host thread error');
    });
    this.worker.on('messageerror', (err) =>
      this.#log.error(
        { event: 'host_message_error', err: describeError(err) },
        'message from host thread could not be read',
      ),
    );
    this.worker.on('exit', (code) => this.#onExit(code));
    this.#startTimer = setTimeout(() => {
      if (this.state !== 'booting') return;
      this.#error = notifydError(Errors.HOST_START_FAILED, hostId, `thread not ready within ${opts.startTimeoutMs} ms`);
      this.#intent = 'hung';
      void this.worker.terminate();
    }, opts.startTimeoutMs);
  }

  get thread(): number {
    return this.worker.threadId;
  }

  /** Sends a command that the thread answers (`spawned`, `actor-stopped`, `metrics`); undefined if it exits first. */
  request(cmd: HostCommand & { req: number }, transfer: Transferable[] = []): Promise<HostEvent | undefined> {
    if (this.state === 'exited') return Promise.resolve(undefined);
    const d = deferred<HostEvent | undefined>();
    this.#pending.set(cmd.req, d);
    try {
      this.worker.postMessage(cmd, transfer);
    } catch (err) {
      this.#pending.delete(cmd.req);
      d.reject(err);
    }
    return d.promise;
  }

  /** Sends a command that needs no answer; false when the thread is gone or the value cannot be cloned. */
  send(cmd: HostCommand): boolean {
    if (this.state === 'exited') return false;
    try {
      this.worker.postMessage(cmd);
      return true;
    } catch {
      return false;
    }
  }

  stop(reason: string, timeoutMs: number): Promise<void> {
    this.#stopping ??= this.#stop(reason, timeoutMs);
    return this.#stopping;
  }

  async kill(): Promise<void> {
    if (this.state === 'exited') return;
    if (this.#intent === 'none') this.#intent = 'stop';
    await this.worker.terminate();
    await within(this.exited, KILL_WAIT_MS);
  }

  async #stop(reason: string, timeoutMs: number): Promise<void> {
    if (this.state === 'exited') return;
    if (this.#intent === 'none') this.#intent = 'stop';
    if (this.state === 'booting' || this.state === 'hung') {
      await this.kill();
      return;
    }
    this.state = 'stopping';
    const budget = Math.max(0, timeoutMs - Math.min(EXIT_MARGIN_MS, timeoutMs / 10));
    try {
      this.worker.postMessage({ t: 'shutdown', reason, timeoutMs: budget } satisfies HostCommand);
    } catch {
      /* the thread is going away anyway */
    }
    if ((await within(this.exited, timeoutMs)) === kTimedOut) {
      this.#log.warn(
        { event: 'host_stop_timeout', timeout_ms: timeoutMs },
        'host thread did not stop in time; terminating',
      );
      await this.kill();
    }
  }

  #onMessage(event: HostEvent): void {
    switch (event.t) {
      case 'ready':
        if (this.state !== 'booting') return;
        clearTimeout(this.#startTimer);
        this.state = 'serving';
        this.lastHeartbeat = now();
        this.#watchHeartbeats();
        this.#ready.resolve();
        return;
      case 'hb':
        this.lastHeartbeat = now();
        this.heapUsed = event.heapUsed;
        return;
      case 'fatal':
        this.#error ??= deserializeError(event.error);
        return;
      case 'spawned':
      case 'metrics':
      case 'actor-stopped': {
        const d = this.#pending.get(event.req);
        this.#pending.delete(event.req);
        d?.resolve(event);
        return;
      }
      default:
        this.#opts.onEvent(event);
    }
  }

  /** A tick that finds no heartbeat for missed × period declares the thread hung. A tick that itself ran
   * late (our own event loop was blocked) does not count: heartbeats may be waiting in the queue. */
  #watchHeartbeats(): void {
    const period = this.#opts.heartbeatMs;
    const limit = period * this.#opts.missedHeartbeats;
    let lastTick = now();
    this.#hangTimer = setInterval(() => {
      const t = now();
      const late = t - lastTick > period * 1.5;
      lastTick = t;
      if (late || this.state !== 'serving') return;
      const silentFor = t - this.lastHeartbeat;
      if (silentFor <= limit) return;
      this.state = 'hung';
      this.#intent = 'hung';
      this.#log.error(
        { event: 'host_hung', silent_ms: Math.round(silentFor), limit_ms: limit },
        'host thread missed its heartbeats; terminating',
      );
      void this.worker.terminate();
    }, period);
    this.#hangTimer.unref();
  }

  #onExit(code: number): void {
    clearTimeout(this.#startTimer);
    clearInterval(this.#hangTimer);
    const wasBooting = this.state === 'booting';
    this.state = 'exited';
    const { hostId } = this.#opts.workerData;
    let exit: ChildExit;
    if (this.#intent === 'stop') {
      exit = { reason: 'shutdown', exitCode: code };
    } else if (this.#intent === 'hung' && !(this.#error instanceof NotifydError)) {
      exit = {
        reason: 'crash',
        exitCode: code,
        error: notifydError(Errors.HOST_UNRESPONSIVE, hostId, this.#opts.missedHeartbeats),
      };
    } else if (this.#error !== undefined) {
      exit = { reason: 'crash', exitCode: code, error: this.#error };
    } else if (code === 0) {
      exit = { reason: 'normal', exitCode: code };
    } else {
      exit = {
        reason: 'crash',
        exitCode: code,
        error: notifydError(Errors.HOST_EXITED, hostId, code, { details: { exitCode: code } }),
      };
    }
    for (const d of this.#pending.values()) d.resolve(undefined);
    this.#pending.clear();
    if (wasBooting) {
      this.#ready.reject(
        notifydError(Errors.HOST_START_FAILED, hostId, `thread ended before it was ready (${exit.reason})`, {
          cause: exit.error,
        }),
      );
    }
    const level = exit.reason === 'crash' ? 'error' : 'info';
    this.#log[level](
      {
        event: 'host_exit',
        reason: exit.reason,
        exit_code: code,
        err: exit.error === undefined ? undefined : describeError(exit.error),
      },
      'host thread exited',
    );
    this.#exit.resolve(exit);
  }
}
