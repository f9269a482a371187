// Small helpers the runtime modules share: deferreds, bounded waits, bounded-concurrency maps, safe emits.
import type { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger.js';
import { describeError } from '../errors.js';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
  settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const d = { settled: false } as Deferred<T>;
  d.promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  d.resolve = (v) => {
    if (d.settled) return;
    d.settled = true;
    resolve(v);
  };
  d.reject = (e) => {
    if (d.settled) return;
    d.settled = true;
    reject(e);
  };
  return d;
}

export const kTimedOut: unique symbol = Symbol('timed-out');

/** Resolves with the promise's value, or with kTimedOut after `ms`. Never rejects on timeout. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof kTimedOut> {
  if (ms === Infinity) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof kTimedOut>((resolve) => {
    timer = setTimeout(() => resolve(kTimedOut), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise that resolves after `ms` (or at once when the signal aborts). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Math.max(1, Math.min(limit, items.length));
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return results;
}

/** Emits without letting a listener's throw escape into the runtime. */
export function safeEmit(emitter: EventEmitter, log: Logger, event: string, ...args: unknown[]): void {
  try {
    emitter.emit(event, ...args);
  } catch (err) {
    log.error({ event: 'listener_error', listener_of: event, err: describeError(err) }, 'an event listener threw');
  }
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** Monotonic milliseconds. */
export function now(): number {
  return performance.now();
}
