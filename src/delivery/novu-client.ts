// Delivery through Novu's supported SDK (@novu/api): one trigger per notification with a deterministic
// transactionId and Idempotency-Key, a per-attempt timeout, no SDK-side retries (BullMQ owns retries), and every
// response classified into sent / permanent failure / transient failure / rate limited.
import { Novu } from '@novu/api';

export interface NovuSettings {
  secretKey: string;
  apiUrl: string;
  timeoutMs: number;
}

export interface TriggerRequest {
  enterpriseId: string;
  notificationId: string;
  armedVersion: string;
  workflowId: string;
  recipients: readonly string[];
  payload: Record<string, unknown>;
}

export type TriggerOutcome =
  | { kind: 'sent'; transactionId: string; replayed: boolean }
  | { kind: 'rejected'; reason: string }
  | { kind: 'transient'; reason: string }
  | { kind: 'rate_limited'; retryAfterMs: number; reason: string };

/** Deterministic per (enterprise, notification id, armed version): retries and crashes reuse it, a re-arm gets a new one. */
export function deliveryKey(enterpriseId: string, notificationId: string, armedVersion: string): string {
  return `notifyd-${enterpriseId}-${notificationId}-${armedVersion}`;
}

const NOT_PROCESSED = new Set(['error', 'trigger_not_active', 'no_workflow_active_steps_defined', 'no_workflow_steps_defined', 'no_tenant_found', 'invalid_recipients']);

export class NovuDelivery {
  private readonly novu: Novu;
  private readonly timeoutMs: number;

  constructor(settings: NovuSettings) {
    this.timeoutMs = settings.timeoutMs;
    this.novu = new Novu({
      secretKey: settings.secretKey,
      serverURL: settings.apiUrl,
      timeoutMs: settings.timeoutMs,
      retryConfig: { strategy: 'none' },
    });
  }

  async trigger(req: TriggerRequest): Promise<TriggerOutcome> {
    const key = deliveryKey(req.enterpriseId, req.notificationId, req.armedVersion);
    try {
      const res = await this.novu.trigger({
        workflowId: req.workflowId,
        to: [...req.recipients],
        payload: req.payload,
        tenant: req.enterpriseId,
        transactionId: key,
      }, key, { timeoutMs: this.timeoutMs, retries: { strategy: 'none' } });
      const status = String(res.result.status);
      if (status === 'processed') {
        return { kind: 'sent', transactionId: res.result.transactionId ?? key, replayed: headerValue(res.headers, 'idempotency-replay') === 'true' };
      }
      if (NOT_PROCESSED.has(status)) {
        const detail = Array.isArray(res.result.error) && res.result.error.length > 0 ? ` (${res.result.error.join('; ')})` : '';
        return { kind: 'rejected', reason: `novu did not process the trigger: ${status}${detail}` };
      }
      return { kind: 'rejected', reason: `novu answered an unknown status: ${status}` };
    } catch (err) {
      return classifyError(err);
    }
  }

  /** Cancels whatever Novu still holds for the transaction (delays, digests). true when something was cancelled. */
  async cancel(transactionId: string): Promise<{ ok: true; cancelled: boolean } | { ok: false; outcome: TriggerOutcome }> {
    try {
      const res = await this.novu.cancel(transactionId, undefined, { timeoutMs: this.timeoutMs, retries: { strategy: 'none' } });
      return { ok: true, cancelled: res.result === true };
    } catch (err) {
      return { ok: false, outcome: classifyError(err) };
    }
  }
}

function headerValue(headers: Record<string, string[]> | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v[0];
  return undefined;
}

/** Maps an SDK error onto an outcome by HTTP status (not by error class, which depends on the body's shape). */
export function classifyError(err: unknown): TriggerOutcome {
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
    return { kind: 'rate_limited', retryAfterMs: retryAfterMs(e.headers) ?? 1000, reason: `novu 429: ${message}` };
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

/** Retry-After in seconds or as an HTTP date; RateLimit-Reset (seconds) as a fallback. */
export function retryAfterMs(headers: unknown): number | undefined {
  const get = (name: string): string | null => {
    if (headers instanceof Headers) return headers.get(name);
    if (headers !== null && typeof headers === 'object') {
      const v = (headers as Record<string, unknown>)[name];
      return Array.isArray(v) ? String(v[0]) : typeof v === 'string' ? v : null;
    }
    return null;
  };
  const raw = get('retry-after') ?? get('ratelimit-reset');
  if (raw === null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}
