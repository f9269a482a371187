// What goes on the BullMQ queue: job names, job data (ids and event metadata — never a payload or recipients),
// deterministic job ids for dedup, and the mapping of CONTRACT priorities onto BullMQ's scale.
import { fairPriority, RANK_SPAN } from './fairness.js';
import type { JobsOptions } from 'bullmq';

export const QUEUE_NAME = 'notifications';
/** The job schedulers of cron rules live on their own queue: their jobs create notification rows. */
export const CRON_QUEUE_NAME = 'cron';

export const JobNames = {
  insert: 'realtime-notification-insert',
  update: 'realtime-notification-update',
  delete: 'realtime-notification-delete',
} as const;
export type JobName = (typeof JobNames)[keyof typeof JobNames];

/** Why a job exists: a live Realtime event, the post-subscribe catch-up, the sweep, or a cron rule's fire. */
export type JobOrigin = 'realtime' | 'catchup' | 'poll' | 'sweep' | 'cron';

/** deliver: claim and send the row; cancel: the application cancelled a row that may already be in Novu. */
export type JobAction = 'deliver' | 'cancel';

export interface NotificationJobData {
  readonly enterpriseId: string;
  /** bigint as a decimal string: JavaScript numbers lose precision above 2^53 */
  readonly notificationId: string;
  readonly version: string;
  readonly action: JobAction;
  readonly origin: JobOrigin;
  /** ms since epoch when the producer enqueued it (for latency figures) */
  readonly enqueuedAt: number;
  /** the row's commit time as the producer saw it, ms since epoch, when known */
  readonly committedAt?: number;
  /** the row was due later than when it was enqueued (a scheduled notification): for metrics */
  readonly scheduled?: boolean;
  /** when its slot under its enterprise's ENT_<id>_MAX_PER_SECOND cap comes (ms since epoch), once reserved */
  readonly capAt?: number;
}

/**
 * The dedup key: notification id + event type + row version. Realtime, catch-up and sweep compute the same id for
 * the same row version, so overlapping producers add one job. Ids never contain ':' nor are all digits (BullMQ rules).
 */
export function jobIdFor(notificationId: string, version: string, action: JobAction = 'deliver'): string {
  const event = action === 'cancel' ? 'cancel' : version === '1' ? 'insert' : 'update';
  return `ntf-${notificationId}-${event}-v${version}`;
}

export function jobNameFor(version: string, action: JobAction): JobName {
  if (action === 'cancel') return JobNames.update;
  return version === '1' ? JobNames.insert : JobNames.update;
}

/**
 * CONTRACT priorities are 1..100 with larger = more urgent; BullMQ's are 1..2,097,151 with 1 = most urgent and
 * 0 (= none) running before everything, so every job gets an explicit, mapped priority: its class (the contract
 * priority) and, inside it, its fair rank among its enterprise's outstanding jobs (fairness.ts).
 */
export function toBullPriority(contractPriority: number, rank = 1): number {
  return fairPriority(contractPriority, rank);
}

/** The contract priority (the class) a BullMQ priority was made from. */
export function classOf(bullPriority: number | undefined): number {
  return 100 - Math.floor(Math.max(0, bullPriority ?? 0) / RANK_SPAN);
}

/**
 * The longest delay a job is given. A notification due later waits in hops of this length (the processor puts an
 * early job back), so a far-future scheduled_for (year 9999) never overflows BullMQ's delayed-job scores.
 */
export const MAX_DELAY_MS = 24 * 3600 * 1000;

export interface RetentionPolicy {
  /** completed jobs are kept this long (s), so dedup covers the catch-up look-back */
  readonly completedAgeS: number;
  readonly completedCount: number;
  readonly failedAgeS: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = Object.freeze({
  completedAgeS: 15 * 60,
  completedCount: 200_000,
  failedAgeS: 7 * 24 * 3600,
});

export function jobOptions(args: {
  jobId: string;
  priority: number;
  /** the job's rank among its enterprise's outstanding jobs of its class (fairness.ts) @defaultValue 1 */
  rank?: number;
  delayMs: number;
  attempts: number;
  /** base of the exponential retry backoff (ms) */
  backoffMs?: number;
  retention?: RetentionPolicy;
}): JobsOptions {
  const retention = args.retention ?? DEFAULT_RETENTION;
  return {
    jobId: args.jobId,
    priority: toBullPriority(args.priority, args.rank ?? 1),
    delay: Math.min(MAX_DELAY_MS, Math.max(0, Math.round(args.delayMs))),
    attempts: args.attempts,
    backoff: { type: 'exponential', delay: args.backoffMs ?? 1000, jitter: 0.5 },
    removeOnComplete: { age: retention.completedAgeS, count: retention.completedCount },
    removeOnFail: { age: retention.failedAgeS },
  };
}
