// Test helpers to create and read notification rows the way an application would (plain SQL inserts).
import type pg from 'pg';

export interface NewRow {
  enterprise_id: string;
  workflow_id?: string;
  recipients?: string[];
  payload?: unknown;
  scheduled_for?: Date | null;
  status?: string;
}

export async function insertRow(db: pg.Pool, row: NewRow): Promise<string> {
  const res = await db.query<{ id: string }>(
    `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload, scheduled_for, status)
     values ($1, $2, $3, $4::jsonb, $5, coalesce($6, 'pending')) returning id::text`,
    [
      row.enterprise_id,
      row.workflow_id ?? 'welcome',
      row.recipients ?? ['user-1'],
      JSON.stringify('payload' in row ? row.payload : { hello: 'world' }),
      row.scheduled_for ?? null,
      row.status ?? null,
    ],
  );
  return (res.rows[0] as { id: string }).id;
}

export async function insertMany(
  db: pg.Pool,
  enterpriseId: string,
  count: number,
  extra: Partial<NewRow> = {},
): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload)
     select $1, $2, array['user-' || g], jsonb_build_object('n', g) from generate_series(1, $3) g returning id::text`,
    [enterpriseId, extra.workflow_id ?? 'welcome', count],
  );
  return res.rows.map((r) => r.id);
}

export async function statusCounts(db: pg.Pool): Promise<Record<string, number>> {
  const res = await db.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from notify.ent_notification group by status',
  );
  return Object.fromEntries(res.rows.map((r) => [r.status, r.n]));
}

/** The row with its delivery bookkeeping (notify.ent_notification_state: attempts, lease, delivery_status). */
export async function rowById(db: pg.Pool, id: string): Promise<Record<string, unknown>> {
  const res = await db.query('select * from notify.ent_notification_state where id = $1', [id]);
  return res.rows[0] as Record<string, unknown>;
}

/** Sets a row's delivery bookkeeping for its current arming, as if earlier attempts had happened. */
export async function setDelivery(
  db: pg.Pool,
  id: string,
  fields: { attempts?: number; firstAttemptSecondsAgo?: number; leaseOwner?: string; leaseExpiresInSeconds?: number },
): Promise<void> {
  await db.query(
    `insert into notify.delivery
            (notification_id, armed_version, attempts, first_attempt_at, lease_owner, lease_expires_at)
     select id, armed_version, $2, now() - make_interval(secs => $3), $4, now() + make_interval(secs => $5)
       from notify.ent_notification where id = $1
     on conflict (notification_id) do update set armed_version = excluded.armed_version, attempts = excluded.attempts,
       first_attempt_at = excluded.first_attempt_at, lease_owner = excluded.lease_owner,
       lease_expires_at = excluded.lease_expires_at, outcome = null`,
    [
      id,
      fields.attempts ?? 0,
      fields.firstAttemptSecondsAgo ?? 0,
      fields.leaseOwner ?? null,
      fields.leaseExpiresInSeconds ?? -1,
    ],
  );
}
