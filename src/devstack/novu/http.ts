// HTTP plumbing for the Novu stand-in: Novu's error body shape, JSON responses (always
// application/json), bounded body reading and abortable sleeps.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a handler decides to answer; `body` undefined means an empty body. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? `HTTP ${status}`;
}

export const INTERNAL_ERROR_MESSAGE = 'Internal server error, contact support and provide them with the errorId';

/**
 * Novu's exception-filter body: `{statusCode, timestamp, path, message}`, plus `error` (the reason
 * phrase) as NestJS built-in exceptions add it when given a message. `withError: false` leaves it out,
 * as for the throttler's 429.
 */
export function errorBody(
  statusCode: number,
  path: string,
  message: unknown,
  extra: { withError?: boolean; [k: string]: unknown } = {},
): Record<string, unknown> {
  const { withError = true, ...rest } = extra;
  const body: Record<string, unknown> = { statusCode, timestamp: new Date().toISOString(), path, message };
  const reason = REASONS[statusCode];
  if (withError && reason !== undefined) body['error'] = reason;
  return { ...body, ...rest };
}

export function errorReply(
  statusCode: number,
  path: string,
  message: unknown,
  extra?: { withError?: boolean; [k: string]: unknown },
  headers?: Record<string, string>,
): Reply {
  return { status: statusCode, body: errorBody(statusCode, path, message, extra), ...(headers ? { headers } : {}) };
}

/** Writes a reply (JSON bodies get `application/json; charset=utf-8`, as Express sends); returns the headers. */
export function writeReply(
  res: ServerResponse,
  reply: Reply,
  extraHeaders: Record<string, string>,
): Record<string, string> {
  const headers: Record<string, string> = { ...extraHeaders, ...reply.headers };
  if (reply.body === undefined) {
    headers['content-length'] = '0';
    res.writeHead(reply.status, headers);
    res.end();
    return headers;
  }
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  headers['content-type'] = 'application/json; charset=utf-8';
  headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(reply.status, headers);
  res.end(text);
  return headers;
}

export type BodyResult = { ok: true; text: string } | { ok: false; tooLarge: true };

/** Reads the whole body, or stops (draining the rest) once it exceeds `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(over ? { ok: false, tooLarge: true } : { ok: true, text: Buffer.concat(chunks).toString('utf8') }),
    );
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted before its body ended'));
    });
  });
}

/** Lower-cased headers, repeated values joined with ", ". */
export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Resolves after ms, or at once when the signal aborts (the stand-in is closing). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
