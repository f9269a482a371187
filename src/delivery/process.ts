// One notification job, end to end, as the processing pool runs it: claim the row atomically, validate it,
// trigger Novu with deterministic keys (or only log, in DELIVERY_MODE=log), and record the outcome on the row.
// Returns what the BullMQ side must do next (done, retry, rate-limit, re-delay); never throws for bad input.
import type pg from 'pg';
import { claim, getRow, markFailed, markRetrying, markSent, type ClaimArgs, type ClaimResult } from '../db/notifications.js';
import type { NotificationJobData } from '../queue/jobs.js';
import { deliveryKey, type NovuDelivery, type TriggerOutcome } from './novu-client.js';
import { validateRow } from './validate.js';

export interface ProcessDeps {
  db: pg.Pool;
  /** undefined in DELIVERY_MODE=log */
  novu: NovuDelivery | undefined;
  leaseMs: number;
  /** The retry backoff the BullMQ side will apply, so the lease covers it. */
  retryHoldMs: number;
  /** Transient failures stop being retried this long after the first attempt (DELIVERY_MAX_DURATION_MS). */
  maxDurationMs?: number;
  /** The two writes every notification makes, batched across concurrent jobs (pool-task.ts); direct when absent. */
  writes?: {
    claim(args: ClaimArgs): Promise<ClaimResult>;
    markSent(args: { id: string; owner: string; transactionId: string }): Promise<boolean>;
  };
  /** Test-only fault hook (src/faults.ts): runs after Novu answered and before the outcome is recorded. */
  afterTrigger?: () => void;
}

export interface ProcessTask {
  job: NotificationJobData;
  jobId: string;
  /** attempts already made (BullMQ's attemptsMade) and allowed (opts.attempts) */
  attemptsMade: number;
  maxAttempts: number;
}

export type ProcessResult =
  | { kind: 'sent'; transactionId: string; mode: 'novu' | 'log'; replayed: boolean }
  | { kind: 'failed'; reason: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'not_due'; dueAtMs: number }
  | { kind: 'retry'; reason: string }
  | { kind: 'rate_limited'; retryAfterMs: number; reason: string }
  | { kind: 'cancelled_in_novu'; cancelled: boolean };

/** The lease owner is the job id: a retry of the same job reclaims its own lease; another job must wait it out. */
export function leaseOwner(jobId: string): string {
  return `job:${jobId}`;
}

export async function processNotification(task: ProcessTask, deps: ProcessDeps): Promise<ProcessResult> {
  if (task.job.action === 'cancel') return cancelInNovu(task, deps);
  const owner = leaseOwner(task.jobId);
  const claimArgs = { id: task.job.notificationId, enterpriseId: task.job.enterpriseId, owner, leaseMs: deps.leaseMs };
  const claimed = await (deps.writes?.claim(claimArgs) ?? claim(deps.db, claimArgs));
  if (claimed.kind === 'not_due') return { kind: 'not_due', dueAtMs: claimed.dueAt.getTime() };
  if (claimed.kind === 'skipped') return { kind: 'skipped', reason: claimed.reason };
  const row = claimed.row;

  // Attempts that never completed (the worker crashed or lost its lease each time) count too: a row that kills its
  // worker must end `failed`, not loop. Rate-limited runs give their attempt back (markRetrying), so they do not.
  const key = deliveryKey(row.enterprise_id, row.id, row.armed_version);
  const late = pastDeadline(deps, row.first_attempt_at);
  const abandon = row.attempts > task.maxAttempts * 2
    ? `delivery abandoned after ${row.attempts - 1} attempts that never completed (the worker crashed or lost its lease each time); Novu may have received it as transaction ${key}`
    : late !== undefined
      ? `delivery gave up after ${Math.round(late / 1000)} s of failures (DELIVERY_MAX_DURATION_MS): ${row.last_error ?? `no attempt completed; Novu may have received it as transaction ${key}`}`
      : undefined;
  if (abandon !== undefined) {
    await markFailed(deps.db, { id: row.id, owner, reason: abandon, transactionId: key });
    return { kind: 'failed', reason: abandon };
  }

  const validation = validateRow(row);
  if (!validation.ok) {
    await markFailed(deps.db, { id: row.id, owner, reason: validation.reason });
    return { kind: 'failed', reason: validation.reason };
  }

  if (deps.novu === undefined) {
    const recorded = await sent(deps, { id: row.id, owner, transactionId: key });
    return recorded ? { kind: 'sent', transactionId: key, mode: 'log', replayed: false } : { kind: 'skipped', reason: 'lease_lost' };
  }

  const outcome = await deps.novu.trigger({
    enterpriseId: row.enterprise_id,
    notificationId: row.id,
    armedVersion: row.armed_version,
    workflowId: row.workflow_id,
    recipients: row.recipients,
    payload: row.payload as Record<string, unknown>,
  });
  deps.afterTrigger?.();
  return record(task, deps, owner, outcome, row.first_attempt_at);
}

/** How long delivery has been failing, when that is past DELIVERY_MAX_DURATION_MS; undefined otherwise. */
function pastDeadline(deps: ProcessDeps, firstAttemptAt: Date | null): number | undefined {
  if (deps.maxDurationMs === undefined || firstAttemptAt === null) return undefined;
  const elapsed = Date.now() - firstAttemptAt.getTime();
  return elapsed >= deps.maxDurationMs ? elapsed : undefined;
}

function sent(deps: ProcessDeps, args: { id: string; owner: string; transactionId: string }): Promise<boolean> {
  return deps.writes?.markSent(args) ?? markSent(deps.db, args);
}

async function record(task: ProcessTask, deps: ProcessDeps, owner: string, outcome: TriggerOutcome, firstAttemptAt: Date | null): Promise<ProcessResult> {
  const id = task.job.notificationId;
  switch (outcome.kind) {
    case 'sent': {
      if (await sent(deps, { id, owner, transactionId: outcome.transactionId })) {
        return { kind: 'sent', transactionId: outcome.transactionId, mode: 'novu', replayed: outcome.replayed };
      }
      // The row left our hands while Novu had it: cancelled by the application (take it back from Novu), or our
      // lease expired and another job owns it (it uses the same keys, so Novu does not deliver twice).
      const now = await getRow(deps.db, id);
      if (now?.status === 'cancelled') {
        const res = await deps.novu?.cancel(outcome.transactionId);
        return { kind: 'cancelled_in_novu', cancelled: res?.ok === true && res.cancelled };
      }
      return { kind: 'skipped', reason: 'lease_lost' };
    }
    case 'rejected':
      await markFailed(deps.db, { id, owner, reason: outcome.reason });
      return { kind: 'failed', reason: outcome.reason };
    case 'transient':
    case 'rate_limited': {
      // Rate limits do not use up attempts (BullMQ re-queues without counting); other transient errors do.
      const late = pastDeadline(deps, firstAttemptAt);
      const exhausted = (outcome.kind === 'transient' && task.attemptsMade + 1 >= task.maxAttempts) || late !== undefined;
      if (exhausted) {
        const reason = late !== undefined
          ? `delivery gave up after ${Math.round(late / 1000)} s of failures (DELIVERY_MAX_DURATION_MS): ${outcome.reason}`
          : `delivery retries exhausted after ${task.maxAttempts} attempts: ${outcome.reason}`;
        await markFailed(deps.db, { id, owner, reason });
        return { kind: 'failed', reason };
      }
      const holdMs = outcome.kind === 'rate_limited' ? outcome.retryAfterMs : deps.retryHoldMs * 2 ** task.attemptsMade;
      await markRetrying(deps.db, { id, owner, reason: outcome.reason, holdMs, leaseMs: deps.leaseMs, refundAttempt: outcome.kind === 'rate_limited' });
      return outcome.kind === 'rate_limited'
        ? { kind: 'rate_limited', retryAfterMs: outcome.retryAfterMs, reason: outcome.reason }
        : { kind: 'retry', reason: outcome.reason };
    }
  }
}

/** The application cancelled a row that was processing or sent: withdraw whatever Novu still holds for it. */
async function cancelInNovu(task: ProcessTask, deps: ProcessDeps): Promise<ProcessResult> {
  const row = await getRow(deps.db, task.job.notificationId);
  if (row === undefined || row.enterprise_id !== task.job.enterpriseId) return { kind: 'skipped', reason: 'not_found' };
  if (row.status !== 'cancelled') return { kind: 'skipped', reason: 'not_cancelled' };
  if (deps.novu === undefined) return { kind: 'cancelled_in_novu', cancelled: false };
  const txId = row.transaction_id ?? deliveryKey(row.enterprise_id, row.id, row.armed_version);
  const res = await deps.novu.cancel(txId);
  if (res.ok) return { kind: 'cancelled_in_novu', cancelled: res.cancelled };
  if (res.outcome.kind === 'rate_limited') return { kind: 'rate_limited', retryAfterMs: res.outcome.retryAfterMs, reason: res.outcome.reason };
  if (res.outcome.kind === 'transient') return { kind: 'retry', reason: res.outcome.reason };
  return { kind: 'failed', reason: `cancel in novu failed: ${res.outcome.kind === 'rejected' ? res.outcome.reason : 'unexpected answer'}` };
}
