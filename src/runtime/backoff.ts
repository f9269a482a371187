// Restart backoff: the delay formula and a per-child tracker of consecutive failures that resets after a
// stable period. Used by the in-thread actor cells and by supervisors that restart children with a delay.
//
// State machine of a BackoffTracker
//   fresh (failures = 0) ──failed()──► failures = n + 1, returns the delay for n
//   started(now) records when the child came up; a failure after ≥ resetAfterMs up counts from 0 again.
import { Errors, notifydError } from '../errors.js';
import type { BackoffPolicy } from './types.js';

/** Enterprise-actor defaults (ARCHITECTURE.md): min 1 s, max 60 s, jitter 0.2, reset after 30 s up. */
export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({
  minMs: 1_000,
  maxMs: 60_000,
  jitter: 0.2,
  resetAfterMs: 30_000,
});

/** Fills and checks a policy; throws RUNTIME_OPTION_INVALID naming the field. Returns a frozen copy. */
export function resolveBackoff(
  partial: Partial<BackoffPolicy> | undefined,
  base: BackoffPolicy = DEFAULT_BACKOFF,
): Readonly<BackoffPolicy> {
  const p: BackoffPolicy = { ...base, ...(partial ?? {}) };
  const bad = (field: string, rule: string): never => {
    throw notifydError(Errors.RUNTIME_OPTION_INVALID, `backoff.${field} must be ${rule}`, { details: { field } });
  };
  if (!Number.isFinite(p.minMs) || p.minMs < 0) bad('minMs', 'a finite number >= 0');
  if (!Number.isFinite(p.maxMs) || p.maxMs < p.minMs) bad('maxMs', 'a finite number >= minMs');
  if (!Number.isFinite(p.jitter) || p.jitter < 0 || p.jitter > 1) bad('jitter', 'between 0 and 1');
  if (!Number.isFinite(p.resetAfterMs) || p.resetAfterMs < 0) bad('resetAfterMs', 'a finite number >= 0');
  return Object.freeze(p);
}

/**
 * The delay before restart number `n + 1` (n = consecutive failures before this one, 0-based):
 * `min(maxMs, minMs·2^n)·(1 + jitter·rand)`. From n ≥ 30 the exponential part is `maxMs` (no overflow).
 * The jitter may take the result above `maxMs` by at most the jitter factor, as in Akka.
 */
export function backoffDelay(policy: BackoffPolicy, n: number, rand: () => number = Math.random): number {
  const exp = n >= 30 ? policy.maxMs : Math.min(policy.maxMs, policy.minMs * 2 ** Math.max(0, n));
  return Math.round(exp * (1 + policy.jitter * rand()));
}

export class BackoffTracker {
  readonly policy: Readonly<BackoffPolicy>;
  #failures = 0;
  #upSince: number | undefined;
  readonly #rand: () => number;

  constructor(policy: Partial<BackoffPolicy> | undefined, rand: () => number = Math.random) {
    this.policy = resolveBackoff(policy);
    this.#rand = rand;
  }

  /** Consecutive failures since the last stable period. */
  get failures(): number {
    return this.#failures;
  }

  /** The child came up at `now` (ms, monotonic or wall: be consistent). */
  started(now: number): void {
    this.#upSince = now;
  }

  /** True when the child has been up for the reset period (the caller may then call reset()). */
  isStable(now: number): boolean {
    return this.#upSince !== undefined && now - this.#upSince >= this.policy.resetAfterMs;
  }

  /** Records a failure at `now`; returns the delay before the next start and the failure count. */
  failed(now: number): { delayMs: number; failures: number } {
    if (this.isStable(now)) this.#failures = 0;
    this.#upSince = undefined;
    const delayMs = backoffDelay(this.policy, this.#failures, this.#rand);
    this.#failures += 1;
    return { delayMs, failures: this.#failures };
  }

  reset(): void {
    this.#failures = 0;
  }
}
