// Mailboxes over MessagePorts: request/reply with correlation ids and timeouts (parent side), and errors
// serialised as data so their stable `code` survives the trip between threads.
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { type ErrorCode, ErrorCodes, Errors, notifydError, NotifydError, toError } from '../errors.js';
import type { MailboxMessage, WireError } from './types.js';

const knownCodes = new Set<string>(Object.values(ErrorCodes));

export function serializeError(value: unknown): WireError {
  const err = toError(value);
  const code = (err as { code?: unknown }).code;
  const wire: WireError = { name: err.name, message: err.message };
  if (typeof code === 'string') wire.code = code;
  if (typeof err.stack === 'string') wire.stack = err.stack;
  return wire;
}

/** Rebuilds an error; a known catalogue code gives a NotifydError. */
export function deserializeError(wire: WireError): Error {
  let err: Error;
  if (wire.code !== undefined && knownCodes.has(wire.code)) {
    err = new NotifydError(wire.code as ErrorCode, wire.message);
  } else {
    err = new Error(wire.message);
    err.name = wire.name;
    if (wire.code !== undefined) (err as { code?: string }).code = wire.code;
  }
  if (wire.stack !== undefined) err.stack = wire.stack;
  return err;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The parent's end of one actor's mailbox: `ask` (request/reply, correlation id, timeout) and `tell`.
 * Replies arrive on the same port. `fail(err)` rejects everything in flight (the thread died, the actor
 * was removed); the mailbox can then be closed.
 */
export class Mailbox {
  readonly actorId: string;
  readonly #port: MessagePort;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #closed = false;

  constructor(actorId: string, port: MessagePort) {
    this.actorId = actorId;
    this.#port = port;
    port.on('message', (msg: MailboxMessage) => this.#onMessage(msg));
    port.unref();
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  ask<Reply = unknown>(msg: unknown, timeoutMs: number): Promise<Reply> {
    if (this.#closed) return Promise.reject(unavailable(this.actorId, 'its mailbox is closed'));
    const c = this.#next++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(c);
        if (this.#pending.size === 0) this.#port.unref();
        reject(
          notifydError(Errors.ACTOR_REQUEST_TIMEOUT, this.actorId, timeoutMs, {
            details: { actor: this.actorId, timeoutMs },
          }),
        );
      }, timeoutMs);
      this.#pending.set(c, { resolve: resolve as (v: unknown) => void, reject, timer });
      // While a reply is awaited the port keeps the process alive; otherwise it does not.
      this.#port.ref();
      try {
        this.#port.postMessage({ t: 'ask', c, m: msg } satisfies MailboxMessage);
      } catch (err) {
        clearTimeout(timer);
        this.#pending.delete(c);
        if (this.#pending.size === 0) this.#port.unref();
        reject(toError(err));
      }
    });
  }

  /** Fire and forget. Throws only when the message cannot be cloned or the mailbox is closed. */
  tell(msg: unknown): void {
    if (this.#closed) throw unavailable(this.actorId, 'its mailbox is closed');
    this.#port.postMessage({ t: 'tell', m: msg } satisfies MailboxMessage);
  }

  /** Rejects every request in flight with `err`. */
  fail(err: Error): void {
    for (const [c, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(c);
      p.reject(err);
    }
    this.#port.unref();
  }

  /** Idempotent: delivers replies already queued on the port, rejects the rest (ACTOR_UNAVAILABLE), closes. */
  close(reason = 'its mailbox was closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) {
      this.#onMessage(m.message as MailboxMessage);
    }
    this.fail(unavailable(this.actorId, reason));
    this.#port.removeAllListeners('message');
    this.#port.close();
  }

  #onMessage(msg: MailboxMessage): void {
    if (msg.t !== 'reply') return;
    const p = this.#pending.get(msg.c);
    if (p === undefined) return; // timed out already
    this.#pending.delete(msg.c);
    clearTimeout(p.timer);
    if (this.#pending.size === 0) this.#port.unref();
    if (msg.ok) p.resolve(msg.v);
    else p.reject(deserializeError(msg.e));
  }
}

export function unavailable(actorId: string, why: string): NotifydError {
  return notifydError(Errors.ACTOR_UNAVAILABLE, actorId, why, { details: { actor: actorId } });
}
