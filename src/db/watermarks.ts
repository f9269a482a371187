// Where each enterprise's catch-up resumes after a (re)subscribe: a durable watermark per enterprise, only ever
// moved forward, always an instant of the database's clock (never a host's).
import type pg from 'pg';

export async function getWatermark(db: pg.Pool, enterpriseId: string): Promise<Date | null> {
  const res = await db.query<{ watermark: Date }>(
    'select watermark from notify.subscription_watermark where enterprise_id = $1',
    [enterpriseId],
  );
  return res.rows[0]?.watermark ?? null;
}

/** Sets the watermark to `at` (an instant read from the database) unless it is already later. */
export async function setWatermark(db: pg.Pool, enterpriseId: string, at: Date): Promise<void> {
  await db.query(
    `insert into notify.subscription_watermark (enterprise_id, watermark) values ($1, $2)
     on conflict (enterprise_id) do update
       set watermark = greatest(notify.subscription_watermark.watermark, excluded.watermark), updated_at = now()`,
    [enterpriseId, at],
  );
}

/** Moves the watermark to `lagMs` before now on the database's clock, never backwards. */
export async function advanceWatermark(db: pg.Pool, enterpriseId: string, lagMs: number): Promise<void> {
  await db.query(
    `insert into notify.subscription_watermark (enterprise_id, watermark)
     values ($1, clock_timestamp() - make_interval(secs => $2::float8 / 1000))
     on conflict (enterprise_id) do update
       set watermark = greatest(notify.subscription_watermark.watermark, excluded.watermark), updated_at = now()`,
    [enterpriseId, lagMs],
  );
}
