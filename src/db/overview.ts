// What `notifyd status` reads from PostgreSQL besides the failures: pending work per enterprise, the oldest due
// pending row, and the enterprises switched off in notify.enterprise. Ages are measured on the database's clock.
import type pg from 'pg';

export interface PendingByEnterprise {
  enterprise_id: string;
  /** every pending row, scheduled ones included */
  pending: number;
  /** pending and due now */
  due: number;
  /** seconds since the oldest due row became due (its last write, or scheduled_for when later); null when none */
  oldest_due_age_s: number | null;
}

/** The moment a pending row became due: its last write by the application, or scheduled_for when that is later. */
const DUE_SINCE = `greatest(n.updated_at, coalesce(n.scheduled_for, '-infinity'))`;
const IS_DUE = `(n.scheduled_for is null or n.scheduled_for <= clock_timestamp())`;

export async function pendingByEnterprise(db: pg.Pool): Promise<PendingByEnterprise[]> {
  const res = await db.query<PendingByEnterprise>(
    `select n.enterprise_id, count(*)::int as pending, count(*) filter (where ${IS_DUE})::int as due,
            extract(epoch from clock_timestamp() - min(${DUE_SINCE}) filter (where ${IS_DUE}))::float8
              as oldest_due_age_s
       from notify.ent_notification n
      where n.status = 'pending'
      group by n.enterprise_id
      order by n.enterprise_id`,
  );
  return res.rows;
}

export interface OldestDue {
  id: string;
  enterprise_id: string;
  age_s: number;
  due_since: Date;
}

/**
 * The oldest due pending row of an enterprise that is neither paused nor disabled in notify.enterprise nor in
 * `excludeIds` (observed ones): rows that wait on purpose do not count, as for the notifyd_oldest_due_pending_seconds
 * gauge.
 */
export async function oldestDuePending(db: pg.Pool, excludeIds: readonly string[] = []): Promise<OldestDue | null> {
  const res = await db.query<OldestDue>(
    `select n.id::text, n.enterprise_id, ${DUE_SINCE} as due_since,
            greatest(0, extract(epoch from clock_timestamp() - ${DUE_SINCE}))::float8 as age_s
       from notify.ent_notification n
      where n.status = 'pending' and ${IS_DUE}
        and not exists (select 1 from notify.enterprise_pause p where p.enterprise_id = n.enterprise_id)
        and not exists (select 1 from notify.enterprise e where e.id = n.enterprise_id and not e.enabled)
        and not (n.enterprise_id = any($1::text[]))
      order by ${DUE_SINCE}, n.id
      limit 1`,
    [excludeIds],
  );
  return res.rows[0] ?? null;
}

/** How many rows failed in the window, by the database's clock. */
export async function failedCount(db: pg.Pool, agoMs: number): Promise<number> {
  const res = await db.query<{ n: number }>(
    `select count(*)::int as n from notify.ent_notification n
      where n.status = 'failed' and n.updated_at >= clock_timestamp() - make_interval(secs => $1::float8 / 1000)`,
    [agoMs],
  );
  return res.rows[0]?.n ?? 0;
}
