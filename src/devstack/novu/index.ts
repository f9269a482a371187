// Entry point of the Novu API stand-in (see server.ts for the overview and types.ts for the API).
export { COUNTERS_PATH, DEFAULT_NOVU_API_KEY, NOVU_MAX_PAYLOAD_BYTES, startNovuStandin } from './server.js';
export { IDEMPOTENCY_DOCS_LINK, MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency.js';
export { MAX_BULK_EVENTS } from './events.js';
export { NOVU_PROFILES, parseNovuProfile, THROTTLED_MESSAGE, type NovuProfile } from './rate-limit.js';
export type {
  Delivery,
  DeliveryKind,
  EnvironmentSpec,
  FailOptions,
  NovuCounters,
  UsageCounters,
  IdempotencyOptions,
  IgnoredTrigger,
  LatencyOptions,
  NovuFaults,
  NovuStandin,
  NovuStandinOptions,
  RateLimitOptions,
  RecordedRequest,
  WorkflowSpec,
} from './types.js';
