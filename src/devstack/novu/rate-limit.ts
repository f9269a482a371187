// Novu's API rate limit, as its source runs it (apps/api/src/app/rate-limiting: throttler.guard.ts,
// evaluate-api-rate-limit.usecase.ts, evaluate-token-bucket-rate-limit.usecase.ts): a token bucket per environment
// and category, burst = floor(rps × window × (1 + 10 %)) tokens, refilled one token every window / (rps × window) ms
// but only once the bucket cannot pay (“delay refill until bucket is empty”), the bucket forgotten 2 windows after
// its last refill; a single request costs 1, bulk and broadcast 100. A refused cost is then blocked without asking
// the bucket until its reset (the limiter's ephemeral cache). Every limited response carries RateLimit-Remaining,
// -Limit (rps × window), -Reset (seconds) and -Policy; a refusal adds Retry-After (seconds, may be 0).
// Plans (docs.novu.co/api-reference/rate-limiting; the code calls Team "business"): see PROFILES.
import type { RateLimitOptions } from './types.js';

export type RateLimitCategory = 'trigger' | 'configuration' | 'global';
export type RateLimitCost = 'single' | 'bulk';
export const COSTS: Record<RateLimitCost, number> = { single: 1, bulk: 100 };
export const THROTTLED_MESSAGE = 'API rate limit exceeded';

export type NovuProfile = 'free' | 'pro' | 'team' | 'enterprise' | 'unlimited';
export const NOVU_PROFILES: readonly NovuProfile[] = ['free', 'pro', 'team', 'enterprise', 'unlimited'];

/** Requests per second per category, and the service level the Policy header names. */
export const PROFILES: Readonly<
  Record<
    Exclude<NovuProfile, 'unlimited'>,
    {
      serviceLevel: string;
      rps: Readonly<Record<RateLimitCategory, number>>;
    }
  >
> = {
  free: { serviceLevel: 'free', rps: { trigger: 60, configuration: 20, global: 30 } },
  pro: { serviceLevel: 'pro', rps: { trigger: 240, configuration: 80, global: 120 } },
  team: { serviceLevel: 'business', rps: { trigger: 600, configuration: 200, global: 300 } },
  enterprise: { serviceLevel: 'enterprise', rps: { trigger: 6000, configuration: 2000, global: 3000 } },
};

export function parseNovuProfile(value: string): NovuProfile {
  if ((NOVU_PROFILES as readonly string[]).includes(value)) return value as NovuProfile;
  throw new RangeError(`unknown Novu profile "${value}" (one of ${NOVU_PROFILES.join(', ')})`);
}

export interface RateDecision {
  success: boolean;
  headers: Record<string, string>;
  /** Seconds until the cost can be paid (also the Retry-After value on refusal). */
  resetS: number;
  cost: number;
}

interface BucketState {
  lastRefill: number;
  tokens: number;
  expiresAt: number;
}

/** One bucket's arithmetic, line for line with Novu's Lua script. */
export function takeTokens(
  state: BucketState | undefined,
  cost: number,
  maxTokens: number,
  fillIntervalMs: number,
  windowMs: number,
  now: number,
): { state: BucketState; success: boolean; remaining: number; reset: number } {
  let remaining: number;
  let resetCost: number;
  let lastRefill: number;
  let next: BucketState;
  if (state === undefined || state.expiresAt <= now) {
    lastRefill = now;
    remaining = maxTokens - cost;
    resetCost = remaining < cost ? cost - remaining : cost;
    next = { lastRefill, tokens: remaining, expiresAt: now + windowMs * 2 };
  } else if (state.tokens >= cost) {
    lastRefill = state.lastRefill;
    remaining = state.tokens - cost;
    resetCost = remaining < cost ? cost - remaining : cost;
    next = { ...state, tokens: remaining };
  } else {
    const add = Math.floor((now - state.lastRefill) / fillIntervalMs);
    const newTokens = Math.min(maxTokens, state.tokens + add);
    remaining = newTokens - cost;
    if (remaining >= 0) {
      lastRefill = state.lastRefill + add * fillIntervalMs;
      resetCost = remaining < cost ? cost - remaining : cost;
      next = { lastRefill, tokens: remaining, expiresAt: now + windowMs * 2 };
    } else {
      lastRefill = state.lastRefill;
      resetCost = cost - state.tokens;
      next = state;
    }
  }
  const reset = lastRefill + resetCost * fillIntervalMs;
  return { state: next, success: remaining >= 0, remaining: Math.max(0, remaining), reset };
}

export class RateLimiter {
  readonly windowS: number;
  readonly burstPct: number;
  readonly serviceLevel: string;
  readonly #rps: Readonly<Record<RateLimitCategory, number>>;
  readonly #now: () => number;
  #buckets = new Map<string, BucketState>();
  #blocked = new Map<string, number>();

  constructor(options: RateLimitOptions & { profile?: NovuProfile }, now: () => number) {
    const plan = options.profile;
    const base = plan !== undefined && plan !== 'unlimited' ? PROFILES[plan] : undefined;
    const trigger = options.rps ?? options.categories?.trigger ?? base?.rps.trigger;
    if (trigger === undefined || !(trigger > 0)) throw new RangeError('novu stand-in: rateLimit.rps must be > 0');
    this.#rps = {
      trigger,
      configuration: options.categories?.configuration ?? base?.rps.configuration ?? trigger,
      global: options.categories?.global ?? base?.rps.global ?? trigger,
    };
    this.windowS = options.windowS ?? 5;
    this.burstPct = options.burstPct ?? 10;
    this.serviceLevel = options.serviceLevel ?? base?.serviceLevel ?? 'free';
    this.#now = now;
  }

  /** rps × window: the RateLimit-Limit header and the tokens refilled per window. */
  limit(category: RateLimitCategory = 'trigger'): number {
    return this.#rps[category] * this.windowS;
  }

  burst(category: RateLimitCategory = 'trigger'): number {
    return Math.floor(this.limit(category) * (1 + this.burstPct / 100));
  }

  take(environment: string, category: RateLimitCategory, costName: RateLimitCost): RateDecision {
    const now = this.#now();
    const cost = COSTS[costName];
    const limit = this.limit(category);
    const windowMs = this.windowS * 1000;
    const key = `${environment}\u0000${category}`;
    const blockKey = `${key}\u0000${cost}`;
    let success: boolean;
    let remaining: number;
    let reset: number;
    const blockedUntil = this.#blocked.get(blockKey);
    if (blockedUntil !== undefined && blockedUntil > now) {
      [success, remaining, reset] = [false, 0, blockedUntil];
    } else {
      const r = takeTokens(this.#buckets.get(key), cost, this.burst(category), windowMs / limit, windowMs, now);
      this.#buckets.set(key, r.state);
      [success, remaining, reset] = [r.success, r.remaining, r.reset];
      if (!success) this.#blocked.set(blockKey, reset);
    }
    const resetS = Math.max(Math.ceil((reset - now) / 1000), 0);
    const headers: Record<string, string> = {
      'ratelimit-remaining': String(remaining),
      'ratelimit-limit': String(limit),
      'ratelimit-reset': String(resetS),
      'ratelimit-policy': this.policy(category, costName),
    };
    if (!success) headers['retry-after'] = String(resetS);
    return { success, headers, resetS, cost };
  }

  policy(category: RateLimitCategory, cost: RateLimitCost): string {
    return (
      `${this.limit(category)};w=${this.windowS};burst=${this.burst(category)};comment="token bucket";` +
      `category="${category}";cost="${cost}";serviceLevel="${this.serviceLevel}"`
    );
  }

  clear(): void {
    this.#buckets.clear();
    this.#blocked.clear();
  }
}
