// The SQL of the notification lifecycle: the atomic claim (pending → processing with a lease), the fenced outcome
// writes (sent / failed / retrying), catch-up and sweep reads, and the per-enterprise watermark. Every write
// notifyd makes sets writer = 'notifyd!' so its own UPDATE events are recognised and make no work.
import type pg from 'pg';

export type NotificationStatus = 'pending' | 'processing' | 'sent' | 'failed' | 'cancelled';

export interface NotificationRow {
  id: string;
  enterprise_id: string;
  workflow_id: string;
  recipients: string[];
  payload: unknown;
  status: NotificationStatus;
  scheduled_for: Date | null;
  version: string;
  armed_version: string;
  attempts: number;
  last_error: string | null;
  transaction_id: string | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  first_attempt_at: Date | null;
  source: 'app' | 'rule';
  updated_at: Date;
}

const ROW = `id, enterprise_id, workflow_id, recipients, payload, status, scheduled_for, version, armed_version,
  attempts, last_error, transaction_id, lease_owner, lease_expires_at, first_attempt_at, source, updated_at`;

/** Longest reason stored in last_error. */
const MAX_REASON = 1000;

export function clipReason(reason: string): string {
  return reason.length <= MAX_REASON ? reason : `${reason.slice(0, MAX_REASON - 1)}…`;
}

export type ClaimResult =
  | { kind: 'claimed'; row: NotificationRow }
  | { kind: 'not_due'; dueAt: Date }
  | { kind: 'skipped'; reason: 'not_found' | 'enterprise_mismatch' | 'not_pending' | 'leased'; status?: NotificationStatus };

/**
 * Claims a row for delivery: a pending row that is due, or a processing row whose lease is ours (a retry of the same
 * job) or has expired (its worker died). One statement, so two claimers never both win.
 */
export async function claim(db: pg.Pool, args: ClaimArgs): Promise<ClaimResult> {
  return (await claimMany(db, [args]))[0] as ClaimResult;
}

async function whyNotClaimed(db: pg.Pool, args: ClaimArgs): Promise<ClaimResult> {
  const look = await db.query<{ enterprise_id: string; status: NotificationStatus; scheduled_for: Date | null }>(
    'select enterprise_id, status, scheduled_for from notify.ent_notification where id = $1', [args.id]);
  const row = look.rows[0];
  if (row === undefined) return { kind: 'skipped', reason: 'not_found' };
  if (row.enterprise_id !== args.enterpriseId) return { kind: 'skipped', reason: 'enterprise_mismatch' };
  if (row.status === 'pending' && row.scheduled_for !== null) return { kind: 'not_due', dueAt: row.scheduled_for };
  if (row.status === 'processing') return { kind: 'skipped', reason: 'leased', status: row.status };
  return { kind: 'skipped', reason: 'not_pending', status: row.status };
}

export interface ClaimArgs {
  id: string;
  enterpriseId: string;
  owner: string;
  leaseMs: number;
}

const CLAIMABLE = `((n.status = 'pending' and (n.scheduled_for is null or n.scheduled_for <= clock_timestamp()))
          or (n.status = 'processing' and (n.lease_owner = u.owner or n.lease_expires_at < clock_timestamp())))`;

/**
 * Claims many rows in one statement (see claim). Two requests for the same row in one batch: the row is updated
 * once, for one owner; the other request finds it leased. Results are in request order.
 */
export async function claimMany(db: pg.Pool, reqs: readonly ClaimArgs[]): Promise<ClaimResult[]> {
  const res = await db.query<NotificationRow & { claim_owner: string }>(
    `update notify.ent_notification n
        set status = 'processing', lease_owner = u.owner,
            lease_expires_at = now() + make_interval(secs => u.lease_ms::float8 / 1000),
            attempts = n.attempts + 1, first_attempt_at = coalesce(n.first_attempt_at, clock_timestamp()), writer = 'notifyd!'
       from unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) as u(id, enterprise_id, owner, lease_ms)
      where n.id = u.id and n.enterprise_id = u.enterprise_id and ${CLAIMABLE}
      returning ${ROW.split(',').map((c) => `n.${c.trim()}`).join(', ')}, u.owner as claim_owner`,
    [reqs.map((r) => r.id), reqs.map((r) => r.enterpriseId), reqs.map((r) => r.owner), reqs.map((r) => r.leaseMs)]);
  const won = new Map<string, NotificationRow>();
  for (const { claim_owner: owner, ...row } of res.rows) won.set(`${row.id}|${owner}`, row);
  return Promise.all(reqs.map(async (r) => {
    const row = won.get(`${r.id}|${r.owner}`);
    return row !== undefined ? { kind: 'claimed', row } as const : whyNotClaimed(db, r);
  }));
}

/** Fenced on the lease: true when the row was still ours and is now sent. */
export async function markSent(db: pg.Pool, args: { id: string; owner: string; transactionId: string }): Promise<boolean> {
  return (await markSentMany(db, [args]))[0] === true;
}

/** Many markSent in one statement; results in request order. */
export async function markSentMany(db: pg.Pool, reqs: readonly { id: string; owner: string; transactionId: string }[]): Promise<boolean[]> {
  const res = await db.query<{ id: string; owner: string }>(
    `update notify.ent_notification n
        set status = 'sent', sent_at = now(), transaction_id = u.tx, last_error = null,
            lease_owner = null, lease_expires_at = null, writer = 'notifyd!'
       from unnest($1::bigint[], $2::text[], $3::text[]) as u(id, owner, tx)
      where n.id = u.id and n.status = 'processing' and n.lease_owner = u.owner
      returning n.id, u.owner`,
    [reqs.map((r) => r.id), reqs.map((r) => r.owner), reqs.map((r) => r.transactionId)]);
  const done = new Set(res.rows.map((r) => `${r.id}|${r.owner}`));
  return reqs.map((r) => done.has(`${r.id}|${r.owner}`));
}

/** Fenced on the lease: true when the row was still ours and is now failed with the reason. */
export async function markFailed(db: pg.Pool, args: { id: string; owner: string; reason: string; transactionId?: string }): Promise<boolean> {
  const res = await db.query(
    `update notify.ent_notification
        set status = 'failed', last_error = $3, transaction_id = coalesce($4, transaction_id),
            lease_owner = null, lease_expires_at = null, writer = 'notifyd!'
      where id = $1 and status = 'processing' and lease_owner = $2`,
    [args.id, args.owner, clipReason(args.reason), args.transactionId ?? null]);
  return res.rowCount === 1;
}

/**
 * Keeps the row processing under our lease until the retry runs, and records why the attempt failed. A rate-limited
 * attempt is refunded: Novu refused to look at it, so it does not count towards giving up.
 */
export async function markRetrying(db: pg.Pool, args: { id: string; owner: string; reason: string; holdMs: number; leaseMs: number; refundAttempt?: boolean }): Promise<boolean> {
  const res = await db.query(
    `update notify.ent_notification
        set last_error = $3, lease_expires_at = now() + make_interval(secs => ($4::float8 + $5::float8) / 1000),
            attempts = attempts - case when $6 then 1 else 0 end, writer = 'notifyd!'
      where id = $1 and status = 'processing' and lease_owner = $2`,
    [args.id, args.owner, clipReason(args.reason), args.holdMs, args.leaseMs, args.refundAttempt === true]);
  return res.rowCount === 1;
}

export async function getRow(db: pg.Pool, id: string): Promise<NotificationRow | undefined> {
  const res = await db.query<NotificationRow>(`select ${ROW} from notify.ent_notification where id = $1`, [id]);
  return res.rows[0];
}

/** Pending rows of one enterprise changed since `since` (null = all), oldest first, after the (updated_at, id) cursor. */
export async function pendingChangedSince(db: pg.Pool, args: {
  enterpriseId: string; since: Date | null; after?: { updatedAt: Date; id: string }; limit: number;
}): Promise<NotificationRow[]> {
  const res = await db.query<NotificationRow>(
    `select ${ROW} from notify.ent_notification
      where enterprise_id = $1 and status = 'pending'
        and ($2::timestamptz is null or updated_at > $2)
        and ($3::timestamptz is null or (updated_at, id) > ($3, $4::bigint))
      order by updated_at, id limit $5`,
    [args.enterpriseId, args.since, args.after?.updatedAt ?? null, args.after?.id ?? null, args.limit]);
  return res.rows;
}

/**
 * Which enterprises a sweep covers: the listed ones (DAEMON_ENTERPRISE_IDS), else the enabled rows of
 * notify.enterprise; never the excluded ones (ENT_<id>_SUBSCRIPTION_ENABLED=false).
 */
export interface EnterpriseScope {
  enterpriseIds?: readonly string[] | undefined;
  excludeIds?: readonly string[] | undefined;
}

const SCOPE = (ids: number, exclude: number) => `
        and (case when $${ids}::text[] is null
                  then enterprise_id in (select e.id from notify.enterprise e where e.enabled)
                  else enterprise_id = any($${ids}) end)
        and not (enterprise_id = any(coalesce($${exclude}::text[], '{}')))`;

/**
 * Pending rows due now (or within `aheadMs`), in id order after `afterId`: what the sweep re-enqueues (dedup makes
 * it safe). Paging by id lets a sweep move past a backlog of rows that already have jobs.
 */
export async function duePending(db: pg.Pool, args: { limit: number; aheadMs?: number; olderThanMs?: number; afterId?: string } & EnterpriseScope): Promise<NotificationRow[]> {
  const res = await db.query<NotificationRow>(
    `select ${ROW} from notify.ent_notification
      where status = 'pending' and id > $6::bigint
        and (scheduled_for is null or scheduled_for <= now() + make_interval(secs => $2::float8 / 1000))
        and updated_at <= now() - make_interval(secs => $3::float8 / 1000) ${SCOPE(4, 5)}
      order by id limit $1`,
    [args.limit, args.aheadMs ?? 0, args.olderThanMs ?? 0, args.enterpriseIds ?? null, args.excludeIds ?? null, args.afterId ?? '0']);
  return res.rows;
}

/** Processing rows whose lease expired: their worker died or lost Redis; the sweep re-enqueues them. */
export async function expiredLeases(db: pg.Pool, args: { limit: number } & EnterpriseScope): Promise<NotificationRow[]> {
  const res = await db.query<NotificationRow>(
    `select ${ROW} from notify.ent_notification
      where status = 'processing' and lease_expires_at < now() ${SCOPE(2, 3)}
      order by lease_expires_at limit $1`,
    [args.limit, args.enterpriseIds ?? null, args.excludeIds ?? null]);
  return res.rows;
}

/**
 * Fails due pending rows whose enterprise has no row in notify.enterprise: when enterprises are served from that
 * table, nobody will ever deliver them. Only called in that mode (with DAEMON_ENTERPRISE_IDS another host may
 * serve them).
 */
export async function failUnknownEnterprises(db: pg.Pool, args: { limit: number; olderThanMs: number }): Promise<number> {
  const res = await db.query(
    `update notify.ent_notification n
        set status = 'failed', last_error = 'unknown enterprise ' || n.enterprise_id || ': no row in notify.enterprise', writer = 'notifyd!'
      where n.id in (
        select id from notify.ent_notification x
         where x.status = 'pending' and (x.scheduled_for is null or x.scheduled_for <= now())
           and x.updated_at <= now() - make_interval(secs => $2::float8 / 1000)
           and not exists (select 1 from notify.enterprise e where e.id = x.enterprise_id)
         limit $1)
        and n.status = 'pending'`,
    [args.limit, args.olderThanMs]);
  return res.rowCount ?? 0;
}

export async function getWatermark(db: pg.Pool, enterpriseId: string): Promise<Date | null> {
  const res = await db.query<{ watermark: Date }>('select watermark from notify.subscription_watermark where enterprise_id = $1', [enterpriseId]);
  return res.rows[0]?.watermark ?? null;
}

/** Only ever moves forward. */
export async function setWatermark(db: pg.Pool, enterpriseId: string, watermark: Date): Promise<void> {
  await db.query(
    `insert into notify.subscription_watermark (enterprise_id, watermark) values ($1, $2)
     on conflict (enterprise_id) do update set watermark = greatest(notify.subscription_watermark.watermark, excluded.watermark), updated_at = now()`,
    [enterpriseId, watermark]);
}

/** Enterprises to serve when DAEMON_ENTERPRISE_IDS is unset. */
export async function enabledEnterprises(db: pg.Pool): Promise<string[]> {
  const res = await db.query<{ id: string }>('select id from notify.enterprise where enabled order by id');
  return res.rows.map((r) => r.id);
}
