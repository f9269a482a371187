// The SQL of the notification lifecycle: the atomic claim (a lease in notify.delivery on a due pending row of an
// enterprise that is neither disabled nor paused; payloads over 64 KB stored are read apart, by loadPayload), the
// fenced outcome writes (sent / failed on the row, retrying in the side table), and the reads that explain a lost
// claim. A claim and a retry write only notify.delivery, which no Realtime subscriber sees; the final status write
// sets writer = 'notifyd!' so its own UPDATE event is recognised and makes no work.
import type pg from 'pg';
import { dueOrInvalid, routeColumns, schedulable, type RowRef } from './schedule-sql.js';

export type NotificationStatus = 'pending' | 'processing' | 'sent' | 'failed' | 'cancelled';

/** A claimed row: what delivery needs, plus its delivery bookkeeping for the current arming. */
export interface ClaimedRow extends RowRef {
  workflow_id: string;
  recipients: string[];
  /**
   * null when the stored payload is larger than the claim reads (only possible without migration 0004's check), or
   * when it is deferred
   */
  payload: unknown;
  payload_stored_bytes: number;
  /** the payload is larger than a claim carries inline: loadPayload reads it (once the pool thread's budget allows) */
  payload_deferred: boolean;
  /** attempts of this arming, this one included */
  attempts: number;
  /** the last transient error of this arming */
  retry_error: string | null;
  /** ms since the first attempt of this arming began (database clock): how long delivery has been failing */
  failing_for_ms: number;
  /** ms since the row became due (its last write by the application, or scheduled_for when later), at the claim;
   * null when scheduled_for is unschedulable (PostgreSQL cannot subtract an infinite timestamp) */
  due_age_ms: number | null;
}

/** Longest reason stored in last_error. */
const MAX_REASON = 1000;
/** The claim never loads a payload stored larger than this (the table allows 1 MiB of JSON text). */
const MAX_CLAIM_PAYLOAD_BYTES = 2 * 1024 * 1024;
/**
 * Payloads stored up to this size come with the claim; larger ones are deferred to loadPayload, so one claim batch
 * of 100 rows holds at most ~6 MB of payloads and the pool thread's ByteBudget decides when the rest is read.
 */
export const CLAIM_INLINE_PAYLOAD_BYTES = 64 * 1024;

export function clipReason(reason: string): string {
  return reason.length <= MAX_REASON ? reason : `${reason.slice(0, MAX_REASON - 1)}…`;
}

export type SkipReason =
  'not_found' | 'enterprise_mismatch' | 'enterprise_disabled' | 'paused' | 'not_pending' | 'leased';

export type ClaimResult =
  | { kind: 'claimed'; row: ClaimedRow }
  | { kind: 'not_due'; dueInMs: number }
  | { kind: 'skipped'; reason: SkipReason; status?: NotificationStatus; leaseLeftMs?: number };

export interface ClaimArgs {
  id: string;
  enterpriseId: string;
  owner: string;
  leaseMs: number;
}

/** Claims one row; see claimMany. */
export async function claim(db: pg.Pool, args: ClaimArgs): Promise<ClaimResult> {
  return (await claimMany(db, [args]))[0] as ClaimResult;
}

/**
 * Claims many rows in one statement. A row is claimable when it is pending, due by the database clock (or
 * unschedulable, so it can be failed), its enterprise is not disabled, and the delivery of its current arming has
 * no live lease of another owner and has not finished. Attempts restart from zero for a new arming. Two requests
 * for one row in a batch: one wins, the other finds it leased. Results are in request order.
 */
export async function claimMany(db: pg.Pool, reqs: readonly ClaimArgs[]): Promise<ClaimResult[]> {
  const res = await db.query<ClaimedRow & { claim_owner: string }>(
    `with req as (
       select * from unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) with ordinality
         as u(id, enterprise_id, owner, lease_ms, ord)
     ), cand as (
       select distinct on (n.id) n.id, n.armed_version, u.owner, u.lease_ms
         from req u join notify.ent_notification n on n.id = u.id and n.enterprise_id = u.enterprise_id
        where n.status = 'pending' and ${dueOrInvalid('n')}
          and not exists (select 1 from notify.enterprise e where e.id = n.enterprise_id and not e.enabled)
          and not exists (select 1 from notify.enterprise_pause p where p.enterprise_id = n.enterprise_id)
        order by n.id, u.ord
     ), won as (
       insert into notify.delivery as d
              (notification_id, armed_version, lease_owner, lease_expires_at, attempts, first_attempt_at)
       select id, armed_version, owner, now() + make_interval(secs => lease_ms / 1000), 1, clock_timestamp() from cand
       on conflict (notification_id) do update set
         attempts = case when d.armed_version = excluded.armed_version then d.attempts + 1 else 1 end,
         first_attempt_at = case when d.armed_version = excluded.armed_version
                                 then coalesce(d.first_attempt_at, excluded.first_attempt_at)
                                 else excluded.first_attempt_at end,
         last_error = case when d.armed_version = excluded.armed_version then d.last_error end,
         lease_owner = excluded.lease_owner, lease_expires_at = excluded.lease_expires_at,
         armed_version = excluded.armed_version, outcome = null, updated_at = now()
       where d.armed_version < excluded.armed_version
          or (d.armed_version = excluded.armed_version and d.outcome is null
              and (d.lease_owner = excluded.lease_owner or d.lease_expires_at is null
                   or d.lease_expires_at < clock_timestamp()))
       returning d.notification_id, d.lease_owner, d.attempts, d.last_error,
                 (extract(epoch from clock_timestamp() - d.first_attempt_at) * 1000)::float8 as failing_for_ms
     )
     select ${routeColumns('n')}, n.workflow_id, n.recipients,
            case when pg_column_size(n.payload) <= $5 then n.payload end as payload,
            pg_column_size(n.payload) as payload_stored_bytes,
            pg_column_size(n.payload) > $5 and pg_column_size(n.payload) <= $6 as payload_deferred,
            w.lease_owner as claim_owner, w.attempts, w.last_error as retry_error, w.failing_for_ms,
            case when n.scheduled_for is not null and not (${schedulable('n.scheduled_for')}) then null
                 else (extract(epoch from
                         clock_timestamp() - greatest(n.updated_at, coalesce(n.scheduled_for, n.updated_at))
                       ) * 1000)::float8
            end as due_age_ms
       from won w join notify.ent_notification n on n.id = w.notification_id`,
    [
      reqs.map((r) => r.id),
      reqs.map((r) => r.enterpriseId),
      reqs.map((r) => r.owner),
      reqs.map((r) => r.leaseMs),
      CLAIM_INLINE_PAYLOAD_BYTES,
      MAX_CLAIM_PAYLOAD_BYTES,
    ],
  );
  const won = new Map<string, ClaimedRow>();
  for (const { claim_owner: owner, ...row } of res.rows) won.set(`${row.id}|${owner}`, row);
  return Promise.all(
    reqs.map(async (r) => {
      const row = won.get(`${r.id}|${r.owner}`);
      return row !== undefined ? ({ kind: 'claimed', row } as const) : whyNotClaimed(db, r);
    }),
  );
}

/**
 * A deferred payload (see ClaimedRow.payload_deferred), read on its own; null when it is stored larger than a claim
 * ever reads, undefined when the row is gone.
 */
export async function loadPayload(
  db: pg.Pool,
  id: string,
): Promise<{ payload: unknown; payload_stored_bytes: number } | undefined> {
  const res = await db.query<{ payload: unknown; payload_stored_bytes: number }>(
    `select case when pg_column_size(payload) <= $2 then payload end as payload,
            pg_column_size(payload) as payload_stored_bytes
       from notify.ent_notification where id = $1`,
    [id, MAX_CLAIM_PAYLOAD_BYTES],
  );
  return res.rows[0];
}

async function whyNotClaimed(db: pg.Pool, args: ClaimArgs): Promise<ClaimResult> {
  const look = await db.query<RowRef & { disabled: boolean; paused: boolean; lease_left_ms: number | null }>(
    `select ${routeColumns('n')},
            coalesce((select not e.enabled from notify.enterprise e where e.id = n.enterprise_id), false) as disabled,
            exists (select 1 from notify.enterprise_pause p where p.enterprise_id = n.enterprise_id) as paused,
            (select (extract(epoch from d.lease_expires_at - clock_timestamp()) * 1000)::float8
               from notify.delivery d where d.notification_id = n.id and d.armed_version = n.armed_version
                and d.outcome is null and d.lease_expires_at >= clock_timestamp()) as lease_left_ms
       from notify.ent_notification n where n.id = $1`,
    [args.id],
  );
  const row = look.rows[0];
  if (row === undefined) return { kind: 'skipped', reason: 'not_found' };
  if (row.enterprise_id !== args.enterpriseId) return { kind: 'skipped', reason: 'enterprise_mismatch' };
  if (row.status !== 'pending') return { kind: 'skipped', reason: 'not_pending', status: row.status };
  if (row.disabled) return { kind: 'skipped', reason: 'enterprise_disabled' };
  if (row.paused) return { kind: 'skipped', reason: 'paused' };
  if (row.due_in_ms !== null && row.due_in_ms > 0) return { kind: 'not_due', dueInMs: row.due_in_ms };
  if (row.lease_left_ms !== null) {
    return { kind: 'skipped', reason: 'leased', status: 'processing', leaseLeftMs: Math.max(0, row.lease_left_ms) };
  }
  // finished for this arming (sent or failed) while the row still read pending: it is being written right now
  return { kind: 'skipped', reason: 'not_pending', status: row.status };
}

export interface SentMark {
  id: string;
  owner: string;
  transactionId: string;
}

/** Fenced on the lease: true when the row was still ours and is now sent. */
export async function markSent(db: pg.Pool, args: SentMark): Promise<boolean> {
  return (await markSentMany(db, [args]))[0] === true;
}

/**
 * Many sent marks in one statement, results in request order. The lease is checked (and closed) in
 * notify.delivery first; only then is the row marked, if it is still pending at the arming that was claimed — an
 * application that cancelled or re-armed it meanwhile wins.
 */
export async function markSentMany(db: pg.Pool, reqs: readonly SentMark[]): Promise<boolean[]> {
  const res = await db.query<{ id: string; owner: string }>(
    `with fin as (
       update notify.delivery d set outcome = 'sent', lease_owner = null, lease_expires_at = null, last_error = null,
              updated_at = now()
         from unnest($1::bigint[], $2::text[], $3::text[]) as u(id, owner, tx)
        where d.notification_id = u.id and d.lease_owner = u.owner and d.outcome is null
        returning d.notification_id, d.armed_version, u.owner, u.tx
     )
     update notify.ent_notification n
        set status = 'sent', sent_at = now(), transaction_id = fin.tx, last_error = null, writer = 'notifyd!'
       from fin
      where n.id = fin.notification_id and n.status = 'pending' and n.armed_version = fin.armed_version
      returning n.id, fin.owner`,
    [reqs.map((r) => r.id), reqs.map((r) => r.owner), reqs.map((r) => r.transactionId)],
  );
  const done = new Set(res.rows.map((r) => `${r.id}|${r.owner}`));
  return reqs.map((r) => done.has(`${r.id}|${r.owner}`));
}

/** Fenced on the lease: true when the row was still ours and is now failed with the reason. */
export async function markFailed(
  db: pg.Pool,
  args: { id: string; owner: string; reason: string; transactionId?: string },
): Promise<boolean> {
  const res = await db.query(
    `with fin as (
       update notify.delivery d set outcome = 'failed', lease_owner = null, lease_expires_at = null, updated_at = now()
        where d.notification_id = $1 and d.lease_owner = $2 and d.outcome is null
        returning d.notification_id, d.armed_version
     )
     update notify.ent_notification n
        set status = 'failed', last_error = $3, transaction_id = coalesce($4, n.transaction_id), writer = 'notifyd!'
       from fin
      where n.id = fin.notification_id and n.status = 'pending' and n.armed_version = fin.armed_version`,
    [args.id, args.owner, clipReason(args.reason), args.transactionId ?? null],
  );
  return res.rowCount === 1;
}

/**
 * Extends a lease its owner still holds while its attempt runs (a slow Novu call): the lease can then be short, so
 * a row whose worker died is free again soon. False when the lease is no longer this owner's.
 */
export async function renewLease(db: pg.Pool, args: { id: string; owner: string; leaseMs: number }): Promise<boolean> {
  const res = await db.query(
    `update notify.delivery set lease_expires_at = now() + make_interval(secs => $3::float8 / 1000)
      where notification_id = $1 and lease_owner = $2 and outcome is null`,
    [args.id, args.owner, args.leaseMs],
  );
  return res.rowCount === 1;
}

/**
 * Keeps the lease until the retry runs and records why the attempt failed — in notify.delivery only, so a retry
 * costs no Realtime message. A rate-limited attempt is refunded: Novu refused to look at it.
 */
export async function markRetrying(
  db: pg.Pool,
  args: {
    id: string;
    owner: string;
    reason: string;
    holdMs: number;
    leaseMs: number;
    refundAttempt?: boolean;
  },
): Promise<boolean> {
  const res = await db.query(
    `update notify.delivery
        set last_error = $3, lease_expires_at = now() + make_interval(secs => ($4::float8 + $5::float8) / 1000),
            attempts = attempts - case when $6 then 1 else 0 end, updated_at = now()
      where notification_id = $1 and lease_owner = $2 and outcome is null`,
    [args.id, args.owner, clipReason(args.reason), args.holdMs, args.leaseMs, args.refundAttempt === true],
  );
  return res.rowCount === 1;
}

/** The routing view of one row (no payload), or undefined when it is gone. */
export async function rowRef(db: pg.Pool, id: string): Promise<RowRef | undefined> {
  const res = await db.query<RowRef>(`select ${routeColumns('n')} from notify.ent_notification n where n.id = $1`, [
    id,
  ]);
  return res.rows[0];
}

/** What a Novu cancel needs: the row's state, its transaction, and whether notifyd ever claimed this arming. */
export async function cancelState(
  db: pg.Pool,
  id: string,
): Promise<
  | {
      enterprise_id: string;
      status: NotificationStatus;
      armed_version: string;
      transaction_id: string | null;
      claimed: boolean;
    }
  | undefined
> {
  const res = await db.query<{
    enterprise_id: string;
    status: NotificationStatus;
    armed_version: string;
    transaction_id: string | null;
    claimed: boolean;
  }>(
    `select n.enterprise_id, n.status, n.armed_version, n.transaction_id,
            exists (select 1 from notify.delivery d
                     where d.notification_id = n.id and d.armed_version = n.armed_version) as claimed
       from notify.ent_notification n where n.id = $1`,
    [id],
  );
  return res.rows[0];
}
