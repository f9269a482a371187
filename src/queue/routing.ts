// From a row to queue work: the priority class of a notification (realtime > scheduled > cron) and the enqueue
// request for a row read from the database (catch-up, sweep). Total functions: any row, whatever its schedule
// holds, gives a request — a row that can never be due is delivered at once, to be failed with its reason.
import type { RowRef } from '../db/schedule-sql.js';
import type { EnqueueRequest } from './producer.js';

export interface Priorities {
  realtime: number;
  scheduled: number;
  cron: number;
}

/** cron for rule fires; scheduled for a row due later; realtime otherwise. */
export function priorityOf(
  row: { source: unknown; dueInMs: number | null | undefined },
  priorities: Priorities,
): number {
  if (row.source === 'rule') return priorities.cron;
  if (row.dueInMs !== null && row.dueInMs !== undefined && row.dueInMs > 0) return priorities.scheduled;
  return priorities.realtime;
}

/** A delay BullMQ can hold: whole ms ≥ 0; anything not a finite positive number means now. */
export function delayOf(dueInMs: number | null | undefined): number {
  return typeof dueInMs === 'number' && Number.isFinite(dueInMs) && dueInMs > 0 ? Math.round(dueInMs) : 0;
}

export function requestForRow(row: RowRef, priorities: Priorities, origin: EnqueueRequest['origin']): EnqueueRequest {
  const dueInMs = row.schedule_invalid ? null : row.due_in_ms;
  return {
    enterpriseId: row.enterprise_id,
    notificationId: row.id,
    version: row.version,
    action: 'deliver',
    origin,
    priority: priorityOf({ source: row.source, dueInMs }, priorities),
    delayMs: delayOf(dueInMs),
  };
}
