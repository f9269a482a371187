// The one catalogue of notifyd's error codes, after fastify's lib/errors.js: each entry is a stable code, its
// message template (util.format placeholders) and a line for the README's "Error codes" table. Every error notifyd
// raises on purpose is a NotifydError made from an entry (`notifydError(Errors.X, …args)`). Codes are never renamed
// and a retired one is never reused (RETIRED_CODES). test/errors.test.ts pins all of this: every code is used,
// documented, and named after its key.
//
// What a failed notification row says (last_error) is a sentence for people, not one of these codes.
import { format } from 'node:util';

export interface ErrorDef {
  readonly code: `NTF_ERR_${string}`;
  /** util.format template; the arguments fill its %s / %d */
  readonly template: string;
  /** when it happens, for the README */
  readonly doc: string;
}

const def = <C extends `NTF_ERR_${string}`>(code: C, template: string, doc: string) =>
  Object.freeze({ code, template, doc }) as ErrorDef & { readonly code: C };

export const Errors = Object.freeze({
  // configuration
  CONFIG_INVALID: def(
    'NTF_ERR_CONFIG_INVALID',
    'invalid configuration:\n%s',
    'the environment is invalid; one line per problem, naming the variable (exit code 78)',
  ),
  // database
  DB_UNAVAILABLE: def(
    'NTF_ERR_DB_UNAVAILABLE',
    '%s',
    'PostgreSQL (or Redis, at start-up) cannot be reached; start-up keeps waiting',
  ),
  DB_MIGRATION_FAILED: def(
    'NTF_ERR_DB_MIGRATION_FAILED',
    'migration %s %s',
    'a migration failed (and was rolled back whole) or an applied one was edited',
  ),
  // queue
  QUEUE_UNAVAILABLE: def(
    'NTF_ERR_QUEUE_UNAVAILABLE',
    '%s: %s',
    'Redis refused or could not take a queue operation; the caller retries',
  ),
  // processing
  PROCESSING_NOT_STARTED: def(
    'NTF_ERR_PROCESSING_NOT_STARTED',
    'processing pool not started',
    'a job arrived before the processing pool was up',
  ),
  PROCESSING_TASK_FAILED: def(
    'NTF_ERR_PROCESSING_TASK_FAILED',
    'processing pool task failed: %s',
    'a pool thread died during a job; BullMQ retries the job',
  ),
  DELIVERY_TRANSIENT: def(
    'NTF_ERR_DELIVERY_TRANSIENT',
    '%s',
    'a delivery attempt failed transiently (Novu 5xx, timeout, reset); BullMQ retries it with backoff',
  ),
  // realtime
  LEASE_LOST: def(
    'NTF_ERR_LEASE_LOST',
    'enterprise %s: %s; nothing was written',
    'an enterprise actor found its ownership lease lapsed, taken over or fenced out, and wrote nothing; ' +
      'the new owner catches up',
  ),
  SUBSCRIPTION_FAILED: def(
    'NTF_ERR_SUBSCRIPTION_FAILED',
    '%s',
    'an enterprise subscription gave up after SUBSCRIPTION_MAX_RETRIES; its actor is restarted with backoff',
  ),
  REALTIME_SOCKETS_CLOSED: def(
    'NTF_ERR_REALTIME_SOCKETS_CLOSED',
    'the Realtime socket pool of this thread is closed',
    'a subscription was opened after its thread began to stop',
  ),
  // actor runtime
  ACTOR_NOT_STARTED: def(
    'NTF_ERR_ACTOR_NOT_STARTED',
    '%s actor not started',
    'an actor was used before its start() finished',
  ),
  ACTOR_REQUEST_TIMEOUT: def(
    'NTF_ERR_ACTOR_REQUEST_TIMEOUT',
    'actor %s did not reply within %d ms',
    'an ask() got no reply in time',
  ),
  ACTOR_NOT_FOUND: def(
    'NTF_ERR_ACTOR_NOT_FOUND',
    'no %s %s in %s',
    'an ask(), stop or lookup named an actor or child that does not exist',
  ),
  ACTOR_STOPPED: def(
    'NTF_ERR_ACTOR_STOPPED',
    '%s %s',
    'a message reached an actor or host that is stopping or stopped',
  ),
  ACTOR_START_FAILED: def(
    'NTF_ERR_ACTOR_START_FAILED',
    'actor %s',
    'an actor module exports no factory, or start() did not finish in time',
  ),
  ACTOR_UNAVAILABLE: def(
    'NTF_ERR_ACTOR_UNAVAILABLE',
    'actor %s is unavailable: %s',
    'an actor is restarting or gone; the request was refused',
  ),
  ACTOR_CRASHED: def(
    'NTF_ERR_ACTOR_CRASHED',
    'actor %s crashed: %s',
    'an actor crashed (thrown, rejected, ctx.fail); its host restarts it with backoff',
  ),
  HOST_UNRESPONSIVE: def(
    'NTF_ERR_HOST_UNRESPONSIVE',
    'host %s thread missed %d heartbeats',
    'a host thread stopped answering (a busy loop); it is terminated and restarted',
  ),
  HOST_EXITED: def(
    'NTF_ERR_HOST_EXITED',
    'host %s thread exited with code %d',
    'a host thread exited on its own; it is restarted with its actors',
  ),
  HOST_START_FAILED: def(
    'NTF_ERR_HOST_START_FAILED',
    'host %s %s',
    'a host thread could not start (or was already running)',
  ),
  HOST_FULL: def('NTF_ERR_HOST_FULL', 'host %s already runs %d actors', 'a host thread reached its maxActors'),
  RUNTIME_OPTION_INVALID: def(
    'NTF_ERR_RUNTIME_OPTION_INVALID',
    '%s',
    'an option of the actor runtime is invalid; the message names it (options.X, backoff.X)',
  ),
  RUNTIME_MISUSE: def(
    'NTF_ERR_RUNTIME_MISUSE',
    '%s',
    'runtime code was loaded where it cannot run (host-worker.js outside a worker thread)',
  ),
  SUPERVISOR_INTENSITY_EXCEEDED: def(
    'NTF_ERR_SUPERVISOR_INTENSITY_EXCEEDED',
    'supervisor %s: %d restarts within %d ms (intensity %d); last: %s',
    "restarts exceeded a supervisor's intensity: it stops its children and fails " +
      '(at the root, the process exits non-zero)',
  ),
  SUPERVISOR_CHILD_EXISTS: def(
    'NTF_ERR_SUPERVISOR_CHILD_EXISTS',
    '%s %s already exists in %s',
    'a child or actor id is taken',
  ),
  SUPERVISOR_MAX_CHILDREN: def(
    'NTF_ERR_SUPERVISOR_MAX_CHILDREN',
    'supervisor %s already has %d children',
    'a supervisor reached its maxChildren',
  ),
  SUPERVISOR_STOPPED: def(
    'NTF_ERR_SUPERVISOR_STOPPED',
    'supervisor %s %s',
    'a supervisor was stopped (or stopped while starting)',
  ),
  SUPERVISOR_START_FAILED: def(
    'NTF_ERR_SUPERVISOR_START_FAILED',
    'supervisor %s %s',
    'a supervisor could not start its children',
  ),
  SHUTDOWN_TIMEOUT: def(
    'NTF_ERR_SHUTDOWN_TIMEOUT',
    'shutdown did not finish within %d ms',
    'the orderly stop passed DAEMON_SHUTDOWN_TIMEOUT_MS; what is left is terminated, exit 1',
  ),
});

export type ErrorName = keyof typeof Errors;
export type ErrorCode = (typeof Errors)[ErrorName]['code'];

/** code by name, for comparisons (`err.code === ErrorCodes.ACTOR_NOT_FOUND`). */
export const ErrorCodes = Object.freeze(Object.fromEntries(Object.entries(Errors).map(([k, v]) => [k, v.code]))) as {
  readonly [K in ErrorName]: (typeof Errors)[K]['code'];
};

/** Codes of earlier versions that were removed; they MUST NOT be reused for anything else. */
export const RETIRED_CODES: readonly string[] = Object.freeze([
  'NTF_ERR_CONFIG_FILE_UNREADABLE',
  'NTF_ERR_CLOSE_TIMEOUT',
  'NTF_ERR_SUBSCRIPTION_ZOMBIE',
  'NTF_ERR_NOTIFICATION_INVALID',
  'NTF_ERR_NOTIFICATION_ENTERPRISE_MISMATCH',
  'NTF_ERR_DELIVERY_REJECTED',
  'NTF_ERR_DELIVERY_NOT_PROCESSED',
  'NTF_ERR_DELIVERY_RETRIES_EXHAUSTED',
  'NTF_ERR_DELIVERY_RATE_LIMITED',
  'NTF_ERR_RULE_INVALID',
]);

export interface NotifydErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class NotifydError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: NotifydErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NotifydError';
    this.code = code;
    this.details = options?.details === undefined ? undefined : Object.freeze({ ...options.details });
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** The error of a catalogue entry, its template filled with the arguments; a trailing options object is taken. */
export function notifydError(
  entry: ErrorDef,
  ...args: [...unknown[]] | [...unknown[], NotifydErrorOptions]
): NotifydError {
  const last = args[args.length - 1];
  const options = isOptions(last) ? (args.pop() as NotifydErrorOptions) : undefined;
  return new NotifydError(entry.code as ErrorCode, format(entry.template, ...args), options);
}

function isOptions(v: unknown): v is NotifydErrorOptions {
  return (
    v !== null &&
    typeof v === 'object' &&
    !(v instanceof Error) &&
    ('cause' in v || 'details' in v) &&
    !Array.isArray(v)
  );
}

/** Normalises anything thrown into an Error, keeping the original as `cause`. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  const err = new Error(`non-error thrown: ${safeDescribe(value)}`, { cause: value });
  return err;
}

/** A short, log-safe description of an error: its code (if any) and message, never a stack or payload. */
export function describeError(value: unknown): string {
  const err = toError(value);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.length > 0 ? `${code}: ${err.message}` : err.message;
}

function safeDescribe(value: unknown): string {
  try {
    return typeof value === 'object' ? Object.prototype.toString.call(value) : String(value);
  } catch {
    return 'unknown';
  }
}
