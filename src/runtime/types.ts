// Shared vocabulary of the actor runtime: the types that cross module and thread boundaries.
//
// Terminology
// - actor: an object with a mailbox (a MessagePort), a state machine and a status, living in a host thread.
//   Its code comes from a module (loaded by URL) whose factory builds it; see actor.ts.
// - host (thread host): a worker thread running many actors and restarting them (with backoff) when they
//   crash; the parent side is a ThreadHost (thread-host.ts), the thread side host-worker.ts.
// - child: anything a Supervisor starts, watches and stops; one start() gives one run (ChildRun).
// - supervisor: starts children in order, restarts them by strategy, stops them in reverse order,
//   escalates (fails itself) when restarts exceed its intensity.
// - status: the observable state of an actor or host (ActorStatus), collected in the StatusRegistry.
import type { MessagePort } from 'node:worker_threads';

/** OTP restart types: `permanent` always restarts, `transient` only after a crash, `temporary` never. */
export type RestartType = 'permanent' | 'transient' | 'temporary';

export type ChildType = 'worker' | 'supervisor';

/** Rolled up by whoever reads the registry: `ok` serving, `degraded` failing repeatedly, `down` not serving. */
export type Health = 'ok' | 'degraded' | 'down';

/** Why a run ended. `normal`: it finished on its own; `shutdown`: we asked it to stop; `crash`: anything else. */
export type ExitReason = 'normal' | 'shutdown' | 'crash';

export interface ChildExit {
  reason: ExitReason;
  /** Present when `reason` is `crash`. */
  error?: Error;
  /** The thread's exit code when the child is a thread. Never trusted alone: intent decides `reason`. */
  exitCode?: number;
}

/** One status line of the tree: the element of `/health`'s `actors` array. */
export interface ActorStatus {
  id: string;
  kind: string;
  /** The worker thread's threadId (0 = main thread). */
  thread: number;
  /** Runtime states (`pending`, `starting`, `running`, `restarting`, `stopping`, `stopped`, `failed`, `crashed`,
   * `hung`) or whatever the actor sets with `ctx.setStatus` (`subscribed`, `reconnecting`, ...). */
  status: string;
  health: Health;
  restarts: number;
  /** ISO time of the last status change. */
  since: string;
  last_error: string | null;
  /** The host that runs the actor (absent for hosts and supervisors). */
  host?: string;
}

/** The restart backoff: `delay = min(maxMs, minMs·2^n)·(1 + jitter·rand)`, n = consecutive failures before. */
export interface BackoffPolicy {
  /** @defaultValue 1000 (ms). 0 restarts at once. */
  minMs: number;
  /** @defaultValue 60000 (ms) */
  maxMs: number;
  /** Random factor in [0, 1]. @defaultValue 0.2 */
  jitter: number;
  /** After this long up, the failure count starts again from 0. @defaultValue 30000 (ms) */
  resetAfterMs: number;
}

/** What a host needs to run an actor. Structured-cloneable: it crosses into the host thread. */
export interface ActorSpec<Args = unknown> {
  /** Unique in its host (and in a HostPool), e.g. `enterprise:ent1`. */
  id: string;
  /** e.g. `enterprise`, `scheduler`; goes to status and logs. */
  kind: string;
  /** Module URL (`file:` href) whose `default` or `createActor` export is the ActorFactory. */
  module: string;
  /** Passed to the factory; must be structured-cloneable. */
  args?: Args;
  /** @defaultValue 'transient' */
  restart?: RestartType;
  /** Time stop() gets before the actor is abandoned. @defaultValue 5000 (ms) */
  shutdownMs?: number;
  /** Time start() gets before it counts as a crash. @defaultValue 30000 (ms) */
  startTimeoutMs?: number;
  /** Overrides of the host's actor backoff (default 1 s … 60 s, jitter 0.2, reset after 30 s). */
  backoff?: Partial<BackoffPolicy>;
  /** Consecutive failures after which health reports `degraded`. @defaultValue 5 */
  degradedAfter?: number;
  /** Messages kept while the actor starts; more are refused. @defaultValue 1000 */
  stashLimit?: number;
}

/** An error as it crosses a port: Errors lose their `code` in structured clone, so they travel as data. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

// ---- wire protocol between ThreadHost (parent) and host-worker (thread) -------------------------------------

export interface HostWorkerData {
  hostId: string;
  kind: string;
  /** How many times this host's thread was started before (0 for the first thread). */
  incarnation: number;
  heartbeatMs: number;
  logLevel: string | undefined;
  /** Default backoff for the actors of this host. */
  actorBackoff: BackoffPolicy;
  /** Pass-through for the embedding code (shared config...): actors read it as `ctx.data`. */
  data: unknown;
  /** Modules imported when the thread starts, before any actor (shared code, warm-up). */
  preload: string[];
}

/** parent → thread (worker.postMessage) */
export type HostCommand =
  | { t: 'spawn'; req: number; spec: ActorSpec; port: MessagePort; restartsBase: number }
  | { t: 'stop-actor'; req: number; id: string; reason: string; timeoutMs: number }
  | { t: 'metrics'; req: number }
  /** a value for every actor of the thread (src/runtime/shared.ts) */
  | { t: 'share'; key: string; value: unknown }
  | { t: 'shutdown'; reason: string; timeoutMs: number };

/** Status fields a thread reports for one actor. */
export interface ActorReport {
  id: string;
  kind: string;
  status: string;
  health: Health;
  restarts: number;
  since: string;
  last_error: string | null;
}

/** thread → parent (parentPort.postMessage) */
export type HostEvent =
  | { t: 'ready'; threadId: number }
  | { t: 'hb'; at: number; heapUsed: number; actors: number }
  | { t: 'status'; report: ActorReport }
  | { t: 'spawned'; req: number; id: string; report: ActorReport }
  | { t: 'actor-gone'; id: string; reason: ExitReason; report: ActorReport }
  | { t: 'actor-stopped'; req: number; id: string }
  /** the thread's prom-client registry as JSON (getMetricsAsJSON), for the main thread to aggregate */
  | { t: 'metrics'; req: number; metrics: unknown[] }
  | { t: 'event'; id: string; event: unknown }
  | { t: 'fatal'; error: WireError }
  | { t: 'shutdown-done'; abandoned: string[] };

/** parent ↔ actor, over the actor's own MessagePort */
export type MailboxMessage =
  | { t: 'ask'; c: number; m: unknown }
  | { t: 'tell'; m: unknown }
  | { t: 'reply'; c: number; ok: true; v: unknown }
  | { t: 'reply'; c: number; ok: false; e: WireError };

// ---- supervision ------------------------------------------------------------------------------------------

/** One running incarnation of a supervised child (a thread, a nested supervisor, anything). */
export interface ChildRun {
  /** Resolves once, when this run has ended, whatever the reason. Never rejects. */
  readonly exited: Promise<ChildExit>;
  /** Graceful stop within `timeoutMs`, then kill; resolves when the run has ended. Idempotent. */
  stop(reason: string, timeoutMs: number): Promise<void>;
  /** Immediate stop (`worker.terminate()`); resolves when the run has ended. Idempotent. */
  kill(): Promise<void>;
  /** threadId when the run is a thread. */
  readonly thread?: number;
}

export interface ChildStartContext {
  /** Aborted when the supervisor stops while the start is still running: abandon it and clean up. */
  signal: AbortSignal;
}

/** OTP child spec. */
export interface ChildSpec {
  id: string;
  /** Starts one run; resolves when the child serves. A throw is a start failure (counts as a restart). */
  start(ctx: ChildStartContext): Promise<ChildRun>;
  /** @defaultValue 'permanent' */
  restart?: RestartType;
  /**
   * Graceful stop budget before kill.
   * @defaultValue 5000 for a worker, Infinity (the global deadline) for a supervisor
   */
  shutdownMs?: number;
  /** @defaultValue 'worker' */
  type?: ChildType;
  /** Restart delay for this child; overrides the supervisor's. null restarts at once. */
  backoff?: Partial<BackoffPolicy> | null;
}

export type Strategy = 'one_for_one' | 'rest_for_one';
export type SupervisorState = 'idle' | 'starting' | 'running' | 'escalating' | 'stopping' | 'stopped' | 'failed';
export type ChildState = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';

export interface StopReport {
  /** Children in the order they were stopped. */
  order: string[];
  /** Children that had to be killed (ignored their stop within their budget, or the deadline passed). */
  killed: string[];
  /** True when the global deadline passed. */
  timedOut: boolean;
}

export interface ChildInfo {
  id: string;
  type: ChildType;
  restart: RestartType;
  state: ChildState;
  restarts: number;
  thread: number | undefined;
}
