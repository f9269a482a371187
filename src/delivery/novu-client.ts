// Delivery through Novu's supported SDK (@novu/api): one trigger per notification with a deterministic
// transactionId and Idempotency-Key, a per-attempt timeout, no SDK-side retries (BullMQ owns retries), and every
// response classified into sent / permanent failure / transient failure / rate limited. A 429's pause is read from
// Retry-After (seconds or an HTTP date) or RateLimit-Reset (seconds, or an epoch some servers send) and clamped to
// NOVU_MAX_RETRY_AFTER_MS: one header must never pause every tenant of every host for hours.
import { createHash } from 'node:crypto';
import { Novu } from '@novu/api';

export interface NovuSettings {
  secretKey: string;
  apiUrl: string;
  timeoutMs: number;
  /** longest pause a 429 may ask for @defaultValue 60000 */
  maxRetryAfterMs?: number;
}

/** The pause a 429 asks for when it names none. */
export const DEFAULT_RETRY_AFTER_MS = 1000;

export interface TriggerRequest {
  enterpriseId: string;
  notificationId: string;
  /** deliveryKey(enterprise, id, armed version): both the transactionId and the Idempotency-Key */
  transactionId: string;
  workflowId: string;
  recipients: readonly string[];
  payload: Record<string, unknown>;
}

/** One Novu API call, for metrics: what, how it ended (HTTP status; undefined when no answer came), how long. */
export interface NovuCall {
  operation: 'trigger' | 'cancel' | 'trigger_bulk';
  status: number | undefined;
  ms: number;
  /** RateLimit-Remaining, when the answer carried it */
  remaining?: number;
  /** whether the answer carried RateLimit-* headers at all (undefined: no answer) */
  limited?: boolean;
  /** RateLimit-Policy ("300;w=5;burst=330;…"): tokens per window of windowS seconds, and the burst */
  policy?: RatePolicy;
}

export interface RatePolicy {
  limit: number;
  windowS: number;
  burst: number;
}

/** Reads a RateLimit-Policy header; undefined when absent or unreadable. */
export function parseRatePolicy(value: string | undefined): RatePolicy | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+)\s*(?:;|$)/.exec(value);
  if (m === null) return undefined;
  const limit = Number(m[1]);
  const windowS = Number(/(?:^|;)\s*w=(\d+(?:\.\d+)?)/.exec(value)?.[1] ?? 1);
  const burst = Number(/(?:^|;)\s*burst=(\d+)/.exec(value)?.[1] ?? limit);
  if (!(limit > 0) || !(windowS > 0) || !(burst > 0)) return undefined;
  return { limit, windowS, burst };
}

export type TriggerOutcome =
  | { kind: 'sent'; transactionId: string; replayed: boolean }
  | { kind: 'rejected'; reason: string }
  | { kind: 'transient'; reason: string }
  | { kind: 'rate_limited'; retryAfterMs: number; reason: string; clampedFromMs?: number };

/**
 * Deterministic per (enterprise, notification id, armed version): retries and crashes reuse it,
 * a re-arm gets a new one.
 */
export function deliveryKey(enterpriseId: string, notificationId: string, armedVersion: string): string {
  return `notifyd-${enterpriseId}-${notificationId}-${armedVersion}`;
}

const NOT_PROCESSED = new Set([
  'error',
  'trigger_not_active',
  'no_workflow_active_steps_defined',
  'no_workflow_steps_defined',
  'no_tenant_found',
  'invalid_recipients',
]);

export class NovuDelivery {
  private readonly novu: Novu;
  private readonly timeoutMs: number;
  private readonly maxRetryAfterMs: number;

  constructor(settings: NovuSettings) {
    this.timeoutMs = settings.timeoutMs;
    this.maxRetryAfterMs = settings.maxRetryAfterMs ?? 60_000;
    this.novu = new Novu({
      secretKey: settings.secretKey,
      serverURL: settings.apiUrl,
      timeoutMs: settings.timeoutMs,
      retryConfig: { strategy: 'none' },
    });
  }

  async trigger(req: TriggerRequest): Promise<TriggerOutcome & { call: NovuCall }> {
    const key = req.transactionId;
    const started = performance.now();
    try {
      const res = await this.novu.trigger(
        {
          workflowId: req.workflowId,
          to: [...req.recipients],
          payload: req.payload,
          tenant: req.enterpriseId,
          transactionId: key,
        },
        key,
        { timeoutMs: this.timeoutMs, retries: { strategy: 'none' } },
      );
      const call = callOf('trigger', 201, started, res.headers);
      return { ...outcomeOf(res.result, key, headerValue(res.headers, 'idempotency-replay') === 'true'), call };
    } catch (err) {
      return {
        ...classifyError(err, this.maxRetryAfterMs),
        call: callOf('trigger', statusOf(err), started, headersOf(err)),
      };
    }
  }

  /**
   * Triggers many notifications in one request (`POST /v1/events/trigger/bulk`, 1 to 100 events). Each event keeps
   * its own transactionId; the request's Idempotency-Key is derived from all of them, so the same batch retried is
   * the same request. Per-event results come back in order and are mapped one by one, exactly as single triggers'
   * answers are; an HTTP failure (429, 5xx, timeout) is every event's outcome. The call is shared by all events.
   */
  async triggerBulk(reqs: readonly TriggerRequest[]): Promise<{ outcomes: TriggerOutcome[]; call: NovuCall }> {
    const started = performance.now();
    const key = `notifyd-bulk-${createHash('sha256')
      .update(reqs.map((r) => r.transactionId).join(','))
      .digest('base64url')
      .slice(0, 32)}`;
    try {
      const res = await this.novu.triggerBulk(
        {
          events: reqs.map((req) => ({
            workflowId: req.workflowId,
            to: [...req.recipients],
            payload: req.payload,
            tenant: req.enterpriseId,
            transactionId: req.transactionId,
          })),
        },
        key,
        { timeoutMs: this.timeoutMs, retries: { strategy: 'none' } },
      );
      const call = callOf('trigger_bulk', 201, started, res.headers);
      const results = Array.isArray(res.result) ? res.result : [];
      const replayed = headerValue(res.headers, 'idempotency-replay') === 'true';
      const outcomes = reqs.map((req, i): TriggerOutcome => {
        const r = results[i];
        return r === undefined
          ? { kind: 'transient', reason: `novu bulk answer lacks event ${i} of ${reqs.length}` }
          : outcomeOf(r, req.transactionId, replayed);
      });
      return { outcomes, call };
    } catch (err) {
      const outcome = classifyError(err, this.maxRetryAfterMs);
      return {
        outcomes: reqs.map(() => outcome),
        call: callOf('trigger_bulk', statusOf(err), started, headersOf(err)),
      };
    }
  }

  /** Cancels whatever Novu still holds for the transaction (delays, digests). true when something was cancelled. */
  async cancel(
    transactionId: string,
  ): Promise<({ ok: true; cancelled: boolean } | { ok: false; outcome: TriggerOutcome }) & { call: NovuCall }> {
    const started = performance.now();
    try {
      const res = await this.novu.cancel(transactionId, undefined, {
        timeoutMs: this.timeoutMs,
        retries: { strategy: 'none' },
      });
      return { ok: true, cancelled: res.result === true, call: callOf('cancel', 200, started, res.headers) };
    } catch (err) {
      return {
        ok: false,
        outcome: classifyError(err, this.maxRetryAfterMs),
        call: callOf('cancel', statusOf(err), started, headersOf(err)),
      };
    }
  }
}

/** One trigger's answer (alone, or an item of a bulk answer) as an outcome. */
function outcomeOf(
  result: { status: unknown; error?: string[] | undefined; transactionId?: string | undefined },
  key: string,
  replayed: boolean,
): TriggerOutcome {
  const status = String(result.status);
  if (status === 'processed') return { kind: 'sent', transactionId: result.transactionId ?? key, replayed };
  if (NOT_PROCESSED.has(status)) {
    const detail = Array.isArray(result.error) && result.error.length > 0 ? ` (${result.error.join('; ')})` : '';
    return { kind: 'rejected', reason: `novu did not process the trigger: ${status}${detail}` };
  }
  return { kind: 'rejected', reason: `novu answered an unknown status: ${status}` };
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' ? s : undefined;
}

function headersOf(err: unknown): Record<string, string[]> | undefined {
  const h = (err as { headers?: unknown }).headers;
  if (h instanceof Headers) {
    const out: Record<string, string[]> = {};
    h.forEach((v, k) => {
      out[k] = [v];
    });
    return out;
  }
  return h !== null && typeof h === 'object' ? (h as Record<string, string[]>) : undefined;
}

function callOf(
  operation: NovuCall['operation'],
  status: number | undefined,
  started: number,
  headers: Record<string, string[]> | undefined,
): NovuCall {
  const remaining = Number(headerValue(headers, 'ratelimit-remaining') ?? NaN);
  const policy = parseRatePolicy(headerValue(headers, 'ratelimit-policy'));
  const limited =
    headers === undefined
      ? undefined
      : headerValue(headers, 'ratelimit-limit') !== undefined || headerValue(headers, 'ratelimit-policy') !== undefined;
  return {
    operation,
    status,
    ms: performance.now() - started,
    ...(Number.isFinite(remaining) ? { remaining } : {}),
    ...(limited === undefined ? {} : { limited }),
    ...(policy === undefined ? {} : { policy }),
  };
}

function headerValue(headers: Record<string, string[] | string> | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

/** Maps an SDK error onto an outcome by HTTP status (not by error class, which depends on the body's shape). */
export function classifyError(err: unknown, maxRetryAfterMs = 60_000): TriggerOutcome {
  const e = err as { statusCode?: unknown; message?: unknown; name?: unknown; headers?: unknown; body?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  if (status === undefined) {
    // ConnectionError, RequestTimeoutError, aborted, reset: the request may or may not have reached Novu; the
    // deterministic keys make the retry safe.
    return { kind: 'transient', reason: `novu unreachable: ${name}: ${String(e.message ?? '').slice(0, 200)}` };
  }
  const message = novuMessage(e.body) ?? String(e.message ?? '').slice(0, 200);
  if (status === 429) {
    const asked = retryAfterMs(e.headers) ?? DEFAULT_RETRY_AFTER_MS;
    const ms = Math.min(asked, maxRetryAfterMs);
    return {
      kind: 'rate_limited',
      retryAfterMs: ms,
      reason: `novu 429: ${message}`,
      ...(ms < asked ? { clampedFromMs: asked } : {}),
    };
  }
  // 401/403: a wrong or rotated key is an operator problem, not the notification's: retry (bounded) and shout.
  if (status === 408 || status === 409 || status === 401 || status === 403 || status >= 500) {
    return { kind: 'transient', reason: `novu ${status}: ${message}` };
  }
  return { kind: 'rejected', reason: `novu ${status}: ${message}` };
}

function novuMessage(body: unknown): string | undefined {
  if (typeof body !== 'string' || body === '') return undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message.slice(0, 300);
    if (Array.isArray(parsed.message)) return parsed.message.map(String).join('; ').slice(0, 300);
  } catch {
    // not JSON
  }
  return undefined;
}

/** Above this, a RateLimit-Reset value is an epoch in seconds rather than a number of seconds (~3 years). */
const EPOCH_SECONDS_FROM = 100_000_000;

/**
 * The pause a 429 asks for, in ms from now (unclamped): Retry-After in seconds or as an HTTP date, else
 * RateLimit-Reset in seconds — or as an epoch in seconds, which some servers send.
 */
export function retryAfterMs(headers: unknown, now = Date.now()): number | undefined {
  const get = (name: string): string | null => {
    if (headers instanceof Headers) return headers.get(name);
    if (headers !== null && typeof headers === 'object') {
      const v = (headers as Record<string, unknown>)[name];
      return Array.isArray(v) ? String(v[0]) : typeof v === 'string' ? v : null;
    }
    return null;
  };
  const retryAfter = get('retry-after');
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  const reset = Number(get('ratelimit-reset') ?? '');
  if (!Number.isFinite(reset) || (get('ratelimit-reset') ?? '').trim() === '') return undefined;
  return Math.max(0, reset >= EPOCH_SECONDS_FROM ? reset * 1000 - now : reset * 1000);
}
