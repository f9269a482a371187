// What one Realtime postgres_changes event on notify.ent_notification means for the queue: enqueue a delivery,
// enqueue a Novu cancel, drop a stale waiting job, or nothing. Pure, so every rule of the lifecycle is unit-tested.
//   INSERT pending                         → deliver (delayed until scheduled_for)
//   UPDATE by notifyd itself               → nothing (its own status writes)
//   UPDATE → cancelled                     → drop the waiting job, and enqueue a Novu cancel (it calls Novu only if
//                                            notifyd ever claimed this arming: a pending row may be in flight)
//   UPDATE → pending from another status   → deliver the re-armed row
//   UPDATE pending, scheduled_for changed  → deliver at the new time, drop the old job
//   DELETE                                 → drop the waiting job
import { jobIdFor } from '../../src/queue/jobs.js';
import type { EnqueueRequest } from '../../src/queue/producer.js';
import { delayOf, priorityOf, type Priorities } from '../../src/queue/routing.js';

export type { Priorities } from '../../src/queue/routing.js';

export interface ChangePayload {
  eventType: 'INSERT' | 'UPDATE' | 'DELETE';
  commit_timestamp?: string | null;
  new: Record<string, unknown>;
  old: Record<string, unknown>;
  errors?: unknown;
}

/** The only columns the rules below read: everything else (payload, recipients) is dropped on arrival. */
const ROUTING_FIELDS = ['id', 'enterprise_id', 'status', 'version', 'writer', 'source', 'scheduled_for'] as const;

function pick(record: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (record === undefined || record === null) return out;
  for (const f of ROUTING_FIELDS) if (f in record) out[f] = record[f];
  return out;
}

/**
 * A change reduced to what routing needs, so a buffered event holds a few hundred bytes however large the row's
 * payload is (a tenant with 400 KB payloads cannot fill a realtime thread's heap while Redis is slow).
 */
export function compactChange(change: ChangePayload): ChangePayload {
  return {
    eventType: change.eventType,
    commit_timestamp: change.commit_timestamp ?? null,
    new: pick(change.new),
    old: pick(change.old),
    errors: Array.isArray(change.errors) ? change.errors.slice(0, 5).map((e) => String(e).slice(0, 200)) : null,
  };
}

export type ChangeAction =
  | { kind: 'enqueue'; request: EnqueueRequest }
  | { kind: 'remove'; jobId: string }
  | { kind: 'catch_up'; reason: string }
  | { kind: 'ignore'; reason: string };

/** bigint columns arrive as JSON numbers; beyond 2^53 they are not exact, so such an event triggers a catch-up. */
function idString(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^[1-9]\d{0,18}$/.test(value)) return value;
  return undefined;
}

/**
 * A time as the event carries it, in ms; undefined for anything else ('infinity', a year JavaScript cannot hold,
 * garbage). A row scheduled at such a value is delivered at once: the claim then fails it with the reason.
 */
function timeMs(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '' || value.length > 64) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function deliver(
  enterpriseId: string,
  row: Record<string, unknown>,
  id: string,
  version: string,
  priorities: Priorities,
  now: number,
  committedAt: number | undefined,
): ChangeAction {
  const due = timeMs(row['scheduled_for']);
  const dueInMs = due === undefined ? null : due - now;
  return {
    kind: 'enqueue',
    request: {
      enterpriseId,
      notificationId: id,
      version,
      action: 'deliver',
      origin: 'realtime',
      priority: priorityOf({ source: row['source'], dueInMs }, priorities),
      delayMs: delayOf(dueInMs),
      ...(committedAt === undefined ? {} : { committedAt }),
    },
  };
}

export function interpretChange(
  enterpriseId: string,
  change: ChangePayload,
  priorities: Priorities,
  now = Date.now(),
): ChangeAction[] {
  const committedAt = timeMs(change.commit_timestamp);
  if (Array.isArray(change.errors) && change.errors.length > 0) {
    // e.g. "Error 413: Payload Too Large": the record lost its large fields; ids are small and kept, but be sure.
    const id = idString(change.new['id'] ?? change.old['id']);
    const version = idString(change.new['version'] ?? change.old['version']);
    if (id === undefined || version === undefined)
      return [{ kind: 'catch_up', reason: `event with errors: ${change.errors.map(String).join('; ').slice(0, 200)}` }];
  }
  switch (change.eventType) {
    case 'INSERT': {
      const row = change.new;
      if (row['enterprise_id'] !== enterpriseId) return [{ kind: 'ignore', reason: 'other_enterprise' }];
      const id = idString(row['id']);
      const version = idString(row['version']);
      if (id === undefined || version === undefined)
        return [{ kind: 'catch_up', reason: 'insert without a usable id/version' }];
      if (row['status'] !== 'pending') return [{ kind: 'ignore', reason: `inserted as ${String(row['status'])}` }];
      return [deliver(enterpriseId, row, id, version, priorities, now, committedAt)];
    }
    case 'UPDATE': {
      const row = change.new;
      const old = change.old;
      if (row['enterprise_id'] !== enterpriseId) return [{ kind: 'ignore', reason: 'other_enterprise' }];
      if (row['writer'] === 'notifyd') return [{ kind: 'ignore', reason: 'own_write' }];
      const id = idString(row['id']);
      const version = idString(row['version']);
      const oldVersion = idString(old['version']);
      if (id === undefined || version === undefined)
        return [{ kind: 'catch_up', reason: 'update without a usable id/version' }];
      const stale: ChangeAction[] =
        oldVersion === undefined ? [] : [{ kind: 'remove', jobId: jobIdFor(id, oldVersion) }];
      if (row['status'] === 'cancelled') {
        if (old['status'] === 'cancelled') return [{ kind: 'ignore', reason: 'already_cancelled' }];
        // Pending, processing or sent before: Novu may hold it (a pending row can be in flight, its lease lives in
        // notify.delivery). The cancel job asks Novu only when notifyd claimed this arming.
        const mayBeInNovu = old['status'] === 'pending' || old['status'] === 'processing' || old['status'] === 'sent';
        const cancel: ChangeAction[] = mayBeInNovu
          ? [
              {
                kind: 'enqueue',
                request: {
                  enterpriseId,
                  notificationId: id,
                  version,
                  action: 'cancel',
                  origin: 'realtime',
                  priority: priorities.realtime,
                  delayMs: 0,
                },
              },
            ]
          : [];
        return [...stale, ...cancel];
      }
      if (row['status'] === 'pending') {
        const rearmed = old['status'] !== undefined && old['status'] !== 'pending';
        const rescheduled = old['scheduled_for'] !== row['scheduled_for'];
        if (!rearmed && !rescheduled) return [{ kind: 'ignore', reason: 'pending_row_edited' }];
        return [
          ...(rescheduled && !rearmed ? stale : []),
          deliver(enterpriseId, row, id, version, priorities, now, committedAt),
        ];
      }
      return [{ kind: 'ignore', reason: `application set status ${String(row['status'])}` }];
    }
    case 'DELETE': {
      const old = change.old;
      if (old['enterprise_id'] !== undefined && old['enterprise_id'] !== enterpriseId)
        return [{ kind: 'ignore', reason: 'other_enterprise' }];
      const id = idString(old['id']);
      const version = idString(old['version']);
      if (id === undefined || version === undefined) return [{ kind: 'ignore', reason: 'delete without id/version' }];
      if (old['status'] !== 'pending') return [{ kind: 'ignore', reason: `deleted while ${String(old['status'])}` }];
      return [{ kind: 'remove', jobId: jobIdFor(id, version) }];
    }
    default:
      return [{ kind: 'ignore', reason: 'unknown event type' }];
  }
}
