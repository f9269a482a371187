// Novu's API rate limit as a token bucket per category: capacity rps × window × (1 + burst), refilled
// by rps × window tokens once per window (5 s); a single request costs 1, bulk and broadcast 100.
// Every limited response carries RateLimit-Limit/Remaining/Reset/Policy; a refusal adds Retry-After.
import type { RateLimitOptions } from './types.js';

export type RateLimitCategory = 'trigger' | 'global';
export type RateLimitCost = 'single' | 'bulk';
export const COSTS: Record<RateLimitCost, number> = { single: 1, bulk: 100 };
export const THROTTLED_MESSAGE = 'API rate limit exceeded';

export interface RateDecision {
  success: boolean;
  headers: Record<string, string>;
  /** Seconds until the next refill (also the Retry-After value on refusal). */
  resetS: number;
}

/** A discrete-refill token bucket, like @upstash/ratelimit's tokenBucket that Novu uses. */
export class TokenBucket {
  readonly refill: number;
  readonly capacity: number;
  readonly windowMs: number;
  #tokens: number;
  #lastRefill: number;

  constructor(refill: number, capacity: number, windowMs: number, now: number) {
    this.refill = refill;
    this.capacity = capacity;
    this.windowMs = windowMs;
    this.#tokens = capacity;
    this.#lastRefill = now;
  }

  take(cost: number, now: number): { success: boolean; remaining: number; resetAt: number } {
    const windows = Math.floor((now - this.#lastRefill) / this.windowMs);
    if (windows > 0) {
      this.#tokens = Math.min(this.capacity, this.#tokens + windows * this.refill);
      this.#lastRefill += windows * this.windowMs;
    }
    const resetAt = this.#lastRefill + this.windowMs;
    if (this.#tokens < cost) return { success: false, remaining: Math.floor(this.#tokens), resetAt };
    this.#tokens -= cost;
    return { success: true, remaining: Math.floor(this.#tokens), resetAt };
  }
}

export class RateLimiter {
  readonly limit: number;
  readonly burst: number;
  readonly windowS: number;
  readonly #serviceLevel: string;
  readonly #now: () => number;
  #buckets = new Map<RateLimitCategory, TokenBucket>();

  constructor(options: RateLimitOptions, now: () => number) {
    if (!(options.rps > 0)) throw new RangeError('novu stand-in: rateLimit.rps must be > 0');
    this.windowS = options.windowS ?? 5;
    this.limit = Math.round(options.rps * this.windowS);
    this.burst = Math.floor(this.limit * (1 + (options.burstPct ?? 10) / 100));
    this.#serviceLevel = options.serviceLevel ?? 'free';
    this.#now = now;
  }

  take(category: RateLimitCategory, cost: RateLimitCost): RateDecision {
    const now = this.#now();
    let bucket = this.#buckets.get(category);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.limit, this.burst, this.windowS * 1000, now);
      this.#buckets.set(category, bucket);
    }
    const r = bucket.take(COSTS[cost], now);
    const resetS = Math.max(Math.ceil((r.resetAt - now) / 1000), 0);
    const headers: Record<string, string> = {
      'ratelimit-remaining': String(r.remaining),
      'ratelimit-limit': String(this.limit),
      'ratelimit-reset': String(resetS),
      'ratelimit-policy': this.policy(category, cost),
    };
    if (!r.success) headers['retry-after'] = String(resetS);
    return { success: r.success, headers, resetS };
  }

  policy(category: RateLimitCategory, cost: RateLimitCost): string {
    return `${this.limit};w=${this.windowS};burst=${this.burst};comment="token bucket";category="${category}";cost="${cost}";serviceLevel="${this.#serviceLevel}"`;
  }

  clear(): void {
    this.#buckets.clear();
  }
}
