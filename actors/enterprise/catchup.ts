// The catch-up an enterprise actor runs after every (re)subscribe: Realtime never replays, so every pending row
// changed since the durable watermark (minus an overlap) is enqueued again; dedup by job id absorbs the overlap
// with live events. Rows are read in pages by (updated_at, id) with the exact timestamp, so a bulk insert of any
// size in one millisecond is passed page by page. The watermark then moves to the time the catch-up began, on the
// database's clock. Under an ownership lease, every page and the watermark are written only while it holds.
import type pg from 'pg';
import { pendingChangedSince, type ChangeCursor } from '../../src/db/scans.js';
import { getWatermark, setWatermark } from '../../src/db/watermarks.js';
import { Errors, notifydError } from '../../src/errors.js';
import type { LeaseGate } from '../../src/ownership/gate.js';
import type { NotificationProducer } from '../../src/queue/producer.js';
import { requestForRow, type Priorities } from '../../src/queue/routing.js';

export interface CatchUpDeps {
  db: pg.Pool;
  producer: Pick<NotificationProducer, 'enqueueMany'>;
  enterpriseId: string;
  priorities: Priorities;
  overlapMs: number;
  /** rows per page @defaultValue 500 */
  batchSize?: number;
  /** ignore the watermark and read every pending row (a new owner, or after Redis lost data) */
  full?: boolean;
  /** the actor's ownership lease: checked before every page is enqueued; its token fences the watermark */
  gate?: LeaseGate;
}

export interface CatchUpResult {
  enqueued: number;
  pages: number;
  since: Date | null;
  watermark: Date;
}

export async function catchUp(deps: CatchUpDeps): Promise<CatchUpResult> {
  const started = (await deps.db.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]?.now as Date;
  const watermark = deps.full === true ? null : await getWatermark(deps.db, deps.enterpriseId);
  const since = watermark === null ? null : new Date(watermark.getTime() - deps.overlapMs);
  const limit = deps.batchSize ?? 500;
  let after: ChangeCursor | undefined;
  let enqueued = 0;
  let pages = 0;
  for (;;) {
    const rows = await pendingChangedSince(deps.db, {
      enterpriseId: deps.enterpriseId,
      since,
      ...(after ? { after } : {}),
      limit,
    });
    pages += 1;
    if (deps.gate !== undefined && !deps.gate.ok()) {
      throw notifydError(Errors.LEASE_LOST, deps.enterpriseId, 'its lease lapsed during the catch-up');
    }
    await deps.producer.enqueueMany(rows.map((row) => requestForRow(row, deps.priorities, 'catchup')));
    enqueued += rows.length;
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < limit) break;
    after = { updatedAt: last.cursor_at, id: last.id };
  }
  if (!(await setWatermark(deps.db, deps.enterpriseId, started, deps.gate?.token ?? 0))) {
    throw notifydError(Errors.LEASE_LOST, deps.enterpriseId, 'a newer owner has written the watermark');
  }
  return { enqueued, pages, since, watermark: started };
}
