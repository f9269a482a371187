// Realtime stand-in: Supabase's per-project Realtime limits — the plan profiles, and the rate counter the real
// server keeps per tenant (Realtime.RateCounter: one bucket per 5 s tick, the last 12 kept, average per second
// over the buckets there are, "triggered" from the tick where the average reaches the limit until the tick where
// it falls below it again; lib/realtime/rate_counter/rate_counter.ex, lib/realtime/tenants.ex).
//
// Plan numbers: supabase.com/docs/guides/realtime/limits ("Limits by plan"): Free 200 concurrent connections,
// 100 messages/s, 100 joins/s; Pro 500 / 500 / 500; Team 10,000 / 2,500 / 2,500 (the same column as "Pro (no
// spend cap)"); 100 channels per connection on every plan. `unlimited` lifts all but the 100 channels per
// connection, which is the server's own default (TENANT_MAX_CHANNELS_PER_CLIENT) and what tests ran against so far.

export type RealtimeProfile = 'free' | 'pro' | 'team' | 'unlimited';
export const REALTIME_PROFILES: readonly RealtimeProfile[] = ['free', 'pro', 'team', 'unlimited'];

export interface RealtimeLimits {
  /** Sockets of the project that joined a channel (Census "users"); over it, upgrades get 429. */
  maxConcurrentUsers: number;
  /**
   * Messages per second (60 s average), counted twice as on the server: postgres_changes per matching subscription
   * (over it, changes are skipped) and channel messages — broadcasts sent and delivered (over it, a channel that
   * receives one gets "Too many messages per second" and phx_close).
   */
  maxEventsPerSecond: number;
  /** Channel joins per second (60 s average); over it, ClientJoinRateLimitReached and close 1001. */
  maxJoinsPerSecond: number;
  /** Channels on one socket; over it, "ChannelRateLimitReached: Too many channels". */
  maxChannelsPerClient: number;
}

export const PROFILE_LIMITS: Readonly<Record<RealtimeProfile, RealtimeLimits>> = {
  free: { maxConcurrentUsers: 200, maxEventsPerSecond: 100, maxJoinsPerSecond: 100, maxChannelsPerClient: 100 },
  pro: { maxConcurrentUsers: 500, maxEventsPerSecond: 500, maxJoinsPerSecond: 500, maxChannelsPerClient: 100 },
  team: { maxConcurrentUsers: 10_000, maxEventsPerSecond: 2_500, maxJoinsPerSecond: 2_500, maxChannelsPerClient: 100 },
  unlimited: {
    maxConcurrentUsers: Infinity,
    maxEventsPerSecond: Infinity,
    maxJoinsPerSecond: Infinity,
    maxChannelsPerClient: 100,
  },
};

export interface RateWindow {
  /** Bucket length in ms (the server: 5000). */
  tickMs: number;
  /** Buckets kept (the server: 12, i.e. 60 s). */
  buckets: number;
}

export const SERVER_RATE_WINDOW: RateWindow = { tickMs: 5000, buckets: 12 };

export function parseRealtimeProfile(value: string): RealtimeProfile {
  if ((REALTIME_PROFILES as readonly string[]).includes(value)) return value as RealtimeProfile;
  throw new RangeError(`unknown Realtime profile "${value}" (one of ${REALTIME_PROFILES.join(', ')})`);
}

/** One per-tenant counter with a limit, evaluated at each tick like Realtime.RateCounter. */
export class RateCounter {
  private count = 0;
  private readonly bucket: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Average per second over the kept buckets, as of the last tick. */
  avg = 0;
  triggered = false;
  /** Ticks at which the limit was reached (for the stats). */
  triggers = 0;

  constructor(
    readonly limit: number,
    private readonly window: RateWindow,
  ) {}

  add(n = 1): void {
    if (this.limit === Infinity) return;
    this.count += n;
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.window.tickMs);
      this.timer.unref();
    }
  }

  private tick(): void {
    this.bucket.unshift(this.count);
    this.count = 0;
    if (this.bucket.length > this.window.buckets) this.bucket.length = this.window.buckets;
    const sum = this.bucket.reduce((a, b) => a + b, 0);
    this.avg = sum / this.bucket.length / (this.window.tickMs / 1000);
    if (this.triggered) {
      if (this.avg < this.limit) this.triggered = false;
    } else if (this.avg >= this.limit) {
      this.triggered = true;
      this.triggers += 1;
    }
    if (sum === 0 && !this.triggered) this.stop();
  }

  /** Stops ticking (an idle counter starts again, empty, on the next add — like the server's idle shutdown). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.bucket.length = 0;
    this.avg = 0;
  }
}
