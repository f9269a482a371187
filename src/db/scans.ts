// The reads of the level-triggered paths: the catch-up (pending rows of one enterprise changed since a watermark)
// and the sweep (due pending rows, and rows of enterprises that do not exist). They read routing columns only —
// never payloads or recipients — and page by keys that cannot tie, so any number of rows written in one
// millisecond, and any value a row can hold, are passed in bounded pages.
import type pg from 'pg';
import { scopeParams, scopeSql, type EnterpriseScope } from './enterprises.js';
import { routeColumns, schedulable, type RowRef } from './schedule-sql.js';

/** Where a catch-up page ended: the last row's exact updated_at (as PostgreSQL prints it, microseconds kept) and id. */
export interface ChangeCursor {
  updatedAt: string;
  id: string;
}

/** Pending rows of one enterprise changed since `since` (null = all), oldest first, after the cursor. */
export async function pendingChangedSince(
  db: pg.Pool,
  args: {
    enterpriseId: string;
    since: Date | null;
    after?: ChangeCursor;
    limit: number;
  },
): Promise<(RowRef & { cursor_at: string })[]> {
  const res = await db.query<RowRef & { cursor_at: string }>(
    `select ${routeColumns('n')}, n.updated_at::text as cursor_at from notify.ent_notification n
      where n.enterprise_id = $1 and n.status = 'pending'
        and ($2::timestamptz is null or n.updated_at > $2)
        and ($3::timestamptz is null or (n.updated_at, n.id) > ($3::timestamptz, $4::bigint))
      order by n.updated_at, n.id limit $5`,
    [args.enterpriseId, args.since, args.after?.updatedAt ?? null, args.after?.id ?? null, args.limit],
  );
  return res.rows;
}

/**
 * Pending rows of any of these enterprises changed after `since` and at least `olderThanMs` ago (on the database's
 * clock), oldest first, after the cursor, at most `limit`: what the live feed's check compares with the events that
 * came.
 */
export async function pendingChangedAmong(
  db: pg.Pool,
  args: { enterpriseIds: readonly string[]; since: Date; olderThanMs: number; after?: ChangeCursor; limit: number },
): Promise<{ id: string; enterprise_id: string; version: string; cursor_at: string }[]> {
  const res = await db.query<{ id: string; enterprise_id: string; version: string; cursor_at: string }>(
    `select n.id::text, n.enterprise_id, n.version::text, n.updated_at::text as cursor_at
       from notify.ent_notification n
      where n.enterprise_id = any($1::text[]) and n.status = 'pending' and n.updated_at > $2
        and n.updated_at <= clock_timestamp() - make_interval(secs => $3::float8 / 1000)
        and ($4::timestamptz is null or (n.updated_at, n.id) > ($4::timestamptz, $5::bigint))
      order by n.updated_at, n.id limit $6`,
    [
      args.enterpriseIds,
      args.since,
      args.olderThanMs,
      args.after?.updatedAt ?? null,
      args.after?.id ?? null,
      args.limit,
    ],
  );
  return res.rows;
}

/**
 * Pending rows due now (or within `aheadMs`) — and rows whose schedule can never be due, to be failed — in id order
 * after `afterId`: what the sweep makes sure has a job. Rows changed within `olderThanMs` are left to the live path.
 */
export async function duePending(
  db: pg.Pool,
  args: {
    limit: number;
    aheadMs?: number;
    olderThanMs?: number;
    afterId?: string;
  } & EnterpriseScope,
): Promise<RowRef[]> {
  const res = await db.query<RowRef>(
    `select ${routeColumns('n')} from notify.ent_notification n
      where n.status = 'pending' and n.id > $6::bigint
        and (n.scheduled_for is null or n.scheduled_for <= clock_timestamp() + make_interval(secs => $2::float8 / 1000)
             or not (${schedulable('n.scheduled_for')}))
        and n.updated_at <= clock_timestamp() - make_interval(secs => $3::float8 / 1000)
        and ${scopeSql('n.enterprise_id', 4, 5)}
      order by n.id limit $1`,
    [args.limit, args.aheadMs ?? 0, args.olderThanMs ?? 0, ...scopeParams(args), args.afterId ?? '0'],
  );
  return res.rows;
}

/**
 * Fails due pending rows whose enterprise has no row in notify.enterprise: when enterprises are served from that
 * table, nobody will ever deliver them. Only called in that mode (with DAEMON_ENTERPRISE_IDS another host may
 * serve them).
 */
export async function failUnknownEnterprises(
  db: pg.Pool,
  args: { limit: number; olderThanMs: number },
): Promise<number> {
  const res = await db.query(
    `update notify.ent_notification n
        set status = 'failed', last_error = 'unknown enterprise ' || n.enterprise_id || ': no row in notify.enterprise',
            writer = 'notifyd!'
      where n.id in (
        select id from notify.ent_notification x
         where x.status = 'pending' and (x.scheduled_for is null or x.scheduled_for <= clock_timestamp())
           and x.updated_at <= clock_timestamp() - make_interval(secs => $2::float8 / 1000)
           and not exists (select 1 from notify.enterprise e where e.id = x.enterprise_id)
         limit $1)
        and n.status = 'pending'`,
    [args.limit, args.olderThanMs],
  );
  return res.rowCount ?? 0;
}
