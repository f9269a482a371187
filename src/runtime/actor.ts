// The actor contract: what an actor module exports and what the host gives each actor. Actor code lives in
// other modules (actors/enterprise/actor.ts, ...); a host loads it by URL and calls its factory.
//
// An actor module:
//   import { defineActor } from '../../src/runtime/actor.js';
//   export default defineActor<{ enterpriseId: string }, Msg, Reply>((args, ctx) => ({
//     async start() { ctx.setStatus('connecting'); ... ctx.setStatus('subscribed'); },
//     async handle(msg) { ... return reply; },   // one message at a time, in arrival order
//     async stop(reason) { ... },                // release everything; ctx.signal is aborted too
//   }));
//
// Failure rules: a throw (or rejection) from start()/handle(), a ctx.fail(err), or an uncaught exception or
// unhandled rejection raised from code the actor started (timers, promises, sockets: tracked by async
// context) crashes this actor alone; the host calls its stop('crash'), then restarts it with backoff.
import type { Logger } from '../log/logger.js';
import type { Health } from './types.js';

export interface SetStatusOptions {
  /** @defaultValue 'ok' (or the runtime's own verdict when failures repeat) */
  health?: Health;
  /** null clears the last error; undefined keeps it. */
  error?: string | null;
}

export interface ActorContext {
  readonly id: string;
  readonly kind: string;
  /** threadId of the host thread. */
  readonly thread: number;
  /** The host's id (e.g. `realtime-1`). */
  readonly host: string;
  /** Child logger with `component`, `actor`, `kind`. */
  readonly log: Logger;
  /** Aborted when this incarnation stops or crashes: tie timers, sockets and fetches to it. */
  readonly signal: AbortSignal;
  /** Restarts of this actor so far (0 for the first start). */
  readonly restarts: number;
  /** The host's pass-through data (workerData.data). */
  readonly data: unknown;
  /** Domain status, e.g. 'connecting', 'subscribed', 'reconnecting', 'failed'. */
  setStatus(status: string, opts?: SetStatusOptions): void;
  /** Crash this actor: the host restarts it with backoff (unless `temporary`). */
  fail(err: unknown): void;
  /** Stop this actor normally: a `transient` or `temporary` actor is then not restarted. */
  exit(reason?: string): void;
  /** Sends an event to the parent side (ThreadHost emits 'actor-event'). Must be structured-cloneable. */
  publish(event: unknown): void;
}

export interface Actor<Msg = unknown, Reply = unknown> {
  /** Bring the actor up; resolves when it serves. A throw or a timeout (startTimeoutMs) is a crash. */
  start?(): Promise<void> | void;
  /** Handle one message; the value is the reply to an ask (ignored for a tell). */
  handle?(msg: Msg): Promise<Reply> | Reply;
  /** Release resources. Bounded by shutdownMs; reason is 'shutdown', 'crash', 'removed', ... */
  stop?(reason: string): Promise<void> | void;
}

export type ActorFactory<Args = unknown, Msg = unknown, Reply = unknown> = (
  args: Args,
  ctx: ActorContext,
) => Actor<Msg, Reply> | Promise<Actor<Msg, Reply>>;

/** Identity helper that types an actor module's factory. */
export function defineActor<Args = unknown, Msg = unknown, Reply = unknown>(
  factory: ActorFactory<Args, Msg, Reply>,
): ActorFactory<Args, Msg, Reply> {
  return factory;
}

/** Picks the factory out of a loaded module: `export default` or `export const createActor`. */
export function factoryOf(mod: unknown): ActorFactory | undefined {
  if (mod === null || typeof mod !== 'object') return undefined;
  const m = mod as { default?: unknown; createActor?: unknown };
  if (typeof m.default === 'function') return m.default as ActorFactory;
  if (typeof m.createActor === 'function') return m.createActor as ActorFactory;
  return undefined;
}
