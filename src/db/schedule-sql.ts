// How notifyd reads a notification for routing, in SQL: identity and version, and its schedule as the database
// sees it. Times are compared on the database's clock (the one authority for stored times) and come back as
// numbers, so no reader ever parses a stored timestamp: ±infinity, BC dates and years past JavaScript's range
// cannot break one. A row whose scheduled_for is not a schedulable instant is flagged, to be failed with a reason.
import type { NotificationStatus } from './notifications.js';

/** The instants notifyd schedules; the table refuses anything else on a pending row (migration 0004). */
export const SCHEDULABLE_FROM = '0001-01-01 00:00:00+00';
export const SCHEDULABLE_TO = '9999-12-31 23:59:59.999999+00';

export function schedulable(col: string): string {
  return `${col} between '${SCHEDULABLE_FROM}'::timestamptz and '${SCHEDULABLE_TO}'::timestamptz`;
}

/** A pending row that is due now by the database clock, or that can never be scheduled (to be failed). */
export function dueOrInvalid(alias: string): string {
  const col = `${alias}.scheduled_for`;
  return `(${col} is null or ${col} <= clock_timestamp() or not (${schedulable(col)}))`;
}

/** The routing columns of a row (RowRef), for a table aliased `alias`. */
export function routeColumns(alias: string): string {
  const a = alias;
  const ok = schedulable(`${a}.scheduled_for`);
  return `${a}.id, ${a}.enterprise_id, ${a}.status, ${a}.version, ${a}.armed_version, ${a}.source,
    case when ${a}.scheduled_for is null or not (${ok}) then null
         else (extract(epoch from ${a}.scheduled_for - clock_timestamp()) * 1000)::float8 end as due_in_ms,
    (${a}.scheduled_for is not null and not (${ok})) as schedule_invalid,
    left(${a}.scheduled_for::text, 64) as scheduled_for_text`;
}

/** A row as the routing paths (catch-up, sweep, claim losers) see it: never its payload or recipients. */
export interface RowRef {
  id: string;
  enterprise_id: string;
  status: NotificationStatus;
  version: string;
  armed_version: string;
  source: 'app' | 'rule';
  /** ms from now (the database's clock) to scheduled_for; ≤ 0 when due; null when unscheduled or unschedulable */
  due_in_ms: number | null;
  /** scheduled_for holds a value notifyd cannot schedule (±infinity, outside the years 1–9999) */
  schedule_invalid: boolean;
  /** scheduled_for as PostgreSQL prints it (for reasons and logs), or null */
  scheduled_for_text: string | null;
}

export function invalidScheduleReason(row: Pick<RowRef, 'scheduled_for_text'>): string {
  return `invalid scheduled_for: ${row.scheduled_for_text ?? 'unknown'} is not an instant between the years 1 and 9999`;
}
