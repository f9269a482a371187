// The life of one actor inside a host thread: its mailbox, its incarnations, its restarts with backoff and
// the status it reports. A host holds one ActorCell per actor (host-worker.ts).
//
// State machine (an incarnation = one factory call + start; its AbortSignal aborts when it ends)
//   starting ──start() resolved──────────────► running      (stashed messages are delivered in order)
//   starting ──start() threw / timed out─────► crashed
//   running  ──handle() threw, ctx.fail(), uncaught error in its async context──► crashed
//   running  ──ctx.exit()────────────────────► exited
//   crashed  ──permanent|transient───────────► backoff ──timer──► starting (restarts + 1)
//   crashed  ──temporary─────────────────────► failed (final; health down)
//   exited   ──permanent─────────────────────► backoff;   transient|temporary ► stopped (final)
//   any      ──stop(reason)──────────────────► stopping ──actor.stop() or shutdownMs──► stopped (final)
// On crash or exit the incarnation's stop('crash'|'exit') runs (bounded), its queued asks are refused.
// Messages while starting are stashed (up to stashLimit); while in backoff asks are refused at once
// (ACTOR_UNAVAILABLE) and tells dropped. Health: `degraded` after `degradedAfter` consecutive failures,
// back to ok after `resetAfterMs` up; an actor may set its own health through ctx.setStatus.
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { MessagePort } from 'node:worker_threads';
import { describeError, Errors, notifydError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Actor, ActorContext, ActorFactory, SetStatusOptions } from './actor.js';
import { BackoffTracker } from './backoff.js';
import { serializeError, unavailable } from './mailbox.js';
import type { ActorReport, ActorSpec, BackoffPolicy, ExitReason, Health, MailboxMessage } from './types.js';
import { kTimedOut, now, nowIso, within } from './util.js';

export type CellState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' | 'failed';

/** One incarnation: the store of the AsyncLocalStorage that attributes async errors to an actor. */
export interface Incarnation {
  cell: ActorCell;
  gen: number;
  controller: AbortController;
  actor: Actor | undefined;
  ownStatus: boolean;
}

export interface CellHost {
  hostId: string;
  thread: number;
  log: Logger;
  data: unknown;
  actorBackoff: BackoffPolicy;
  als: AsyncLocalStorage<Incarnation>;
  loadFactory(moduleUrl: string): Promise<ActorFactory>;
  report(report: ActorReport): void;
  gone(cell: ActorCell, reason: ExitReason): void;
  publish(id: string, event: unknown): void;
}

const rank: Record<Health, number> = { ok: 0, degraded: 1, down: 2 };
const worst = (a: Health, b: Health): Health => (rank[a] >= rank[b] ? a : b);
const CRASH_CLEANUP_MS = 2_000;

export class ActorCell {
  readonly spec: Required<
    Pick<
      ActorSpec,
      'id' | 'kind' | 'module' | 'restart' | 'shutdownMs' | 'startTimeoutMs' | 'degradedAfter' | 'stashLimit'
    >
  > &
    ActorSpec;
  readonly log: Logger;
  state: CellState = 'starting';
  readonly #host: CellHost;
  readonly #port: MessagePort;
  readonly #backoff: BackoffTracker;
  #restarts: number;
  #inc: Incarnation | undefined;
  #gen = 0;
  #queue: Extract<MailboxMessage, { t: 'ask' | 'tell' }>[] = [];
  #pumping = false;
  #status = 'pending';
  #ownHealth: Health = 'ok';
  #lastError: string | null = null;
  #since = nowIso();
  #restartTimer: NodeJS.Timeout | undefined;
  #resetTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<boolean> | undefined;
  /** ctx.exit() during a handle(): takes effect once that message has been answered. */
  #exitAfterHandle: Incarnation | undefined;
  #handling: Incarnation | undefined;

  constructor(spec: ActorSpec, port: MessagePort, restartsBase: number, host: CellHost) {
    this.spec = {
      ...spec,
      restart: spec.restart ?? 'transient',
      shutdownMs: spec.shutdownMs ?? 5_000,
      startTimeoutMs: spec.startTimeoutMs ?? 30_000,
      degradedAfter: spec.degradedAfter ?? 5,
      stashLimit: spec.stashLimit ?? 1_000,
    };
    this.#host = host;
    this.#port = port;
    this.#restarts = restartsBase;
    this.#backoff = new BackoffTracker({ ...host.actorBackoff, ...(spec.backoff ?? {}) });
    this.log = host.log.child({ component: spec.kind, actor: spec.id, kind: spec.kind });
    port.on('message', (msg: MailboxMessage) => this.#onMessage(msg));
  }

  get id(): string {
    return this.spec.id;
  }

  report(): ActorReport {
    const failing: Health =
      this.state === 'failed' ? 'down' : this.#backoff.failures >= this.spec.degradedAfter ? 'degraded' : 'ok';
    return {
      id: this.spec.id,
      kind: this.spec.kind,
      status: this.#status,
      health: worst(this.#ownHealth, failing),
      restarts: this.#restarts,
      since: this.#since,
      last_error: this.#lastError,
    };
  }

  /** Starts the first incarnation; resolves with the report once that attempt has succeeded or failed. */
  async begin(): Promise<ActorReport> {
    await this.#startIncarnation();
    return this.report();
  }

  /** Called for an error attributed to `inc` (uncaught exception, unhandled rejection, ctx.fail). */
  crash(inc: Incarnation, err: unknown): void {
    if (inc !== this.#inc || (this.state !== 'running' && this.state !== 'starting')) {
      this.log.warn(
        { event: 'actor_stale_error', gen: inc.gen, err: describeError(err) },
        'error from an ended incarnation ignored',
      );
      return;
    }
    void this.#end(inc, 'crash', err);
  }

  /** Final stop: no restart. Resolves true when the actor stopped in time, false when it was abandoned. */
  stop(reason: string, timeoutMs: number): Promise<boolean> {
    this.#stopping ??= this.#stop(reason, timeoutMs);
    return this.#stopping;
  }

  // ---- incarnations ----------------------------------------------------------------------------------------

  async #startIncarnation(): Promise<void> {
    const inc: Incarnation = {
      cell: this,
      gen: ++this.#gen,
      controller: new AbortController(),
      actor: undefined,
      ownStatus: false,
    };
    this.#inc = inc;
    this.state = 'starting';
    this.#setStatus('starting');
    const ctx = this.#context(inc);
    try {
      const factory = await this.#host.loadFactory(this.spec.module);
      if (this.#inc !== inc) return;
      const started = this.#host.als.run(inc, async () => {
        inc.actor = await factory(this.spec.args, ctx);
        await inc.actor.start?.();
      });
      const outcome = await within(started, this.spec.startTimeoutMs);
      if (outcome === kTimedOut) {
        started.catch(() => undefined);
        throw notifydError(Errors.ACTOR_START_FAILED, `${this.id} did not start within ${this.spec.startTimeoutMs} ms`);
      }
    } catch (err) {
      if (this.#inc === inc && this.state === 'starting') await this.#end(inc, 'crash', err);
      return;
    }
    if (this.#inc !== inc || this.state !== 'starting') return;
    this.state = 'running';
    this.#backoff.started(now());
    clearTimeout(this.#resetTimer);
    this.#resetTimer = setTimeout(() => this.#stable(inc), this.#backoff.policy.resetAfterMs).unref();
    this.log.debug({ event: 'actor_started', restarts: this.#restarts }, 'actor started');
    if (!inc.ownStatus) this.#setStatus('running');
    this.#pump();
  }

  #stable(inc: Incarnation): void {
    if (this.#inc !== inc || this.state !== 'running') return;
    const wasDegraded = this.#backoff.failures >= this.spec.degradedAfter;
    this.#backoff.reset();
    if (wasDegraded) this.#host.report(this.report());
  }

  /** Ends an incarnation by crash or normal exit, then restarts it or finishes the cell. */
  async #end(inc: Incarnation, how: 'crash' | 'exit', err?: unknown): Promise<void> {
    this.state = 'backoff';
    clearTimeout(this.#resetTimer);
    const error = how === 'crash' ? describeError(err) : undefined;
    if (how === 'crash') {
      this.#lastError = error ?? null;
      this.log.warn({ event: 'actor_crashed', err: error, restarts: this.#restarts }, 'actor crashed');
    }
    inc.controller.abort(how === 'crash' ? err : notifydError(Errors.ACTOR_STOPPED, `actor ${this.id}`, 'exited'));
    this.#refuseQueued(
      how === 'crash' ? notifydError(Errors.ACTOR_CRASHED, this.id, error) : unavailable(this.id, 'it exited'),
    );
    await this.#stopActor(inc, how, Math.min(this.spec.shutdownMs, CRASH_CLEANUP_MS));
    if (this.#inc !== inc || this.state !== 'backoff') return; // a stop() came in meanwhile
    const restart = this.spec.restart === 'permanent' || (this.spec.restart === 'transient' && how === 'crash');
    if (!restart) {
      this.state = how === 'crash' ? 'failed' : 'stopped';
      this.#inc = undefined;
      this.#setStatus(this.state);
      this.#port.close();
      this.#host.gone(this, how === 'crash' ? 'crash' : 'normal');
      return;
    }
    const { delayMs, failures } = this.#backoff.failed(now());
    this.#restarts += 1;
    this.#setStatus('restarting');
    this.log.info({ event: 'actor_restart_scheduled', delay_ms: delayMs, failures }, 'actor restart scheduled');
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.state === 'backoff') void this.#startIncarnation();
    }, delayMs);
  }

  async #stop(reason: string, timeoutMs: number): Promise<boolean> {
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#resetTimer);
    const inc = this.#inc;
    const wasLive = this.state === 'running' || this.state === 'starting';
    this.state = 'stopping';
    this.#setStatus('stopping');
    let inTime = true;
    if (inc !== undefined && wasLive) {
      inc.controller.abort(notifydError(Errors.ACTOR_STOPPED, `actor ${this.id}`, `stopping: ${reason}`));
      inTime = await this.#stopActor(inc, reason, timeoutMs);
      if (!inTime)
        this.log.warn({ event: 'actor_stop_abandoned', timeout_ms: timeoutMs }, 'actor ignored stop; abandoned');
    }
    this.#inc = undefined;
    this.#refuseQueued(notifydError(Errors.ACTOR_STOPPED, `actor ${this.id}`, `stopped (${reason})`));
    this.state = 'stopped';
    this.#setStatus('stopped');
    this.#port.close();
    return inTime;
  }

  /** Runs the actor's stop() in its own async context; false when it did not finish within `ms`. */
  async #stopActor(inc: Incarnation, reason: string, ms: number): Promise<boolean> {
    const actor = inc.actor;
    if (actor?.stop === undefined) return true;
    const stopping = this.#host.als.run(inc, async () => {
      await actor.stop?.(reason);
    });
    try {
      return (await within(stopping, ms)) !== kTimedOut;
    } catch (err) {
      this.log.warn({ event: 'actor_stop_failed', err: describeError(err) }, 'actor stop() threw');
      return true;
    }
  }

  #context(inc: Incarnation): ActorContext {
    const cell = this;
    const current = (): boolean => cell.#inc === inc && (cell.state === 'running' || cell.state === 'starting');
    return {
      id: this.spec.id,
      kind: this.spec.kind,
      thread: this.#host.thread,
      host: this.#host.hostId,
      log: this.log,
      signal: inc.controller.signal,
      restarts: this.#restarts,
      data: this.#host.data,
      setStatus(status: string, opts?: SetStatusOptions): void {
        if (!current()) return;
        inc.ownStatus = true;
        cell.#ownHealth = opts?.health ?? 'ok';
        if (opts?.error !== undefined) cell.#lastError = opts.error;
        cell.#setStatus(status, true);
      },
      fail(err: unknown): void {
        if (current()) void cell.#end(inc, 'crash', err);
      },
      exit(reason?: string): void {
        if (!current()) return;
        cell.log.info({ event: 'actor_exit', reason: reason ?? 'normal' }, 'actor exited');
        if (cell.#handling === inc) cell.#exitAfterHandle = inc;
        else void cell.#end(inc, 'exit');
      },
      publish(event: unknown): void {
        if (cell.#inc === inc) cell.#host.publish(cell.spec.id, event); // also while it stops
      },
    };
  }

  #setStatus(status: string, force = false): void {
    if (status === this.#status && !force) return;
    if (status !== this.#status) this.#since = nowIso();
    this.#status = status;
    // runtime states end the actor's own health verdict: a new incarnation starts from ok
    if (!force && (status === 'starting' || status === 'restarting' || status === 'stopped')) this.#ownHealth = 'ok';
    this.#host.report(this.report());
  }

  // ---- mailbox ---------------------------------------------------------------------------------------------

  #onMessage(msg: MailboxMessage): void {
    if (msg.t !== 'ask' && msg.t !== 'tell') return;
    if (this.state === 'running' || this.state === 'starting') {
      if (this.#queue.length >= this.spec.stashLimit) {
        if (msg.t === 'ask')
          this.#reply(msg.c, false, unavailable(this.id, `its mailbox is full (${this.spec.stashLimit})`));
        return;
      }
      this.#queue.push(msg);
      this.#pump();
      return;
    }
    if (msg.t === 'ask') {
      const why = this.state === 'backoff' ? 'it is restarting' : `it is ${this.state}`;
      this.#reply(msg.c, false, unavailable(this.id, why));
    }
  }

  #pump(): void {
    if (this.#pumping || this.state !== 'running') return;
    const inc = this.#inc;
    if (inc === undefined) return;
    this.#pumping = true;
    void this.#drain(inc).finally(() => {
      this.#pumping = false;
      if (this.#queue.length > 0 && this.state === 'running') this.#pump();
    });
  }

  async #drain(inc: Incarnation): Promise<void> {
    while (this.#queue.length > 0 && this.#inc === inc && this.state === 'running') {
      const msg = this.#queue.shift()!;
      const actor = inc.actor;
      this.#handling = inc;
      try {
        const value =
          actor?.handle === undefined ? undefined : await this.#host.als.run(inc, () => actor.handle!(msg.m));
        if (msg.t === 'ask') this.#reply(msg.c, true, value);
      } catch (err) {
        if (msg.t === 'ask') this.#reply(msg.c, false, err);
        if (this.#inc === inc && this.state === 'running') await this.#end(inc, 'crash', err);
        return;
      } finally {
        this.#handling = undefined;
      }
      if (this.#exitAfterHandle === inc) {
        this.#exitAfterHandle = undefined;
        if (this.#inc === inc && this.state === 'running') await this.#end(inc, 'exit');
        return;
      }
    }
  }

  #refuseQueued(err: Error): void {
    const queued = this.#queue;
    this.#queue = [];
    for (const msg of queued) if (msg.t === 'ask') this.#reply(msg.c, false, err);
  }

  #reply(c: number, ok: boolean, value: unknown): void {
    try {
      if (ok) this.#port.postMessage({ t: 'reply', c, ok: true, v: value } satisfies MailboxMessage);
      else this.#port.postMessage({ t: 'reply', c, ok: false, e: serializeError(value) } satisfies MailboxMessage);
    } catch (err) {
      // the reply could not be cloned (or the port is closed): answer with the reason instead
      try {
        this.#port.postMessage({ t: 'reply', c, ok: false, e: serializeError(err) } satisfies MailboxMessage);
      } catch {
        /* port closed: the asker times out or was already failed */
      }
    }
  }
}
