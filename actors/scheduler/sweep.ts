// The sweep: level-triggered truth behind the edge-triggered Realtime path. It finds pending rows that are due
// but have no live job (an event was missed, a job was lost with Redis) and processing rows whose lease expired
// (their worker died), and enqueues them again. Dedup by job id makes overlapping with the live path safe.
import type pg from 'pg';
import { duePending, expiredLeases, failUnknownEnterprises, getRow, type EnterpriseScope, type NotificationRow } from '../../src/db/notifications.js';
import { jobIdFor } from '../../src/queue/jobs.js';
import type { NotificationProducer } from '../../src/queue/producer.js';
import { requestForRow } from '../enterprise/catchup.js';
import type { Priorities } from '../enterprise/changes.js';

export interface SweepDeps {
  db: pg.Pool;
  producer: NotificationProducer;
  priorities: (enterpriseId: string) => Priorities;
  batchSize: number;
  /** rows younger than this are left to the live path */
  graceMs: number;
  scope: EnterpriseScope;
}

export interface SweepResult {
  /** due pending rows that had no job at all: the realtime path missed them */
  missed: number;
  /** due pending rows whose job had already finished: re-armed */
  repaired: number;
  /** processing rows whose lease expired: re-enqueued */
  expired: number;
  /** pending rows of enterprises absent from notify.enterprise: failed with a reason */
  unknownEnterprise: number;
  scanned: number;
}

/**
 * Makes sure the row's current version has a live job. A job that already finished is only replaced when the row is
 * still in the state and version the sweep read: between the read and this check the row may have been processed
 * (its job then finished legitimately), and removing that job would throw away the record dedup relies on.
 */
export async function ensureJob(deps: SweepDeps, row: NotificationRow): Promise<'present' | 'missed' | 'repaired'> {
  const jobId = jobIdFor(row.id, row.version);
  const state = await deps.producer.queue.getJobState(jobId);
  if (state !== 'unknown' && state !== 'completed' && state !== 'failed') return 'present';
  const now = await getRow(deps.db, row.id);
  if (now === undefined || now.status !== row.status || now.version !== row.version) return 'present';
  if (state !== 'unknown') await deps.producer.queue.remove(jobId).catch(() => undefined);
  await deps.producer.enqueue(requestForRow(row, deps.priorities(row.enterprise_id), 'sweep'));
  return state === 'unknown' ? 'missed' : 'repaired';
}

export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const result: SweepResult = { missed: 0, repaired: 0, expired: 0, unknownEnterprise: 0, scanned: 0 };
  if (deps.scope.enterpriseIds === undefined) {
    result.unknownEnterprise = await failUnknownEnterprises(deps.db, { limit: deps.batchSize, olderThanMs: deps.graceMs });
  }
  const due = await duePending(deps.db, { limit: deps.batchSize, olderThanMs: deps.graceMs, ...deps.scope });
  for (const row of due) {
    result.scanned += 1;
    const outcome = await ensureJob(deps, row);
    if (outcome === 'missed') result.missed += 1;
    else if (outcome === 'repaired') result.repaired += 1;
  }
  const leases = await expiredLeases(deps.db, { limit: deps.batchSize, ...deps.scope });
  for (const row of leases) {
    result.scanned += 1;
    // The claim bumped the version, so this id is new unless an earlier sweep already queued it.
    const outcome = await ensureJob(deps, row);
    if (outcome !== 'present') result.expired += 1;
  }
  return result;
}
