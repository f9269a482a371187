// The sweep: level-triggered truth behind the edge-triggered Realtime path. It makes sure every due pending row
// has a live job for its current version — rows an event missed, jobs lost with Redis, and rows whose worker died
// (their lease, in notify.delivery, lets a new job claim them once it expires). Rows that can never be due are
// enqueued too, to be failed with their reason. Dedup by job id makes overlapping with the live path safe; one row
// that cannot be handled is counted and passed over, never stopping the pass for everyone else.
import type pg from 'pg';
import { duePending, failUnknownEnterprises } from '../../src/db/scans.js';
import { rowRef } from '../../src/db/notifications.js';
import type { EnterpriseScope } from '../../src/db/enterprises.js';
import type { RowRef } from '../../src/db/schedule-sql.js';
import { describeError } from '../../src/errors.js';
import { jobIdFor } from '../../src/queue/jobs.js';
import type { NotificationProducer } from '../../src/queue/producer.js';
import { requestForRow, type Priorities } from '../../src/queue/routing.js';

export interface SweepDeps {
  db: pg.Pool;
  producer: NotificationProducer;
  priorities: (enterpriseId: string) => Priorities;
  batchSize: number;
  /** rows younger than this are left to the live path */
  graceMs: number;
  scope: EnterpriseScope;
  /** where the next sweep resumes its pass over due pending rows (kept by the caller between sweeps) */
  cursor?: { afterId: string };
  /** pages of `batchSize` rows one sweep reads at most @defaultValue 5 */
  maxPages?: number;
  /** also rows due within this many ms (after Redis lost its delayed jobs) @defaultValue 0 */
  aheadMs?: number;
  /** told about each row that could not be handled (logged by the actor) */
  onRowError?: (row: RowRef, err: unknown) => void;
}

export interface SweepResult {
  /** due pending rows that had no job at all: the live path missed them (or Redis lost them) */
  missed: number;
  /** the enterprises of those rows (their owners switch to the fast poll for a while) */
  missedEnterprises: string[];
  /** due pending rows whose job had already finished (a worker died, a job gave up): enqueued again */
  repaired: number;
  /** pending rows of enterprises absent from notify.enterprise: failed with a reason */
  unknownEnterprise: number;
  /** rows that could not be checked (an error on that row); the pass went on */
  errors: number;
  scanned: number;
  /** the pass reached the last due row */
  complete: boolean;
}

/**
 * Makes sure the row's current version has a live job. A job that already finished is only replaced when the row is
 * still in the state and version the sweep read: between the read and this check the row may have been processed
 * (its job then finished legitimately), and removing that job would throw away the record dedup relies on.
 */
export async function ensureJob(deps: SweepDeps, row: RowRef): Promise<'present' | 'missed' | 'repaired'> {
  const jobId = jobIdFor(row.id, row.version);
  const state = await deps.producer.queue.getJobState(jobId);
  if (state !== 'unknown' && state !== 'completed' && state !== 'failed') return 'present';
  const now = await rowRef(deps.db, row.id);
  if (now === undefined || now.status !== row.status || now.version !== row.version) return 'present';
  if (state !== 'unknown') await deps.producer.queue.remove(jobId).catch(() => undefined);
  await deps.producer.enqueue(requestForRow(now, deps.priorities(now.enterprise_id), 'sweep'));
  return state === 'unknown' ? 'missed' : 'repaired';
}

export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const result: SweepResult = {
    missed: 0,
    missedEnterprises: [],
    repaired: 0,
    unknownEnterprise: 0,
    errors: 0,
    scanned: 0,
    complete: false,
  };
  const missedBy = new Set<string>();
  if (deps.scope.enterpriseIds === undefined) {
    result.unknownEnterprise = await failUnknownEnterprises(deps.db, {
      limit: deps.batchSize,
      olderThanMs: deps.graceMs,
    });
  }
  const cursor = deps.cursor ?? { afterId: '0' };
  for (let page = 0; page < (deps.maxPages ?? 5); page += 1) {
    const due = await duePending(deps.db, {
      limit: deps.batchSize,
      olderThanMs: deps.graceMs,
      afterId: cursor.afterId,
      aheadMs: deps.aheadMs ?? 0,
      ...deps.scope,
    });
    for (const row of due) {
      result.scanned += 1;
      try {
        const outcome = await ensureJob(deps, row);
        if (outcome === 'missed') {
          result.missed += 1;
          missedBy.add(row.enterprise_id);
        } else if (outcome === 'repaired') result.repaired += 1;
      } catch (err) {
        result.errors += 1;
        deps.onRowError?.(row, err);
      }
    }
    const last = due[due.length - 1];
    if (last === undefined || due.length < deps.batchSize) {
      cursor.afterId = '0'; // the pass reached the end: the next one starts over
      result.complete = true;
      break;
    }
    cursor.afterId = last.id;
  }
  result.missedEnterprises = [...missedBy].sort();
  return result;
}

/** One line for a row the sweep could not handle (no payload: RowRef has none). */
export function rowErrorFields(row: RowRef, err: unknown): Record<string, unknown> {
  return { enterprise_id: row.enterprise_id, notification_id: row.id, err: describeError(err) };
}
