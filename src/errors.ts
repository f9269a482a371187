// The one catalogue of notifyd's error codes. Codes are stable: never rename or reuse a retired one.
// Every error notifyd raises on purpose is a NotifydError carrying one of these codes.

export const ErrorCodes = {
  // configuration (exit code 78, EX_CONFIG)
  CONFIG_INVALID: 'NTF_ERR_CONFIG_INVALID',
  CONFIG_FILE_UNREADABLE: 'NTF_ERR_CONFIG_FILE_UNREADABLE',
  // database
  DB_MIGRATION_FAILED: 'NTF_ERR_DB_MIGRATION_FAILED',
  DB_UNAVAILABLE: 'NTF_ERR_DB_UNAVAILABLE',
  // actor runtime
  ACTOR_REQUEST_TIMEOUT: 'NTF_ERR_ACTOR_REQUEST_TIMEOUT',
  ACTOR_NOT_FOUND: 'NTF_ERR_ACTOR_NOT_FOUND',
  ACTOR_STOPPED: 'NTF_ERR_ACTOR_STOPPED',
  ACTOR_START_FAILED: 'NTF_ERR_ACTOR_START_FAILED',
  HOST_UNRESPONSIVE: 'NTF_ERR_HOST_UNRESPONSIVE',
  SUPERVISOR_INTENSITY_EXCEEDED: 'NTF_ERR_SUPERVISOR_INTENSITY_EXCEEDED',
  SUPERVISOR_CHILD_EXISTS: 'NTF_ERR_SUPERVISOR_CHILD_EXISTS',
  SHUTDOWN_TIMEOUT: 'NTF_ERR_SHUTDOWN_TIMEOUT',
  CLOSE_TIMEOUT: 'NTF_ERR_CLOSE_TIMEOUT',
  // realtime
  SUBSCRIPTION_FAILED: 'NTF_ERR_SUBSCRIPTION_FAILED',
  SUBSCRIPTION_ZOMBIE: 'NTF_ERR_SUBSCRIPTION_ZOMBIE',
  // queue
  QUEUE_UNAVAILABLE: 'NTF_ERR_QUEUE_UNAVAILABLE',
  // processing
  PROCESSING_NOT_STARTED: 'NTF_ERR_PROCESSING_NOT_STARTED',
  PROCESSING_TASK_FAILED: 'NTF_ERR_PROCESSING_TASK_FAILED',
  DELIVERY_TRANSIENT: 'NTF_ERR_DELIVERY_TRANSIENT',
  // notification validation (recorded as last_error on a failed row)
  NOTIFICATION_INVALID: 'NTF_ERR_NOTIFICATION_INVALID',
  NOTIFICATION_ENTERPRISE_MISMATCH: 'NTF_ERR_NOTIFICATION_ENTERPRISE_MISMATCH',
  // delivery
  DELIVERY_REJECTED: 'NTF_ERR_DELIVERY_REJECTED',
  DELIVERY_NOT_PROCESSED: 'NTF_ERR_DELIVERY_NOT_PROCESSED',
  DELIVERY_RETRIES_EXHAUSTED: 'NTF_ERR_DELIVERY_RETRIES_EXHAUSTED',
  DELIVERY_RATE_LIMITED: 'NTF_ERR_DELIVERY_RATE_LIMITED',
  // schedules
  RULE_INVALID: 'NTF_ERR_RULE_INVALID',
  // actor runtime (added with issue 3)
  ACTOR_UNAVAILABLE: 'NTF_ERR_ACTOR_UNAVAILABLE',
  ACTOR_CRASHED: 'NTF_ERR_ACTOR_CRASHED',
  HOST_EXITED: 'NTF_ERR_HOST_EXITED',
  HOST_START_FAILED: 'NTF_ERR_HOST_START_FAILED',
  HOST_FULL: 'NTF_ERR_HOST_FULL',
  SUPERVISOR_MAX_CHILDREN: 'NTF_ERR_SUPERVISOR_MAX_CHILDREN',
  SUPERVISOR_STOPPED: 'NTF_ERR_SUPERVISOR_STOPPED',
  RUNTIME_OPTION_INVALID: 'NTF_ERR_RUNTIME_OPTION_INVALID',
  SUPERVISOR_START_FAILED: 'NTF_ERR_SUPERVISOR_START_FAILED',
  ACTOR_NOT_STARTED: 'NTF_ERR_ACTOR_NOT_STARTED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class NotifydError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NotifydError';
    this.code = code;
    this.details = options?.details === undefined ? undefined : Object.freeze({ ...options.details });
    Object.setPrototypeOf(this, new.target.prototype);
  }
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
