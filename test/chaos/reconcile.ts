// Reconciliation after a chaos scenario: waits (bounded) until every row is sent, failed or cancelled, then reads
// the truth from PostgreSQL and the Novu stand-in — lost (a row not sent, not failed with a reason where failing is
// right, or marked sent without a Novu delivery), duplicates (a notification Novu delivered more than once, under
// any transactionId), cancelled rows that were delivered anyway, rows delivered before their scheduled_for,
// absorbed (Idempotency-Key replays and repeated transactionIds Novu ignored) — and the time from the fault's end
// to the last settled row.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Outcome, Rig } from './harness.js';

export interface Settlement {
  settled: boolean;
  unsettled: number;
}

/** Waits until no row is pending or processing (bounded). */
export async function settle(pool: pg.Pool, timeoutMs: number, signal?: AbortSignal): Promise<Settlement> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let unsettled = -1;
    try {
      const res = await pool.query<{ n: number }>(
        `select count(*)::int as n from notify.ent_notification where status not in ('sent', 'failed', 'cancelled')`,
      );
      unsettled = res.rows[0]?.n ?? 0;
    } catch {
      // a restarting database: ask again
    }
    if (unsettled === 0) return { settled: true, unsettled };
    if (Date.now() > until || signal?.aborted === true) return { settled: false, unsettled };
    await sleep(250);
  }
}

interface RowState {
  id: string;
  enterprise_id: string;
  status: string;
  last_error: string | null;
  transaction_id: string | null;
  /** scheduled_for in ms, or null */
  due: string | null;
}

/** Deliveries this much before scheduled_for count as early (the machine's clocks are one). */
const EARLY_TOLERANCE_MS = 5;

const TX = /^notifyd-(.+)-(\d+)-(\d+)$/;

/**
 * Reads the truth after a scenario. `failureAllowed`: whether a `failed` row with a reason is a right outcome
 * here; when it is not, failed rows count as lost (their reasons are still shown).
 */
export async function reconcile(
  rig: Rig,
  args: {
    settled: Settlement;
    faultEndAt: number;
    failureAllowed?: boolean;
    quietMs?: number;
    notes?: string[];
  },
): Promise<Outcome> {
  // Deliveries that a late, stale job could still cause show up after a quiet period.
  await sleep(args.quietMs ?? 2000);
  const problems: string[] = [];
  const rows = (
    await rig.pool.query<RowState>(
      `select id::text, enterprise_id, status, last_error, transaction_id,
            (extract(epoch from scheduled_for) * 1000)::bigint::text as due
       from notify.ent_notification order by id`,
    )
  ).rows;
  const last = (
    await rig.pool.query<{ at: string | null }>(
      `select (extract(epoch from max(updated_at)) * 1000)::bigint::text as at from notify.ent_notification
        where status in ('sent', 'failed')`,
    )
  ).rows[0]?.at;
  const deliveries = rig.novu.deliveries();
  const perNotification = new Map<string, number>();
  const firstAt = new Map<string, number>();
  const deliveredTx = new Set<string>();
  let foreign = 0;
  for (const d of deliveries) {
    deliveredTx.add(d.transactionId);
    const m = TX.exec(d.transactionId);
    if (m === null) {
      foreign += 1;
      continue;
    }
    const id = m[2] as string;
    perNotification.set(id, (perNotification.get(id) ?? 0) + 1);
    firstAt.set(id, Math.min(firstAt.get(id) ?? Number.POSITIVE_INFINITY, d.acceptedAt));
  }
  const duplicates = [...perNotification.values()].filter((n) => n > 1).length;
  const absorbed = rig.novu.requests().filter((r) => r.replay).length + rig.novu.ignored().length;

  let delivered = 0;
  let failed = 0;
  let lost = 0;
  const failedReasons: Record<string, number> = {};
  const unsettled: Record<string, number> = {};
  let sentNotDelivered = 0;
  let failedButDelivered = 0;
  let cancelled = 0;
  let cancelledDelivered = 0;
  let early = 0;
  for (const r of rows) {
    const at = firstAt.get(r.id);
    if (at !== undefined && r.due !== null && at < Number(r.due) - EARLY_TOLERANCE_MS) early += 1;
    if (r.status === 'cancelled') {
      cancelled += 1;
      if (at !== undefined) cancelledDelivered += 1;
    } else if (r.status === 'sent') {
      if (r.transaction_id !== null && deliveredTx.has(r.transaction_id)) delivered += 1;
      else {
        sentNotDelivered += 1;
        lost += 1;
      }
    } else if (r.status === 'failed') {
      failed += 1;
      const reason = (r.last_error ?? '').trim();
      const key = reason === '' ? '(no reason)' : reason.replace(/\d{3,}/g, '#').slice(0, 120);
      failedReasons[key] = (failedReasons[key] ?? 0) + 1;
      if (!args.failureAllowed || reason === '') lost += 1;
      if ((perNotification.get(r.id) ?? 0) > 0) failedButDelivered += 1;
    } else {
      unsettled[r.status] = (unsettled[r.status] ?? 0) + 1;
      lost += 1;
    }
  }
  if (Object.keys(unsettled).length > 0) problems.push(`never settled: ${JSON.stringify(unsettled)}`);
  if (sentNotDelivered > 0) problems.push(`${sentNotDelivered} rows marked sent that Novu never delivered`);
  if (failed > 0 && !args.failureAllowed)
    problems.push(`${failed} rows failed where nothing should fail: ${JSON.stringify(failedReasons)}`);
  if (failedButDelivered > 0) problems.push(`${failedButDelivered} rows marked failed although Novu delivered them`);
  if (foreign > 0) problems.push(`${foreign} deliveries with a transactionId notifyd does not make`);
  if (cancelledDelivered > 0) problems.push(`${cancelledDelivered} cancelled rows were delivered`);
  if (early > 0) problems.push(`${early} rows were delivered before their scheduled_for`);
  if (duplicates > 0) problems.push(`${duplicates} notifications delivered more than once`);
  const lastSettledAt = last === null || last === undefined ? undefined : Number(last);
  return {
    notifications: rows.length,
    delivered,
    failed,
    cancelled,
    failedReasons,
    lost,
    duplicates,
    absorbed,
    recoverMs:
      args.settled.settled && lastSettledAt !== undefined ? Math.max(0, lastSettledAt - args.faultEndAt) : null,
    settled: args.settled.settled,
    notes: args.notes ?? [],
    problems,
  };
}
