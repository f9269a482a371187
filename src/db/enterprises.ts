// Which enterprises a host serves, as SQL: the scope a sweep or a rule listing covers (DAEMON_ENTERPRISE_IDS, or
// the enabled rows of notify.enterprise; never the ones switched off by ENT_<id>_SUBSCRIPTION_ENABLED=false), and
// the enabled rows themselves.
import type pg from 'pg';

export interface EnterpriseScope {
  /** only these (DAEMON_ENTERPRISE_IDS); undefined = the enabled rows of notify.enterprise */
  enterpriseIds?: readonly string[] | undefined;
  /** never these (ENT_<id>_SUBSCRIPTION_ENABLED=false) */
  excludeIds?: readonly string[] | undefined;
}

/**
 * The scope as a SQL condition on `column`, with the ids and excluded ids as parameters $ids and $exclude. A row of
 * notify.enterprise with enabled = false takes an enterprise out of scope even when DAEMON_ENTERPRISE_IDS lists it,
 * and so does a pause (notify.enterprise_pause).
 */
export function scopeSql(column: string, ids: number, exclude: number): string {
  return `(case when $${ids}::text[] is null
               then ${column} in (select e.id from notify.enterprise e where e.enabled)
               else ${column} = any($${ids}) end)
          and not (${column} = any(coalesce($${exclude}::text[], '{}')))
          and not exists (select 1 from notify.enterprise e where e.id = ${column} and not e.enabled)
          and not exists (select 1 from notify.enterprise_pause p where p.enterprise_id = ${column})`;
}

export function scopeParams(scope: EnterpriseScope): [string[] | null, string[] | null] {
  return [
    scope.enterpriseIds === undefined ? null : [...scope.enterpriseIds],
    scope.excludeIds === undefined ? null : [...scope.excludeIds],
  ];
}

/** Enterprises to serve when DAEMON_ENTERPRISE_IDS is unset. */
export async function enabledEnterprises(db: pg.Pool): Promise<string[]> {
  const res = await db.query<{ id: string }>('select id from notify.enterprise where enabled order by id');
  return res.rows.map((r) => r.id);
}

/** Enterprises switched off in notify.enterprise (enabled = false): never served, whatever else says. */
export async function disabledEnterprises(db: pg.Pool): Promise<string[]> {
  const res = await db.query<{ id: string }>('select id from notify.enterprise where not enabled order by id');
  return res.rows.map((r) => r.id);
}

export interface Pause {
  enterprise_id: string;
  paused_at: Date;
  paused_by: string | null;
  reason: string | null;
}

export async function pausedEnterprises(db: pg.Pool): Promise<Pause[]> {
  const res = await db.query<Pause>(
    'select enterprise_id, paused_at, paused_by, reason from notify.enterprise_pause order by enterprise_id',
  );
  return res.rows;
}

/** Pauses an enterprise on every host; true when it was not paused already. */
export async function pauseEnterprise(
  db: pg.Pool,
  args: { enterpriseId: string; by?: string; reason?: string },
): Promise<boolean> {
  const res = await db.query(
    `insert into notify.enterprise_pause (enterprise_id, paused_by, reason) values ($1, $2, $3)
     on conflict (enterprise_id) do nothing`,
    [args.enterpriseId, args.by ?? null, args.reason ?? null],
  );
  return res.rowCount === 1;
}

/** Resumes it; true when it was paused. */
export async function resumeEnterprise(db: pg.Pool, enterpriseId: string): Promise<boolean> {
  const res = await db.query('delete from notify.enterprise_pause where enterprise_id = $1', [enterpriseId]);
  return res.rowCount === 1;
}
