// Novu's Idempotency-Key semantics (POST only): the first request with a key is marked in progress;
// its response (success or error) is cached for the TTL and replayed with `Idempotency-Replay: true`;
// the same key while in progress gives 409 + Retry-After: 1; with a different body, 422; > 255 chars, 400.
// Keys are scoped per organization (the interceptor's cache key is `${NODE_ENV}-${organizationId}-${key}`), so
// two environments of one organization share them.
import { createHash } from 'node:crypto';
import { errorReply, type Reply } from './http.js';
import type { IdempotencyOptions } from './types.js';

export const IDEMPOTENCY_DOCS_LINK = 'https://docs.novu.co/additional-resources/idempotency';
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const DAY_MS = 24 * 60 * 60 * 1000;
const FIVE_MIN_MS = 5 * 60 * 1000;

interface Entry {
  bodyHash: string;
  state: 'in-progress' | 'done';
  reply?: Reply;
  expiresAt: number;
}

/** What the interceptor decides before the handler runs. */
export type IdempotencyGate =
  { kind: 'proceed'; finish: (reply: Reply) => void } | { kind: 'answer'; reply: Reply; replay: boolean };

export class IdempotencyCache {
  readonly #ttlMs: number;
  readonly #inProgressTtlMs: number;
  readonly #errorReplay: 'original' | 'service-unavailable';
  /** Injected 5xx faults are cached and replayed too (they happen inside the interceptor). */
  readonly replayServerErrors: boolean;
  readonly #now: () => number;
  #entries = new Map<string, Entry>();

  constructor(options: IdempotencyOptions, now: () => number) {
    this.#ttlMs = options.ttlMs ?? DAY_MS;
    this.#inProgressTtlMs = options.inProgressTtlMs ?? FIVE_MIN_MS;
    this.#errorReplay = options.errorReplay ?? 'original';
    this.replayServerErrors = options.replayServerErrors === true;
    this.#now = now;
  }

  /** Novu hashes JSON.stringify of the parsed body (blake2s256), so key order matters, spacing does not. */
  static hashBody(body: unknown): string {
    return createHash('blake2s256')
      .update(JSON.stringify(body ?? {}))
      .digest('hex');
  }

  /** `scope` is the organization of the request's API key. */
  gate(scope: string, key: string, body: unknown, path: string): IdempotencyGate {
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      return {
        kind: 'answer',
        replay: false,
        reply: errorReply(
          400,
          path,
          `idempotencyKey "${key}" has exceeded the maximum allowed length of ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
        ),
      };
    }
    const now = this.#now();
    const bodyHash = IdempotencyCache.hashBody(body);
    const cacheKey = `${scope}\u0000${key}`;
    const existing = this.#entries.get(cacheKey);
    if (existing === undefined || existing.expiresAt <= now) {
      const entry: Entry = { bodyHash, state: 'in-progress', expiresAt: now + this.#inProgressTtlMs };
      this.#entries.set(cacheKey, entry);
      return {
        kind: 'proceed',
        finish: (reply) => {
          // A reset() in between replaced the map; do not resurrect the key.
          if (this.#entries.get(cacheKey) !== entry) return;
          entry.state = 'done';
          entry.reply = { status: reply.status, body: reply.body };
          entry.expiresAt = this.#now() + this.#ttlMs;
        },
      };
    }
    const keyHeader = { 'idempotency-key': key };
    if (existing.state === 'in-progress') {
      return {
        kind: 'answer',
        replay: false,
        reply: errorReply(
          409,
          path,
          `Request with key "${key}" is currently being processed. Please retry after 1 second`,
          {},
          { ...keyHeader, 'retry-after': '1', link: IDEMPOTENCY_DOCS_LINK },
        ),
      };
    }
    if (existing.bodyHash !== bodyHash) {
      return {
        kind: 'answer',
        replay: false,
        reply: errorReply(
          422,
          path,
          `Request with key "${key}" is being reused for a different body`,
          {},
          { ...keyHeader, link: IDEMPOTENCY_DOCS_LINK },
        ),
      };
    }
    const cached = existing.reply ?? { status: 500 };
    const replayHeaders = { ...keyHeader, 'idempotency-replay': 'true' };
    if (cached.status >= 400 && this.#errorReplay === 'service-unavailable') {
      return {
        kind: 'answer',
        replay: true,
        reply: errorReply(503, path, 'Service Unavailable', { withError: false }, replayHeaders),
      };
    }
    return { kind: 'answer', replay: true, reply: { ...cached, headers: replayHeaders } };
  }

  clear(): void {
    this.#entries = new Map();
  }
}
