// Entry point of the Novu API stand-in (see server.ts for the overview and types.ts for the API).
export { DEFAULT_NOVU_API_KEY, NOVU_MAX_PAYLOAD_BYTES, startNovuStandin } from './server.js';
export { IDEMPOTENCY_DOCS_LINK, MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency.js';
export { MAX_BULK_EVENTS } from './events.js';
export { THROTTLED_MESSAGE } from './rate-limit.js';
export type {
  Delivery, DeliveryKind, FailOptions, IdempotencyOptions, IgnoredTrigger, LatencyOptions, NovuFaults, NovuStandin,
  NovuStandinOptions, RateLimitOptions, RecordedRequest, WorkflowSpec,
} from './types.js';
