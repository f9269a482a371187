// Fault switches of the Novu stand-in. Each request takes at most one "instead of processing" fault,
// in this order: reset, 503 without body, 5xx, 429 burst; otherwise at most one "after processing"
// fault (reset or 5xx once the work is done). Latency is independent of both.
import type { FailOptions, LatencyOptions, NovuFaults } from './types.js';

export type PreFault =
  | { kind: 'reset' }
  | { kind: 'unavailable' }
  | { kind: 'fail'; status: number }
  | { kind: 'rate-limit'; retryAfterS: number };

export type PostFault = { kind: 'reset' } | { kind: 'fail'; status: number };

export interface FaultPlan {
  pre: PreFault | undefined;
  post: PostFault | undefined;
  processingDelayMs: number;
  responseDelayMs: number;
}

interface Latency {
  ms: number;
  remaining: number;
  phase: 'response' | 'processing';
}

function count(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`novu stand-in: ${what} count must be a non-negative integer`);
  return n;
}

function status5xx(s: number): number {
  if (!Number.isInteger(s) || s < 500 || s > 599)
    throw new RangeError(`novu stand-in: fault status must be 5xx, got ${s}`);
  return s;
}

export class Faults implements NovuFaults {
  #resetBefore = 0;
  #resetAfter = 0;
  #unavailable = 0;
  #fails: { status: number; afterProcessing: boolean }[] = [];
  #fraction: { p: number; status: number } | undefined;
  #burst: { remaining: number; retryAfterS: number } | undefined;
  #latency: Latency | undefined;

  failNext(n: number, options: FailOptions | number = {}): void {
    const o = typeof options === 'number' ? { status: options } : options;
    const status = status5xx(o.status ?? 500);
    for (let i = 0; i < count(n, 'failNext'); i++)
      this.#fails.push({ status, afterProcessing: o.afterProcessing === true });
  }

  failFraction(fraction: number, status = 500): void {
    if (!(fraction >= 0 && fraction <= 1)) throw new RangeError('novu stand-in: failFraction must be within [0, 1]');
    this.#fraction = fraction === 0 ? undefined : { p: fraction, status: status5xx(status) };
  }

  unavailableNext(n: number): void {
    this.#unavailable += count(n, 'unavailableNext');
  }

  latency(ms: number, options: LatencyOptions = {}): void {
    if (!(ms >= 0)) throw new RangeError('novu stand-in: latency must be >= 0 ms');
    this.#latency =
      ms === 0
        ? undefined
        : {
            ms,
            remaining: options.count === undefined ? Infinity : count(options.count, 'latency'),
            phase: options.phase ?? 'response',
          };
  }

  resetNext(n: number, options: { afterProcessing?: boolean } = {}): void {
    if (options.afterProcessing === true) this.#resetAfter += count(n, 'resetNext');
    else this.#resetBefore += count(n, 'resetNext');
  }

  rateLimitBurst(n: number, retryAfterS: number): void {
    if (!(retryAfterS >= 0)) throw new RangeError('novu stand-in: retryAfterS must be >= 0');
    this.#burst = { remaining: count(n, 'rateLimitBurst'), retryAfterS };
  }

  clear(): void {
    this.#resetBefore = 0;
    this.#resetAfter = 0;
    this.#unavailable = 0;
    this.#fails = [];
    this.#fraction = undefined;
    this.#burst = undefined;
    this.#latency = undefined;
  }

  /** Decides, and consumes, the faults for one incoming request. */
  plan(): FaultPlan {
    const plan: FaultPlan = { pre: this.#takePre(), post: undefined, processingDelayMs: 0, responseDelayMs: 0 };
    if (plan.pre === undefined) plan.post = this.#takePost();
    const l = this.#latency;
    if (l !== undefined && l.remaining > 0) {
      l.remaining -= 1;
      if (l.phase === 'processing' && plan.pre === undefined) plan.processingDelayMs = l.ms;
      else plan.responseDelayMs = l.ms;
    }
    return plan;
  }

  #takePre(): PreFault | undefined {
    if (this.#resetBefore > 0) {
      this.#resetBefore -= 1;
      return { kind: 'reset' };
    }
    if (this.#unavailable > 0) {
      this.#unavailable -= 1;
      return { kind: 'unavailable' };
    }
    const i = this.#fails.findIndex((f) => !f.afterProcessing);
    if (i >= 0) {
      const [f] = this.#fails.splice(i, 1);
      return { kind: 'fail', status: f!.status };
    }
    if (this.#fraction !== undefined && Math.random() < this.#fraction.p)
      return { kind: 'fail', status: this.#fraction.status };
    if (this.#burst !== undefined && this.#burst.remaining > 0) {
      this.#burst.remaining -= 1;
      return { kind: 'rate-limit', retryAfterS: this.#burst.retryAfterS };
    }
    return undefined;
  }

  #takePost(): PostFault | undefined {
    if (this.#resetAfter > 0) {
      this.#resetAfter -= 1;
      return { kind: 'reset' };
    }
    const i = this.#fails.findIndex((f) => f.afterProcessing);
    if (i >= 0) {
      const [f] = this.#fails.splice(i, 1);
      return { kind: 'fail', status: f!.status };
    }
    return undefined;
  }
}
