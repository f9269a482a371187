// The parent side of a thread host: a supervisor child that runs a worker thread holding many actors.
// It remembers every actor spawned into it, so when its thread is restarted (by a Supervisor) the actors
// are spawned again, in spawn order, with bounded concurrency. ask/tell reach an actor by id.
//
// State machine (per ThreadHost; each start() makes one HostRun, see host-run.ts)
//   idle | stopped | crashed ──start()──► starting ──thread ready + actors spawned──► running
//   starting ──thread exits / not ready in time──► crashed (start() rejects HOST_START_FAILED)
//   running ──run.stop() / kill()──► stopping ──exit──► stopped (actors kept, status `stopped`)
//   running ──thread dies (crash, OOM, process.exit, hang)──► crashed (actors kept, status `restarting`)
// Actors: spawn() while the thread is up starts the actor and resolves after its first start attempt;
// while it is down the actor is recorded (`pending`) and starts with the next thread. stopActor() removes it.
import { EventEmitter } from 'node:events';
import { MessageChannel, type ResourceLimits, type SHARE_ENV } from 'node:worker_threads';
import { describeError, ErrorCodes, Errors, notifydError, NotifydError } from '../errors.js';
import { rootLog, type Logger } from '../log/logger.js';
import { resolveBackoff } from './backoff.js';
import { HostRun } from './host-run.js';
import { Mailbox, unavailable } from './mailbox.js';
import type { StatusRegistry } from './status-registry.js';
import type {
  ActorReport,
  ActorSpec,
  ActorStatus,
  BackoffPolicy,
  ChildExit,
  ChildRun,
  ChildSpec,
  ChildStartContext,
  HostEvent,
} from './types.js';
import { kTimedOut, mapLimit, nowIso, safeEmit, within } from './util.js';

export type HostState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';

export interface ThreadHostOptions {
  /** e.g. `processing`, `realtime-1`; the thread is named `notifyd:<id>`, its status entry `host:<id>`. */
  id: string;
  /** Actors started with every thread, in order (more can be spawned later). */
  actors?: ActorSpec[];
  registry?: StatusRegistry;
  /** @defaultValue 1000 (ms) */
  heartbeatMs?: number;
  /** Missed heartbeats before the thread counts as hung and is terminated. @defaultValue 5 */
  missedHeartbeats?: number;
  /** Time for the thread to load and say `ready`. @defaultValue 30000 (ms) */
  startTimeoutMs?: number;
  /** Actors started at once when a thread comes up. @defaultValue 16 */
  spawnConcurrency?: number;
  /** @defaultValue Infinity */
  maxActors?: number;
  /** Default ask timeout. @defaultValue 5000 (ms) */
  askTimeoutMs?: number;
  /** Default backoff of this host's actors. @defaultValue 1 s … 60 s, jitter 0.2, reset after 30 s */
  actorBackoff?: Partial<BackoffPolicy>;
  resourceLimits?: ResourceLimits;
  /** Worker `env` (a copy of process.env by default, or SHARE_ENV). */
  env?: NodeJS.Dict<string> | typeof SHARE_ENV;
  execArgv?: string[];
  /** Pass-through to the thread (shared config...); actors read it as `ctx.data`. Structured-cloneable. */
  data?: unknown;
  /** Modules the thread imports before any actor. */
  preload?: string[];
  /** Log level inside the thread. @defaultValue DAEMON_LOG_LEVEL or 'info' */
  logLevel?: string;
  log?: Logger;
}

interface ActorRecord {
  spec: ActorSpec;
  mailbox: Mailbox | undefined;
  status: ActorStatus;
}

/** A typed handle on one actor. */
export interface ActorRef<Msg = unknown, Reply = unknown> {
  readonly id: string;
  ask(msg: Msg, timeoutMs?: number): Promise<Reply>;
  tell(msg: Msg): boolean;
}

export class ThreadHost extends EventEmitter {
  readonly id: string;
  readonly log: Logger;
  readonly #opts: ThreadHostOptions;
  readonly #records = new Map<string, ActorRecord>();
  readonly #shared = new Map<string, unknown>();
  #run: HostRun | undefined;
  #state: HostState = 'idle';
  #incarnations = 0;
  #restarts = 0;
  #req = 1;
  #lastExit: ChildExit | undefined;

  constructor(opts: ThreadHostOptions) {
    super();
    if (typeof opts.id !== 'string' || opts.id.length === 0) {
      throw notifydError(Errors.RUNTIME_OPTION_INVALID, 'ThreadHost options.id must be a non-empty string');
    }
    this.id = opts.id;
    this.#opts = opts;
    this.log = (opts.log ?? rootLog()).child({ component: 'thread-host', host: opts.id });
    for (const spec of opts.actors ?? []) this.#record(spec);
    this.#hostStatus({ status: 'idle' });
  }

  get state(): HostState {
    return this.#state;
  }

  /** threadId of the current thread (undefined when none runs). */
  get thread(): number | undefined {
    return this.#run !== undefined && this.#run.state !== 'exited' ? this.#run.thread : undefined;
  }

  get size(): number {
    return this.#records.size;
  }

  has(actorId: string): boolean {
    return this.#records.has(actorId);
  }

  actors(): ActorStatus[] {
    return [...this.#records.values()].map((r) => r.status);
  }

  /** Heartbeat facts of the current thread. */
  stats(): { thread: number | undefined; heapUsed: number; actors: number; lastHeartbeatAt: number | undefined } {
    const run = this.#run;
    return {
      thread: this.thread,
      heapUsed: run?.heapUsed ?? 0,
      actors: this.#records.size,
      lastHeartbeatAt: run?.lastHeartbeat,
    };
  }

  /** A child spec for a Supervisor: each start runs a new thread with every recorded actor. */
  childSpec(overrides: Partial<Omit<ChildSpec, 'id' | 'start'>> = {}): ChildSpec {
    return {
      id: this.id,
      restart: 'permanent',
      shutdownMs: 5_000,
      type: 'worker',
      ...overrides,
      start: (ctx) => this.start(ctx),
    };
  }

  /** Starts a thread and its actors; resolves when all had their first start attempt. */
  async start(ctx?: ChildStartContext): Promise<ChildRun> {
    if (this.#run !== undefined && this.#run.state !== 'exited') {
      throw notifydError(Errors.HOST_START_FAILED, this.id, 'is already running');
    }
    const bump = this.#lastExit?.reason === 'crash';
    if (bump) this.#restarts += 1;
    const o = this.#opts;
    const run = new HostRun({
      workerData: {
        hostId: this.id,
        kind: 'host',
        incarnation: this.#incarnations++,
        heartbeatMs: o.heartbeatMs ?? 1_000,
        logLevel: o.logLevel ?? process.env['DAEMON_LOG_LEVEL'],
        actorBackoff: resolveBackoff(o.actorBackoff),
        data: o.data,
        preload: o.preload ?? [],
      },
      heartbeatMs: o.heartbeatMs ?? 1_000,
      missedHeartbeats: o.missedHeartbeats ?? 5,
      startTimeoutMs: o.startTimeoutMs ?? 30_000,
      ...(o.resourceLimits === undefined ? {} : { resourceLimits: o.resourceLimits }),
      ...(o.env === undefined ? {} : { env: o.env }),
      ...(o.execArgv === undefined ? {} : { execArgv: o.execArgv }),
      log: this.log,
      onEvent: (event) => this.#onEvent(run, event),
    });
    this.#run = run;
    this.#state = 'starting';
    this.#hostStatus({ status: 'starting', thread: run.thread });
    void run.exited.then((exit) => this.#onExit(run, exit));
    const abort = (): void => void run.stop('start aborted', 0);
    ctx?.signal.addEventListener('abort', abort, { once: true });
    try {
      if (ctx?.signal.aborted) abort();
      await run.ready;
      // shared values first: the port keeps order, so every actor starts with them
      for (const [key, value] of this.#shared) run.send({ t: 'share', key, value });
      const records = [...this.#records.values()];
      await mapLimit(records, o.spawnConcurrency ?? 16, (r) =>
        run.state === 'serving' && this.#records.get(r.spec.id) === r
          ? this.#spawnIn(run, r, bump)
          : Promise.resolve(r.status),
      );
      if (run.state !== 'serving') {
        throw notifydError(Errors.HOST_START_FAILED, this.id, 'thread ended while its actors were starting');
      }
    } catch (err) {
      await run.stop('start failed', 1_000);
      throw err instanceof NotifydError && err.code === ErrorCodes.HOST_START_FAILED
        ? err
        : notifydError(Errors.HOST_START_FAILED, this.id, `failed to start: ${describeError(err)}`, { cause: err });
    } finally {
      ctx?.signal.removeEventListener('abort', abort);
    }
    this.#state = 'running';
    this.#hostStatus({ status: 'running', health: 'ok' });
    safeEmit(this, this.log, 'ready', { thread: run.thread });
    return {
      exited: run.exited,
      thread: run.thread,
      stop: (reason, timeoutMs) => {
        this.#markStopping(run);
        return run.stop(reason, timeoutMs);
      },
      kill: () => {
        this.#markStopping(run);
        return run.kill();
      },
    };
  }

  /** Stops the current thread (graceful within timeoutMs, then terminate). For use outside a Supervisor. */
  async stop(timeoutMs = 5_000): Promise<void> {
    const run = this.#run;
    if (run === undefined) return;
    this.#markStopping(run);
    await run.stop('shutdown', timeoutMs);
  }

  /**
   * Shares a value with every actor of this host's thread (sharedValue(key) in the thread), now and after every
   * thread restart, before its actors start again. The newest value per key wins.
   */
  share(key: string, value: unknown): void {
    this.#shared.set(key, value);
    const run = this.#run;
    if (run !== undefined && run.state === 'serving') run.send({ t: 'share', key, value });
  }

  /** Adds an actor; resolves with its status after its first start attempt (or `pending` when no thread runs). */
  async spawn(spec: ActorSpec): Promise<ActorStatus> {
    if (this.#state === 'stopping') throw notifydError(Errors.ACTOR_STOPPED, `host ${this.id}`, 'is stopping');
    const record = this.#record(spec);
    const run = this.#run;
    if (run === undefined || run.state !== 'serving') return record.status;
    try {
      return await this.#spawnIn(run, record, false);
    } catch (err) {
      this.#forget(record);
      throw err;
    }
  }

  /** Stops an actor for good (reason `removed`): it is not restarted nor spawned again. */
  async stopActor(actorId: string, reason = 'removed'): Promise<void> {
    const record = this.#records.get(actorId);
    if (record === undefined) throw notifydError(Errors.ACTOR_NOT_FOUND, 'actor', actorId, `host ${this.id}`);
    this.#records.delete(actorId);
    const run = this.#run;
    if (run !== undefined && run.state === 'serving') {
      await run.request({
        t: 'stop-actor',
        req: this.#req++,
        id: actorId,
        reason,
        timeoutMs: record.spec.shutdownMs ?? 5_000,
      });
    }
    this.#forget(record);
  }

  /** The thread's metrics (prom-client JSON), [] when no thread serves or it does not answer within timeoutMs. */
  async metrics(timeoutMs = 2000): Promise<unknown[]> {
    const run = this.#run;
    if (run === undefined || run.state !== 'serving') return [];
    const answer = await within(run.request({ t: 'metrics', req: this.#req++ }), timeoutMs);
    return answer !== kTimedOut && answer?.t === 'metrics' ? answer.metrics : [];
  }

  ask<Reply = unknown>(actorId: string, msg: unknown, timeoutMs = this.#opts.askTimeoutMs ?? 5_000): Promise<Reply> {
    const record = this.#records.get(actorId);
    if (record === undefined)
      return Promise.reject(notifydError(Errors.ACTOR_NOT_FOUND, 'actor', actorId, `host ${this.id}`));
    if (record.mailbox === undefined)
      return Promise.reject(unavailable(actorId, `host ${this.id} has no thread running`));
    return record.mailbox.ask<Reply>(msg, timeoutMs);
  }

  /** Fire and forget; false when the actor is unknown or its thread is down. */
  tell(actorId: string, msg: unknown): boolean {
    const mailbox = this.#records.get(actorId)?.mailbox;
    if (mailbox === undefined) return false;
    mailbox.tell(msg);
    return true;
  }

  ref<Msg = unknown, Reply = unknown>(actorId: string): ActorRef<Msg, Reply> {
    return {
      id: actorId,
      ask: (msg, timeoutMs) => this.ask<Reply>(actorId, msg, timeoutMs),
      tell: (msg) => this.tell(actorId, msg),
    };
  }

  // ---- internals -------------------------------------------------------------------------------------------

  #record(spec: ActorSpec): ActorRecord {
    if (
      typeof spec?.id !== 'string' ||
      spec.id.length === 0 ||
      typeof spec.module !== 'string' ||
      typeof spec.kind !== 'string'
    ) {
      throw notifydError(Errors.RUNTIME_OPTION_INVALID, 'actor spec needs string id, kind and module');
    }
    if (this.#records.has(spec.id))
      throw notifydError(Errors.SUPERVISOR_CHILD_EXISTS, 'actor', spec.id, `host ${this.id}`);
    for (const field of ['shutdownMs', 'startTimeoutMs', 'degradedAfter', 'stashLimit'] as const) {
      const v = spec[field];
      if (v !== undefined && !(typeof v === 'number' && v >= 0)) {
        throw notifydError(Errors.RUNTIME_OPTION_INVALID, `actor ${spec.id}: ${field} must be a number >= 0`, {
          details: { field },
        });
      }
    }
    // throws RUNTIME_OPTION_INVALID naming the field
    resolveBackoff(spec.backoff, resolveBackoff(this.#opts.actorBackoff));
    const max = this.#opts.maxActors ?? Infinity;
    if (this.#records.size >= max) throw notifydError(Errors.HOST_FULL, this.id, max);
    const status: ActorStatus = {
      id: spec.id,
      kind: spec.kind,
      thread: 0,
      status: 'pending',
      health: 'ok',
      restarts: 0,
      since: nowIso(),
      last_error: null,
      host: this.id,
    };
    const record: ActorRecord = { spec, mailbox: undefined, status };
    this.#records.set(spec.id, record);
    this.#opts.registry?.set(status);
    return record;
  }

  #forget(record: ActorRecord): void {
    if (this.#records.get(record.spec.id) === record) this.#records.delete(record.spec.id);
    record.mailbox?.close('it was removed');
    record.mailbox = undefined;
    this.#opts.registry?.remove(record.spec.id);
  }

  async #spawnIn(run: HostRun, record: ActorRecord, bump: boolean): Promise<ActorStatus> {
    const { port1, port2 } = new MessageChannel();
    record.mailbox?.close('its thread was replaced');
    record.mailbox = new Mailbox(record.spec.id, port1);
    const restartsBase = record.status.restarts + (bump && record.status.status !== 'pending' ? 1 : 0);
    const reply = await run.request({ t: 'spawn', req: this.#req++, spec: record.spec, port: port2, restartsBase }, [
      port2,
    ]);
    if (reply?.t === 'spawned' && this.#records.get(record.spec.id) === record) this.#apply(run, record, reply.report);
    return record.status;
  }

  #apply(run: HostRun, record: ActorRecord, report: ActorReport): void {
    record.status = { ...report, thread: run.thread, host: this.id };
    this.#opts.registry?.set(record.status);
    safeEmit(this, this.log, 'status', record.status);
  }

  #onEvent(run: HostRun, event: HostEvent): void {
    if (run !== this.#run) return;
    switch (event.t) {
      case 'status': {
        const record = this.#records.get(event.report.id);
        if (record !== undefined) this.#apply(run, record, event.report);
        return;
      }
      case 'actor-gone': {
        const record = this.#records.get(event.id);
        if (record === undefined) return;
        this.#apply(run, record, event.report);
        this.log.info(
          { event: 'actor_gone', actor: event.id, reason: event.reason },
          'actor ended and will not restart',
        );
        this.#forget(record);
        safeEmit(this, this.log, 'actor-gone', { id: event.id, reason: event.reason, status: record.status });
        return;
      }
      case 'event':
        safeEmit(this, this.log, 'actor-event', { id: event.id, event: event.event });
        return;
      case 'shutdown-done':
        if (event.abandoned.length > 0) {
          this.log.warn(
            { event: 'actors_abandoned', actors: event.abandoned },
            'actors ignored their stop within the budget; the thread exits anyway',
          );
          safeEmit(this, this.log, 'actors-abandoned', event.abandoned);
        }
        return;
      default:
        return;
    }
  }

  #onExit(run: HostRun, exit: ChildExit): void {
    if (run !== this.#run) return;
    this.#lastExit = exit;
    this.#state = exit.reason === 'crash' ? 'crashed' : 'stopped';
    const why = exit.reason === 'crash' ? `host thread crashed: ${describeError(exit.error)}` : 'host thread stopped';
    for (const record of this.#records.values()) {
      record.mailbox?.close(why);
      record.mailbox = undefined;
      const status = exit.reason === 'crash' ? 'restarting' : 'stopped';
      record.status = {
        ...record.status,
        status,
        since: nowIso(),
        ...(exit.reason === 'crash' ? { last_error: why } : {}),
      };
      this.#opts.registry?.set(record.status);
    }
    this.#hostStatus(
      exit.reason === 'crash'
        ? { status: 'crashed', health: 'degraded', last_error: describeError(exit.error) }
        : { status: 'stopped', health: 'ok' },
    );
    safeEmit(this, this.log, 'thread-exit', { ...exit, thread: run.thread });
  }

  #markStopping(run: HostRun): void {
    if (run !== this.#run || (this.#state !== 'running' && this.#state !== 'starting')) return;
    this.#state = 'stopping';
    this.#hostStatus({ status: 'stopping' });
  }

  #hostStatus(patch: Partial<ActorStatus>): void {
    this.#opts.registry?.set({ id: `host:${this.id}`, kind: 'host', restarts: this.#restarts, ...patch });
  }
}
