// One request through the Novu stand-in, in Novu's order: body parsing, faults, routing (404), API-key
// auth (401), the rate limiter (429; app.module.ts registers it before the idempotency interceptor, so a 429 is
// never cached), the Idempotency-Key interceptor, the events handler; then the after-processing faults and the
// response latency. Every step is recorded on the request's record, and usage (usage.ts) per environment.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventsApi } from './events.js';
import type { Faults, FaultPlan } from './faults.js';
import {
  errorBody,
  errorReply,
  flatHeaders,
  INTERNAL_ERROR_MESSAGE,
  readBody,
  reasonPhrase,
  sleep,
  writeReply,
  type Reply,
} from './http.js';
import type { IdempotencyCache } from './idempotency.js';
import { COSTS, THROTTLED_MESSAGE, type RateLimiter } from './rate-limit.js';
import type { Records } from './records.js';
import type { RecordedRequest } from './types.js';
import type { Usage } from './usage.js';

/** The environment an API key belongs to, and its organization (the idempotency scope). */
export interface KeyOwner {
  environment: string;
  organization: string;
}

export interface PipelineDeps {
  records: Records;
  faults: Faults;
  events: EventsApi;
  idempotency: IdempotencyCache | undefined;
  limiter: RateLimiter | undefined;
  usage: Usage;
  ownerOf: (key: string) => KeyOwner | undefined;
  bodyLimitBytes: number;
  closing: AbortSignal;
}

type Route = { op: 'trigger' | 'bulk' | 'broadcast' } | { op: 'cancel'; transactionId: string };

const POST_ROUTES: Record<string, 'trigger' | 'bulk' | 'broadcast'> = {
  '/v1/events/trigger': 'trigger',
  '/v1/events/trigger/bulk': 'bulk',
  '/v1/events/trigger/broadcast': 'broadcast',
};
const CANCEL_ROUTE = /^\/v1\/events\/trigger\/([^/]+)$/;

function route(method: string, pathname: string): Route | undefined {
  const p = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  if (method === 'POST') {
    const op = POST_ROUTES[p];
    return op === undefined ? undefined : { op };
  }
  if (method === 'DELETE') {
    const m = CANCEL_ROUTE.exec(p);
    if (m?.[1] !== undefined) {
      try {
        return { op: 'cancel', transactionId: decodeURIComponent(m[1]) };
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Novu's API-key guard: undefined when accepted, else the 401 message. */
export function authFailure(header: string | undefined, isKnownKey: (k: string) => boolean): string | undefined {
  if (header === undefined || header.trim() === '') return 'Missing authorization header';
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'ApiKey') {
    if (value === '') return 'Unauthorized';
    return isKnownKey(value) ? undefined : 'API Key not found';
  }
  if (scheme === 'Bearer') return 'Unauthorized';
  return `Invalid authentication scheme: "${scheme}"`;
}

/** The key of an `ApiKey <key>` header (auth has accepted it). */
function apiKeyOf(header: string | undefined): string {
  const h = header ?? '';
  const space = h.indexOf(' ');
  return space < 0 ? '' : h.slice(space + 1).trim();
}

function faultReply(status: number, path: string): Reply {
  if (status === 500) return errorReply(500, path, INTERNAL_ERROR_MESSAGE, { withError: false, errorId: randomUUID() });
  return errorReply(status, path, reasonPhrase(status), { withError: false });
}

function parseBody(text: string): { body: unknown; invalid: boolean } {
  if (text.trim() === '') return { body: undefined, invalid: false };
  try {
    return { body: JSON.parse(text) as unknown, invalid: false };
  } catch {
    return { body: text, invalid: true };
  }
}

export async function handleRequest(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.on('error', () => {});
  const read = await readBody(req, deps.bodyLimitBytes);
  const headers = flatHeaders(req);
  const method = (req.method ?? 'GET').toUpperCase();
  const path = req.url ?? '/';
  const pathname = path.split('?')[0] ?? '/';
  const parsed = read.ok ? parseBody(read.text) : { body: undefined, invalid: false };
  const idempotencyKey = headers['idempotency-key'] === '' ? undefined : headers['idempotency-key'];
  const rec = deps.records.addRequest({
    method,
    path,
    headers,
    idempotencyKey,
    body: parsed.body,
    receivedAt: Date.now(),
  });
  const plan = deps.faults.plan();
  const extra: Record<string, string> = {};

  const finish = async (reply: Reply | 'reset', replay = false): Promise<void> => {
    if (reply !== 'reset' && plan.responseDelayMs > 0) await sleep(plan.responseDelayMs, deps.closing);
    if (res.destroyed || req.socket.destroyed || res.writableEnded) {
      rec.outcome = 'client-gone';
    } else if (reply === 'reset') {
      rec.outcome = 'reset';
      req.socket.destroy();
    } else {
      rec.status = reply.status;
      rec.outcome = 'responded';
      rec.replay = replay;
      rec.responseHeaders = writeReply(res, reply, extra);
    }
    rec.respondedAt = Date.now();
  };

  // A 5xx fault stands for a handler failure: with replayServerErrors it happens inside the idempotency interceptor.
  const inside =
    plan.pre?.kind === 'fail' &&
    deps.idempotency?.replayServerErrors === true &&
    method === 'POST' &&
    idempotencyKey !== undefined
      ? plan.pre
      : undefined;
  const pre = inside === undefined ? plan.pre : undefined;
  if (pre !== undefined) {
    if (pre.kind === 'reset') return finish('reset');
    if (pre.kind === 'unavailable') return finish({ status: 503 });
    if (pre.kind === 'fail') return finish(faultReply(pre.status, path));
    const retryAfter = String(pre.retryAfterS);
    const rl: Record<string, string> = { 'retry-after': retryAfter };
    if (deps.limiter !== undefined) {
      Object.assign(rl, {
        'ratelimit-limit': String(deps.limiter.limit('trigger')),
        'ratelimit-remaining': '0',
        'ratelimit-reset': retryAfter,
        'ratelimit-policy': deps.limiter.policy('trigger', 'single'),
      });
    }
    return finish(errorReply(429, path, THROTTLED_MESSAGE, { withError: false }, rl));
  }
  if (!read.ok) return finish(errorReply(413, path, 'request entity too large'));
  if (parsed.invalid) return finish(errorReply(400, path, 'Unexpected token in JSON body'));

  const r = route(method, pathname);
  if (r === undefined) return finish(errorReply(404, path, `Cannot ${method} ${pathname}`));

  const authError = authFailure(headers['authorization'], (k) => deps.ownerOf(k) !== undefined);
  if (authError !== undefined)
    return finish(errorReply(401, path, authError, { withError: authError !== 'Unauthorized' }));
  const owner = deps.ownerOf(apiKeyOf(headers['authorization']))!;

  const costName = r.op === 'bulk' || r.op === 'broadcast' ? 'bulk' : 'single';
  if (deps.limiter !== undefined) {
    const d = deps.limiter.take(owner.environment, 'trigger', costName);
    Object.assign(extra, d.headers);
    deps.usage.record(owner.environment, r.op, parsed.body, d.success ? d.cost : 0, !d.success);
    if (!d.success) return finish(errorReply(429, path, THROTTLED_MESSAGE, { withError: false }));
  } else {
    deps.usage.record(owner.environment, r.op, parsed.body, COSTS[costName], false);
  }

  let complete: ((reply: Reply) => void) | undefined;
  if (method === 'POST' && deps.idempotency !== undefined && idempotencyKey !== undefined) {
    const gate = deps.idempotency.gate(owner.organization, idempotencyKey, parsed.body, path);
    if (gate.kind === 'answer') return finish(gate.reply, gate.replay);
    complete = gate.finish;
    extra['idempotency-key'] = idempotencyKey;
  }

  if (plan.processingDelayMs > 0) await sleep(plan.processingDelayMs, deps.closing);
  if (inside !== undefined) {
    const failed = faultReply(inside.status, path);
    complete?.(failed);
    return finish(failed);
  }
  const ctx = { path, requestSeq: rec.seq, idempotencyKey, environment: owner.environment };
  const reply = r.op === 'cancel' ? deps.events.cancel(r.transactionId, ctx) : deps.events[r.op](parsed.body, ctx);
  complete?.(reply);
  return finish(afterProcessing(plan, reply, path));
}

function afterProcessing(plan: FaultPlan, reply: Reply, path: string): Reply | 'reset' {
  if (plan.post === undefined) return reply;
  return plan.post.kind === 'reset' ? 'reset' : faultReply(plan.post.status, path);
}

/** Last resort when the pipeline itself throws: a Novu 500, if the socket still allows it. */
export function internalError(rec: Pick<RecordedRequest, 'path'> | undefined, res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  writeReply(
    res,
    {
      status: 500,
      body: errorBody(500, rec?.path ?? '/', INTERNAL_ERROR_MESSAGE, { withError: false, errorId: randomUUID() }),
    },
    {},
  );
}
