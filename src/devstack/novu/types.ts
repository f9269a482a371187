// Public types of the Novu API stand-in: start options, what it records (requests, deliveries,
// ignored triggers) and the fault switches. No runtime code lives here.

/** A workflow the stand-in knows, with optional behaviour. A bare string means `{ id }`. */
export interface WorkflowSpec {
  id: string;
  /** Hold each delivery this long (a "delay" step); until then `cancel` answers true and prevents it. */
  delayMs?: number;
  /** Answer this non-processed status (201, acknowledged, no transactionId) instead of delivering. */
  status?: 'trigger_not_active' | 'no_workflow_steps_defined' | 'no_workflow_active_steps_defined';
}

export interface IdempotencyOptions {
  /** How long a finished response is replayed (Novu: 24 h). */
  ttlMs?: number;
  /** How long a key stays "in progress" if its request never finishes (Novu: 5 min). */
  inProgressTtlMs?: number;
  /**
   * How a cached *error* is replayed. 'original' (default): its status and body, as Novu's interceptor rebuilds
   * the cached HttpException (idempotency.interceptor.ts buildError). 'service-unavailable': a 503, what the
   * interceptor answers when the cached entry cannot be read back (its catch-all ServiceUnavailableException).
   */
  errorReplay?: 'original' | 'service-unavailable';
  /**
   * Server errors are cached too and replayed to every retry with the same key for the TTL, as Novu's interceptor
   * does with whatever its handler threw: the injected 5xx faults (failNext, failFraction) then happen inside the
   * interceptor. Default false: those faults happen in front of it, and a retry runs the request again.
   */
  replayServerErrors?: boolean;
}

/** A Novu environment: its own API keys, rate-limit buckets and transactionIds, in an organization. */
export interface EnvironmentSpec {
  id: string;
  /** Idempotency keys are scoped per organization (Novu's cache key), shared by its environments. Default 'default'. */
  organization?: string;
  apiKeys: readonly string[];
}

export interface RateLimitOptions {
  /** Requests per second of the trigger category (every /v1/events route); default: the profile's. */
  rps?: number;
  /** Per-category requests per second over the profile's (configuration and global have no route here). */
  categories?: Partial<Record<'trigger' | 'configuration' | 'global', number>>;
  /** Extra capacity above rps × window, in percent (Novu: 10). */
  burstPct?: number;
  /** Refill window in seconds (Novu: 5). */
  windowS?: number;
  /** Shown in RateLimit-Policy (Novu: free | pro | business | enterprise | unlimited); default: the profile's. */
  serviceLevel?: string;
}

export interface NovuStandinOptions {
  port?: number;
  host?: string;
  /** Accepted secret keys (environment "default"), or 'any' for any non-empty key. Default: [DEFAULT_NOVU_API_KEY]. */
  apiKeys?: readonly string[] | 'any';
  /** More environments, each with its keys; keys listed here are accepted too. */
  environments?: readonly EnvironmentSpec[];
  /**
   * Novu plan whose API rate limits apply (rate-limit.ts): free, pro, team, enterprise, or unlimited (default:
   * no limiter, as self-hosted Novu with its feature flag off). `rateLimit` sets numbers on its own over it.
   */
  profile?: 'free' | 'pro' | 'team' | 'enterprise' | 'unlimited';
  /**
   * Novu checks a repeated transactionId in its worker, against the jobs that exist by then, so the check is not
   * atomic: a repeat whose check comes within this many ms of the first trigger is delivered again. Default 0
   * (every repeat is caught).
   */
  transactionIdRaceMs?: number;
  /** Known workflows, or 'any' (every name is a plain delivering workflow). Default: 'any'. */
  workflows?: readonly (string | WorkflowSpec)[] | 'any';
  /** Known tenant identifiers, or 'any'. Default: 'any'. */
  tenants?: readonly string[] | 'any';
  /** Idempotency-Key handling; true (default) uses Novu's TTLs. */
  idempotency?: boolean | IdempotencyOptions;
  /** Token-bucket rate limit numbers (over `profile`'s); off by default (as in self-hosted Novu). */
  rateLimit?: RateLimitOptions | false;
  /** Per-event payload limit in bytes (Novu: 524288). */
  maxPayloadBytes?: number;
  /** Recipients allowed in one trigger's `to` (Novu: 100). */
  maxRecipients?: number;
  /** Raw request body limit in bytes (Novu's body parser: 20 MB). */
  bodyLimitBytes?: number;
  /** Clock used for idempotency TTLs and the rate limiter (ms). Default Date.now. */
  now?: () => number;
  /** Upper bound for close(), in ms. Default 2000. */
  closeTimeoutMs?: number;
}

/** One HTTP request as received, and what became of it. */
export interface RecordedRequest {
  seq: number;
  method: string;
  /** The request target as sent (path plus query). */
  path: string;
  /** Lower-cased header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  idempotencyKey: string | undefined;
  /** The parsed JSON body, the raw text if it was not JSON, or undefined if empty. */
  body: unknown;
  receivedAt: number;
  /** The status sent, or null if no response was sent (reset, client gone, still pending). */
  status: number | null;
  outcome: 'pending' | 'responded' | 'reset' | 'client-gone';
  /** The response headers sent (lower-cased); {} until a response is sent. */
  responseHeaders: Record<string, string>;
  /** True when the response was an idempotent replay. */
  replay: boolean;
  respondedAt: number | undefined;
}

export type DeliveryKind = 'trigger' | 'bulk' | 'broadcast';

/** A trigger Novu would have turned into notifications. */
export interface Delivery {
  kind: DeliveryKind;
  workflow: string;
  /** The recipients as sent, always as an array; [] for a broadcast. */
  to: unknown[];
  payload: Record<string, unknown>;
  /** The tenant as sent (string or {identifier, ...}). */
  tenant: unknown;
  /** The tenant identifier, if any. */
  tenantId: string | undefined;
  actor: unknown;
  overrides: unknown;
  context: unknown;
  transactionId: string;
  idempotencyKey: string | undefined;
  /** The environment whose API key sent it. */
  environment: string;
  /** seq of the request that caused it. */
  requestSeq: number;
  /** When it was accepted. */
  acceptedAt: number;
  /** When it was delivered (later than acceptedAt for a delayed workflow). */
  at: number;
}

/** A trigger that was answered `processed` but not delivered, and why. */
export interface IgnoredTrigger {
  workflow: string;
  transactionId: string;
  reason: 'duplicate-transaction';
  requestSeq: number;
  at: number;
}

export interface LatencyOptions {
  /** How many requests are slowed; unlimited (until clear) if omitted. */
  count?: number;
  /**
   * 'response' (default): the request is processed at once and only the response waits, so a client
   * timeout loses a response for work that was done. 'processing': the work itself waits, inside the
   * idempotency "in progress" window, so a concurrent request with the same key gets 409.
   */
  phase?: 'response' | 'processing';
}

export interface FailOptions {
  /** HTTP status, 500 by default (any 5xx). */
  status?: number;
  /** Process the request first, then answer the error (the client cannot know it succeeded). */
  afterProcessing?: boolean;
}

export interface NovuFaults {
  /** The next n requests answer a 5xx with Novu's error body. */
  failNext(n: number, options?: FailOptions | number): void;
  /** Each request fails with this probability until clear(). */
  failFraction(fraction: number, status?: number): void;
  /** The next n requests answer 503 with no body and no content type (as a gateway would). */
  unavailableNext(n: number): void;
  /** Extra latency in ms; see LatencyOptions. */
  latency(ms: number, options?: LatencyOptions): void;
  /** The next n requests get their socket destroyed with no response (optionally after processing). */
  resetNext(n: number, options?: { afterProcessing?: boolean }): void;
  /** The next n requests answer 429 "API rate limit exceeded" with Retry-After: retryAfterS. */
  rateLimitBurst(n: number, retryAfterS: number): void;
  /** Turns every switch off. */
  clear(): void;
}

export interface NovuStandin {
  /** Base URL without /v1: pass it as `serverURL` to `new Novu(...)`. */
  readonly url: string;
  readonly port: number;
  readonly faults: NovuFaults;
  addWorkflow(workflow: string | WorkflowSpec): void;
  addTenant(identifier: string): void;
  addApiKey(key: string): void;
  /** Every request received, oldest first. */
  requests(): RecordedRequest[];
  /** Every delivered trigger, oldest first. */
  deliveries(): Delivery[];
  deliveriesFor(transactionId: string): Delivery[];
  /** Triggers answered `processed` but not delivered (repeated transactionId). */
  ignored(): IgnoredTrigger[];
  /** Deliveries held by a delayed workflow and not yet delivered or cancelled. */
  held(): Delivery[];
  /** Deliveries prevented by cancel. */
  cancelled(): Delivery[];
  /** Resolves once `deliveries().length >= n` (or rejects after timeoutMs). */
  waitForDeliveries(n: number, timeoutMs?: number): Promise<Delivery[]>;
  /**
   * Forgets records, transactions, idempotency keys, rate-limit state and faults; keeps the
   * configured keys, workflows and tenants.
   */
  reset(): void;
  /** What production bills and limits, per environment and per `tenant` field (also GET /_standin/counters). */
  counters(): NovuCounters;
  /** Stops the server; idempotent and bounded by closeTimeoutMs. */
  close(): Promise<void>;
}

export interface UsageCounters {
  /** Requests (per environment: authenticated /v1 requests; per tenant: requests carrying an event of it). */
  requests: number;
  /** Rate-limit tokens spent: 1 a single trigger or cancel, 100 a bulk or broadcast (split over a bulk's events). */
  tokens: number;
  /** Trigger events (a bulk's each count). */
  events: number;
  /** Requests refused with 429 by the token bucket. */
  throttled: number;
}

export interface NovuCounters {
  service: 'novu';
  at: string;
  profile: string;
  /** Trigger-category requests per second, window, burst, service level; null when unlimited. */
  rateLimit: { rps: number; windowS: number; burst: number; serviceLevel: string } | null;
  environments: Record<string, UsageCounters & { byRoute: Record<string, number> }>;
  tenants: Record<string, UsageCounters>;
}
