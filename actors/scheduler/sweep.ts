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
  /** where the next sweep resumes its pass over due pending rows (kept by the caller between sweeps) */
  cursor?: { afterId: string };
  /** pages of `batchSize` rows one sweep reads at most @defaultValue 5 */
  maxPages?: number;
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

/** The lease owner is `job:<jobId>` (src/delivery/process.ts): is that job still waiting, delayed or running? */
async function ownerAlive(deps: SweepDeps, row: NotificationRow): Promise<boolean> {
  if (row.lease_owner === null || !row.lease_owner.startsWith('job:')) return false;
  const state = await deps.producer.queue.getJobState(row.lease_owner.slice('job:'.length));
  return state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'active' || state === 'waiting-children';
}

export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const result: SweepResult = { missed: 0, repaired: 0, expired: 0, unknownEnterprise: 0, scanned: 0 };
  if (deps.scope.enterpriseIds === undefined) {
    result.unknownEnterprise = await failUnknownEnterprises(deps.db, { limit: deps.batchSize, olderThanMs: deps.graceMs });
  }
  const cursor = deps.cursor ?? { afterId: '0' };
  for (let page = 0; page < (deps.maxPages ?? 5); page += 1) {
    const due = await duePending(deps.db, { limit: deps.batchSize, olderThanMs: deps.graceMs, afterId: cursor.afterId, ...deps.scope });
    for (const row of due) {
      result.scanned += 1;
      const outcome = await ensureJob(deps, row);
      if (outcome === 'missed') result.missed += 1;
      else if (outcome === 'repaired') result.repaired += 1;
    }
    const last = due[due.length - 1];
    if (last === undefined || due.length < deps.batchSize) {
      cursor.afterId = '0'; // the pass reached the end: the next one starts over
      break;
    }
    cursor.afterId = last.id;
  }
  const leases = await expiredLeases(deps.db, { limit: deps.batchSize, ...deps.scope });
  for (const row of leases) {
    result.scanned += 1;
    // A lease outlives its job's wait only when the job still sits in the queue (a retry behind a backlog): the
    // owner will reclaim it, so the row is not stuck. Otherwise its worker died: enqueue it again (the claim bumped
    // the version, so this id is new unless an earlier sweep already queued it).
    if (await ownerAlive(deps, row)) continue;
    const outcome = await ensureJob(deps, row);
    if (outcome !== 'present') result.expired += 1;
  }
  return result;
}
