// The catch-up an enterprise actor runs after every (re)subscribe: Realtime never replays, so every pending row
// changed since the durable watermark (minus an overlap) is enqueued again; dedup by job id absorbs the overlap
// with live events. The watermark then moves to the time the catch-up began (the database's clock).
import type pg from 'pg';
import { getWatermark, pendingChangedSince, setWatermark, type NotificationRow } from '../../src/db/notifications.js';
import type { EnqueueRequest, NotificationProducer } from '../../src/queue/producer.js';
import { priorityFor, type Priorities } from './changes.js';

export interface CatchUpDeps {
  db: pg.Pool;
  producer: Pick<NotificationProducer, 'enqueueMany'>;
  enterpriseId: string;
  priorities: Priorities;
  overlapMs: number;
  batchSize?: number;
}

export interface CatchUpResult {
  enqueued: number;
  since: Date | null;
  watermark: Date;
}

export function requestForRow(row: NotificationRow, priorities: Priorities, origin: EnqueueRequest['origin'], now = Date.now()): EnqueueRequest {
  const due = row.scheduled_for?.getTime();
  return {
    enterpriseId: row.enterprise_id,
    notificationId: row.id,
    version: row.version,
    action: 'deliver',
    origin,
    priority: priorityFor({ source: row.source, scheduled_for: row.scheduled_for?.toISOString() ?? null }, priorities, now),
    delayMs: due === undefined ? 0 : Math.max(0, due - now),
  };
}

export async function catchUp(deps: CatchUpDeps): Promise<CatchUpResult> {
  const started = (await deps.db.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]?.now ?? new Date();
  const watermark = await getWatermark(deps.db, deps.enterpriseId);
  const since = watermark === null ? null : new Date(watermark.getTime() - deps.overlapMs);
  const limit = deps.batchSize ?? 500;
  let after: { updatedAt: Date; id: string } | undefined;
  let enqueued = 0;
  for (;;) {
    const rows = await pendingChangedSince(deps.db, { enterpriseId: deps.enterpriseId, since, ...(after ? { after } : {}), limit });
    await deps.producer.enqueueMany(rows.map((row) => requestForRow(row, deps.priorities, 'catchup')));
    enqueued += rows.length;
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < limit) break;
    after = { updatedAt: last.updated_at, id: last.id };
  }
  await setWatermark(deps.db, deps.enterpriseId, started);
  return { enqueued, since, watermark: started };
}
