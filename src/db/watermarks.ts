// Where each enterprise's catch-up resumes after a (re)subscribe: a durable watermark per enterprise, only ever
// moved forward, always an instant of the database's clock (never a host's). A write made under an ownership
// lease carries its fencing token: one with a token older than the last writer's changes nothing and reports it.
import type pg from 'pg';

export async function getWatermark(db: pg.Pool, enterpriseId: string): Promise<Date | null> {
  const res = await db.query<{ watermark: Date }>(
    'select watermark from notify.subscription_watermark where enterprise_id = $1',
    [enterpriseId],
  );
  return res.rows[0]?.watermark ?? null;
}

/** The upsert both writers share: $2 is the new instant, $3 the fencing token (0 without a lease). */
const UPSERT = (instant: string) => `
  insert into notify.subscription_watermark as w (enterprise_id, watermark, fence) values ($1, ${instant}, $3)
  on conflict (enterprise_id) do update
    set watermark = greatest(w.watermark, excluded.watermark), fence = greatest(w.fence, excluded.fence),
        updated_at = now()
  where w.fence <= excluded.fence
  returning 1 as ok`;

/**
 * Sets the watermark to `at` (an instant read from the database) unless it is already later. False when a newer
 * lease's holder has written it since (`fence` is older): nothing was changed.
 */
export async function setWatermark(db: pg.Pool, enterpriseId: string, at: Date, fence = 0): Promise<boolean> {
  const res = await db.query(UPSERT('$2::timestamptz'), [enterpriseId, at, fence]);
  return (res.rowCount ?? 0) > 0;
}

/** Moves the watermark to `lagMs` before now on the database's clock, never backwards; false when fenced out. */
export async function advanceWatermark(db: pg.Pool, enterpriseId: string, lagMs: number, fence = 0): Promise<boolean> {
  const res = await db.query(UPSERT('clock_timestamp() - make_interval(secs => $2::float8 / 1000)'), [
    enterpriseId,
    lagMs,
    fence,
  ]);
  return (res.rowCount ?? 0) > 0;
}
