// Failed notifications for operators (`notifyd failed`, `notifyd retry`, `notifyd status`): listing and grouping
// rows with status = 'failed' by a normalised reason, and re-arming them the way an application does. Reads never
// select a payload or the recipients.
import type pg from 'pg';

/** When a window starts: an instant, or a duration back from now on the database's clock. */
export type Since = { at: Date } | { agoMs: number };

export interface FailedFilter {
  enterpriseId?: string | undefined;
  since?: Since | undefined;
  /** case-insensitive text in last_error, or in its normalised form (as `failed summary` prints it) */
  reason?: string | undefined;
}

export interface FailedRow {
  id: string;
  enterprise_id: string;
  workflow_id: string;
  last_error: string | null;
  updated_at: Date;
}

export interface ReasonGroup {
  /** last_error with every run of digits replaced by '#' */
  reason: string;
  count: number;
  enterprises: string[];
  first_at: Date;
  last_at: Date;
  /** the most recent last_error of the group, verbatim */
  example: string;
}

/** What a failed row without a last_error is grouped under. */
export const NO_REASON = '(no reason recorded)';

/** Reasons are sentences with numbers in them: the same failure with other sizes, ids or counts is one group. */
export function normaliseReason(reason: string | null): string {
  return reason === null ? NO_REASON : reason.replace(/[0-9]+/g, '#');
}

const GROUP_SQL = `coalesce(regexp_replace(n.last_error, '[0-9]+', '#', 'g'), '${NO_REASON}')`;

/** The filter as SQL on `n` (notify.ent_notification), with parameters from `first` on. */
function where(filter: FailedFilter, first: number): { sql: string; params: unknown[] } {
  const since = filter.since;
  const params: unknown[] = [
    filter.enterpriseId ?? null,
    since !== undefined && 'at' in since ? since.at : null,
    since !== undefined && 'agoMs' in since ? since.agoMs : null,
    filter.reason ?? null,
  ];
  const [e, at, ago, r] = [first, first + 1, first + 2, first + 3].map((i) => `$${i}`);
  const sql = `n.status = 'failed'
    and (${e}::text is null or n.enterprise_id = ${e})
    and (${at}::timestamptz is null or n.updated_at >= ${at})
    and (${ago}::float8 is null or n.updated_at >= clock_timestamp() - make_interval(secs => ${ago} / 1000))
    and (${r}::text is null or strpos(lower(coalesce(n.last_error, '')), lower(${r})) > 0
         or strpos(lower(${GROUP_SQL}), lower(${r})) > 0)`;
  return { sql, params };
}

/** Failed rows, newest first. */
export async function listFailed(db: pg.Pool, filter: FailedFilter, limit: number): Promise<FailedRow[]> {
  const w = where(filter, 2);
  const res = await db.query<FailedRow>(
    `select n.id::text, n.enterprise_id, n.workflow_id, n.last_error, n.updated_at
       from notify.ent_notification n
      where ${w.sql}
      order by n.updated_at desc, n.id desc
      limit $1`,
    [limit, ...w.params],
  );
  return res.rows;
}

/** Failed rows grouped by normalised reason, largest group first. */
export async function summarizeFailed(db: pg.Pool, filter: FailedFilter, limit = 1000): Promise<ReasonGroup[]> {
  const w = where(filter, 2);
  const res = await db.query<ReasonGroup>(
    `select ${GROUP_SQL} as reason, count(*)::int as count,
            array_agg(distinct n.enterprise_id order by n.enterprise_id) as enterprises,
            min(n.updated_at) as first_at, max(n.updated_at) as last_at,
            coalesce((array_agg(n.last_error order by n.updated_at desc, n.id desc))[1], '${NO_REASON}') as example
       from notify.ent_notification n
      where ${w.sql}
      group by 1
      order by count(*) desc, 1
      limit $1`,
    [limit, ...w.params],
  );
  return res.rows;
}

/** A row the application could set back to pending: the table's checks refuse some pending rows (migration 0004). */
const REARMABLE = `octet_length(n.payload::text) <= 1048576
  and (n.scheduled_for is null
       or n.scheduled_for between '0001-01-01 00:00:00+00' and '9999-12-31 23:59:59.999999+00')`;

export interface Rearmed {
  id: string;
  enterprise_id: string;
  workflow_id: string;
  /** the new arming: the delivery key (Novu transactionId) derives from it */
  armed_version: string;
  last_error: string | null;
}

export interface NotRearmed {
  id: string;
  /** the row's status, or null when no row has this id */
  status: string | null;
  why: 'not_found' | 'not_failed' | 'refused_by_table';
}

/**
 * Sets these failed rows back to pending as the application does (status only; writer stays the application's):
 * the table's trigger gives each a new armed_version, so notifyd delivers it again with new keys and fresh attempts.
 */
export async function rearmByIds(
  db: pg.Pool,
  ids: readonly string[],
): Promise<{ rearmed: Rearmed[]; skipped: NotRearmed[] }> {
  const res = await db.query<Rearmed>(
    `update notify.ent_notification n set status = 'pending'
      where n.id = any($1::bigint[]) and n.status = 'failed' and ${REARMABLE}
      returning n.id::text, n.enterprise_id, n.workflow_id, n.armed_version::text, n.last_error`,
    [ids],
  );
  const done = new Set(res.rows.map((r) => r.id));
  const rest = ids.filter((id) => !done.has(id));
  const skipped: NotRearmed[] = [];
  if (rest.length > 0) {
    const look = await db.query<{ id: string; status: string }>(
      'select n.id::text, n.status from notify.ent_notification n where n.id = any($1::bigint[])',
      [rest],
    );
    const found = new Map(look.rows.map((r) => [r.id, r.status]));
    for (const id of rest) {
      const status = found.get(id);
      skipped.push({
        id,
        status: status ?? null,
        why: status === undefined ? 'not_found' : status === 'failed' ? 'refused_by_table' : 'not_failed',
      });
    }
  }
  return { rearmed: sortById(res.rows), skipped };
}

/** Re-arms (or, with dryRun, only lists) up to `limit` failed rows matching the filter; `more` = matches left over. */
export async function rearmMatching(
  db: pg.Pool,
  filter: FailedFilter,
  limit: number,
  dryRun: boolean,
): Promise<{ rearmed: Rearmed[]; more: number; refused: number }> {
  const w = where(filter, 2);
  const picked = `select n.id from notify.ent_notification n where ${w.sql} and ${REARMABLE} order by n.id limit $1`;
  const res = dryRun
    ? await db.query<Rearmed>(
        `select n.id::text, n.enterprise_id, n.workflow_id, n.armed_version::text, n.last_error
         from notify.ent_notification n where n.id in (${picked})`,
        [limit, ...w.params],
      )
    : await db.query<Rearmed>(
        `update notify.ent_notification n set status = 'pending'
        where n.id in (${picked}) and n.status = 'failed'
        returning n.id::text, n.enterprise_id, n.workflow_id, n.armed_version::text, n.last_error`,
        [limit, ...w.params],
      );
  const all = where(filter, 1);
  const left = await db.query<{ more: number; refused: number }>(
    `select count(*) filter (where ${REARMABLE})::int as more,
            count(*) filter (where not (${REARMABLE}))::int as refused
       from notify.ent_notification n where ${all.sql}`,
    all.params,
  );
  const more = (left.rows[0]?.more ?? 0) - (dryRun ? res.rows.length : 0);
  return { rearmed: sortById(res.rows), more: Math.max(0, more), refused: left.rows[0]?.refused ?? 0 };
}

function sortById(rows: Rearmed[]): Rearmed[] {
  return rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0));
}
