// One notification job, end to end, as the processing pool runs it: claim the row atomically (a lease in
// notify.delivery), read a large payload once the thread's payload budget has room, validate it, trigger Novu with
// deterministic keys, and record the outcome on the row. Returns what the BullMQ side must do next (done, retry,
// rate-limit, re-delay); never throws for bad input. Every comparison with a stored time is made by the database
// (due times, deadlines), never on this host's clock.
import type pg from 'pg';
import {
  cancelState,
  claim,
  loadPayload,
  markFailed,
  markRetrying,
  markSent,
  renewLease,
  rowRef,
  type ClaimArgs,
  type ClaimedRow,
  type ClaimResult,
  type SentMark,
} from '../db/notifications.js';
import { invalidScheduleReason } from '../db/schedule-sql.js';
import type { NotificationJobData } from '../queue/jobs.js';
import { deliveryKey, type NovuCall, type TriggerOutcome } from './novu-client.js';
import type { NovuTrigger } from './novu-bulk.js';
import type { ByteBudget } from './payload-budget.js';
import { validateRow } from './validate.js';

export interface ProcessDeps {
  db: pg.Pool;
  /** undefined when this host only observes (nothing is sent) */
  novu: NovuTrigger | undefined;
  leaseMs: number;
  /** The retry backoff the BullMQ side will apply, so the lease covers it. */
  retryHoldMs: number;
  /** Transient failures stop being retried this long after the first attempt (DELIVERY_MAX_DURATION_MS). */
  maxDurationMs?: number;
  /** The two writes every notification makes, batched across concurrent jobs (pool-task.ts); direct when absent. */
  writes?: {
    claim(args: ClaimArgs): Promise<ClaimResult>;
    markSent(args: SentMark): Promise<boolean>;
  };
  /** How many payload bytes this thread may hold at once (payload-budget.ts); unbounded when absent. */
  payloads?: ByteBudget;
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

/** What a result tells the processing thread for its metrics: the Novu calls made, and for a send, its latency. */
export interface ProcessTelemetry {
  calls?: NovuCall[];
  /** from the row becoming due to Novu accepting it (ms) */
  latencyMs?: number;
}

export type ProcessResult = ProcessTelemetry &
  (
    | { kind: 'sent'; transactionId: string; replayed: boolean }
    | { kind: 'failed'; reason: string }
    | { kind: 'skipped'; reason: string; leaseLeftMs?: number }
    | { kind: 'not_due'; dueInMs: number }
    | { kind: 'retry'; reason: string }
    | { kind: 'rate_limited'; retryAfterMs: number; reason: string; clampedFromMs?: number }
    | { kind: 'cancelled_in_novu'; cancelled: boolean }
  );

/** The lease owner is the job id: a retry of the same job reclaims its own lease; another job must wait it out. */
export function leaseOwner(jobId: string): string {
  return `job:${jobId}`;
}

export async function processNotification(task: ProcessTask, deps: ProcessDeps): Promise<ProcessResult> {
  if (task.job.action === 'cancel') return cancelInNovu(task, deps);
  const novu = deps.novu;
  if (novu === undefined) return { kind: 'skipped', reason: 'observe_only' };
  const owner = leaseOwner(task.jobId);
  const claimArgs = { id: task.job.notificationId, enterpriseId: task.job.enterpriseId, owner, leaseMs: deps.leaseMs };
  const claimed = await (deps.writes?.claim(claimArgs) ?? claim(deps.db, claimArgs));
  if (claimed.kind === 'not_due') return { kind: 'not_due', dueInMs: claimed.dueInMs };
  if (claimed.kind === 'skipped') {
    const { reason, leaseLeftMs } = claimed;
    return leaseLeftMs === undefined ? { kind: 'skipped', reason } : { kind: 'skipped', reason, leaseLeftMs };
  }
  const row = claimed.row;
  // A row that can only fail ends before its payload is read: a payload that kills the thread on load is abandoned.
  const ended = endedBeforeDelivery(task, deps, owner, row);
  if (ended !== undefined) return ended;
  if (!row.payload_deferred) return deliverClaimed(task, deps, novu, owner, row);
  // A large payload is read only once the thread's payload budget has room for it; the lease is kept meanwhile.
  const { release, loaded } = await whileLeased(deps, row.id, owner, async () => {
    const release =
      deps.payloads === undefined ? () => undefined : await deps.payloads.acquire(row.payload_stored_bytes);
    try {
      return { release, loaded: await loadPayload(deps.db, row.id) };
    } catch (err) {
      release();
      throw err;
    }
  });
  try {
    if (loaded === undefined) return { kind: 'skipped', reason: 'not_found' }; // deleted since the claim
    return await deliverClaimed(task, deps, novu, owner, { ...row, ...loaded });
  } finally {
    release();
  }
}

/**
 * Runs `work` while renewing the row's lease: the lease is short (LEASE_MS), so anything slower than a third of it
 * (a slow Novu call, a wait for the payload budget) renews it, and it never lapses under a live attempt.
 */
async function whileLeased<T>(deps: ProcessDeps, id: string, owner: string, work: () => Promise<T>): Promise<T> {
  const renewal = setInterval(
    () => void renewLease(deps.db, { id, owner, leaseMs: deps.leaseMs }).catch(() => undefined),
    Math.max(100, Math.floor(deps.leaseMs / 3)),
  );
  try {
    return await work();
  } finally {
    clearInterval(renewal);
  }
}

/** The failure a claimed row ends with whatever its payload: an invalid schedule, attempts or time used up. */
function endedBeforeDelivery(
  task: ProcessTask,
  deps: ProcessDeps,
  owner: string,
  row: ClaimedRow,
): Promise<ProcessResult> | undefined {
  if (row.schedule_invalid) return fail(deps, row.id, owner, invalidScheduleReason(row));
  // Attempts that never completed (the worker crashed or lost its lease each time) count too: a row that kills its
  // worker must end `failed`, not loop. Rate-limited runs give their attempt back (markRetrying), so they do not.
  const spent = row.attempts > task.maxAttempts * 2;
  const late = pastDeadline(deps, row.failing_for_ms);
  if (!spent && late === undefined) return undefined;
  const key = deliveryKey(row.enterprise_id, row.id, row.armed_version);
  const abandon = spent
    ? `delivery abandoned after ${row.attempts - 1} attempts that never completed ` +
      `(the worker crashed or lost its lease each time); Novu may have received it as transaction ${key}`
    : `delivery gave up after ${Math.round((late ?? 0) / 1000)} s of failures (DELIVERY_MAX_DURATION_MS): ` +
      (row.retry_error ?? `no attempt completed; Novu may have received it as transaction ${key}`);
  return fail(deps, row.id, owner, abandon, key);
}

/** A claimed row with its payload: validate, trigger Novu, record the outcome. */
async function deliverClaimed(
  task: ProcessTask,
  deps: ProcessDeps,
  novu: NovuTrigger,
  owner: string,
  row: ClaimedRow,
): Promise<ProcessResult> {
  const key = deliveryKey(row.enterprise_id, row.id, row.armed_version);
  const validation = validateRow(row);
  if (!validation.ok) return fail(deps, row.id, owner, validation.reason);

  const claimedAt = performance.now();
  const outcome = await whileLeased(deps, row.id, owner, () =>
    novu.trigger(
      {
        enterpriseId: row.enterprise_id,
        notificationId: row.id,
        transactionId: key,
        workflowId: row.workflow_id,
        recipients: row.recipients,
        payload: row.payload as Record<string, unknown>,
      },
      // nothing can have reached Novu under this key before: it may go in a bulk request
      { firstAttempt: row.attempts === 1 && task.attemptsMade === 0 },
    ),
  );
  deps.afterTrigger?.();
  const result = await record(task, deps, owner, outcome, row.failing_for_ms);
  const calls = [...(outcome.call === undefined ? [] : [outcome.call]), ...(result.calls ?? [])];
  if (result.kind !== 'sent' || row.due_age_ms === null || !Number.isFinite(row.due_age_ms))
    return { ...result, calls };
  return { ...result, calls, latencyMs: Math.max(0, row.due_age_ms) + (performance.now() - claimedAt) };
}

async function fail(
  deps: ProcessDeps,
  id: string,
  owner: string,
  reason: string,
  transactionId?: string,
): Promise<ProcessResult> {
  await markFailed(deps.db, { id, owner, reason, ...(transactionId === undefined ? {} : { transactionId }) });
  return { kind: 'failed', reason };
}

/** How long delivery has been failing, when that is past DELIVERY_MAX_DURATION_MS; undefined otherwise. */
function pastDeadline(deps: ProcessDeps, failingForMs: number): number | undefined {
  if (deps.maxDurationMs === undefined || !Number.isFinite(failingForMs)) return undefined;
  return failingForMs >= deps.maxDurationMs ? failingForMs : undefined;
}

function sent(deps: ProcessDeps, args: SentMark): Promise<boolean> {
  return deps.writes?.markSent(args) ?? markSent(deps.db, args);
}

async function record(
  task: ProcessTask,
  deps: ProcessDeps,
  owner: string,
  outcome: TriggerOutcome,
  failingForMs: number,
): Promise<ProcessResult> {
  const id = task.job.notificationId;
  switch (outcome.kind) {
    case 'sent': {
      if (await sent(deps, { id, owner, transactionId: outcome.transactionId })) {
        return { kind: 'sent', transactionId: outcome.transactionId, replayed: outcome.replayed };
      }
      // The row left our hands while Novu had it: cancelled by the application (take it back from Novu), or our
      // lease expired and another job owns it (it uses the same keys, so Novu does not deliver twice).
      const now = await rowRef(deps.db, id);
      if (now?.status === 'cancelled' && deps.novu !== undefined) {
        const res = await deps.novu.cancel(outcome.transactionId);
        return { kind: 'cancelled_in_novu', cancelled: res.ok && res.cancelled, calls: [res.call] };
      }
      return { kind: 'skipped', reason: 'lease_lost' };
    }
    case 'rejected':
      return fail(deps, id, owner, outcome.reason);
    case 'transient':
    case 'rate_limited': {
      // Rate limits do not use up attempts (BullMQ re-queues without counting); other transient errors do.
      const late = pastDeadline(deps, failingForMs);
      const exhausted =
        (outcome.kind === 'transient' && task.attemptsMade + 1 >= task.maxAttempts) || late !== undefined;
      if (exhausted) {
        const reason =
          late !== undefined
            ? `delivery gave up after ${Math.round(late / 1000)} s of failures ` +
              `(DELIVERY_MAX_DURATION_MS): ${outcome.reason}`
            : `delivery retries exhausted after ${task.maxAttempts} attempts: ${outcome.reason}`;
        return fail(deps, id, owner, reason);
      }
      const holdMs = outcome.kind === 'rate_limited' ? outcome.retryAfterMs : deps.retryHoldMs * 2 ** task.attemptsMade;
      await markRetrying(deps.db, {
        id,
        owner,
        reason: outcome.reason,
        holdMs,
        leaseMs: deps.leaseMs,
        refundAttempt: outcome.kind === 'rate_limited',
      });
      if (outcome.kind === 'transient') return { kind: 'retry', reason: outcome.reason };
      const { kind, retryAfterMs, reason, clampedFromMs } = outcome;
      return { kind, retryAfterMs, reason, ...(clampedFromMs === undefined ? {} : { clampedFromMs }) };
    }
  }
}

/**
 * The application cancelled a row notifyd may have handed to Novu: withdraw whatever Novu still holds for it
 * (delays, digests). Only when notifyd ever claimed this arming — otherwise Novu never saw it.
 */
async function cancelInNovu(task: ProcessTask, deps: ProcessDeps): Promise<ProcessResult> {
  const row = await cancelState(deps.db, task.job.notificationId);
  if (row === undefined || row.enterprise_id !== task.job.enterpriseId) return { kind: 'skipped', reason: 'not_found' };
  if (row.status !== 'cancelled') return { kind: 'skipped', reason: 'not_cancelled' };
  if (!row.claimed && row.transaction_id === null) return { kind: 'skipped', reason: 'never_triggered' };
  const novu = deps.novu;
  if (novu === undefined) return { kind: 'skipped', reason: 'observe_only' };
  const txId = row.transaction_id ?? deliveryKey(row.enterprise_id, task.job.notificationId, row.armed_version);
  const res = await novu.cancel(txId);
  const calls = [res.call];
  if (res.ok) return { kind: 'cancelled_in_novu', cancelled: res.cancelled, calls };
  if (res.outcome.kind === 'rate_limited') return { ...res.outcome, calls };
  if (res.outcome.kind === 'transient') return { kind: 'retry', reason: res.outcome.reason, calls };
  return {
    kind: 'failed',
    reason: `cancel in novu failed: ${res.outcome.kind === 'rejected' ? res.outcome.reason : 'unexpected answer'}`,
    calls,
  };
}
