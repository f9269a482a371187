// The chaos load: rows inserted the way an application inserts them (multi-row inserts over a few seconds,
// round-robin over the five enterprises), retried when the database is away, with progress a scenario can wait on.
// With `lifecycle`, part of each batch is scheduled a few seconds ahead, and of those some are cancelled and some
// rescheduled later, as applications do: reconciliation then checks that no cancelled row and no early one is sent.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { insertMany } from '../support/rows.js';
import type { NovuStandin } from '../../src/devstack/novu/types.js';

/** The five tenants every scenario spreads its load over (DAEMON_ENTERPRISE_IDS, Novu tenants). */
export const ENTERPRISES = ['e1', 'e2', 'e3', 'e4', 'e5'] as const;

export interface Load {
  readonly total: number;
  inserted(): number;
  /** resolves once at least this fraction of the load is committed */
  reached(fraction: number): Promise<void>;
  /** resolves when every batch is committed; its value is the time of the last commit */
  readonly done: Promise<number>;
  /** inserts that failed and were retried (a database restart) */
  retries(): number;
}

/**
 * Inserts `total` rows in `batches` multi-row inserts spread evenly over `spreadMs`, round-robin over the
 * enterprises, as an application would. A failed batch is retried (an application retries when its database
 * restarts); an ambiguous commit can then add a few extra rows, which is why reconciliation counts the table.
 */
export interface LifecycleMix {
  /** share of each batch inserted with scheduled_for = now + scheduleAheadMs */
  scheduledShare: number;
  /** share of each batch (taken from the scheduled rows) cancelled right after the insert */
  cancelShare: number;
  /** share of each batch (taken from the scheduled rows) moved to now + rescheduleAheadMs right after the insert */
  rescheduleShare: number;
  scheduleAheadMs?: number;
  rescheduleAheadMs?: number;
}

/**
 * Inserts n rows of one enterprise, some scheduled, then cancels and reschedules some of those (one transaction
 * each).
 */
async function insertBatch(pool: pg.Pool, enterprise: string, n: number, mix: LifecycleMix | undefined): Promise<void> {
  if (mix === undefined) {
    await insertMany(pool, enterprise, n);
    return;
  }
  const scheduled = Math.round(n * mix.scheduledShare);
  const cancel = Math.min(scheduled, Math.round(n * mix.cancelShare));
  const reschedule = Math.min(scheduled - cancel, Math.round(n * mix.rescheduleShare));
  const res = await pool.query<{ id: string }>(
    `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload, scheduled_for)
     select $1, 'welcome', array['user-' || g], jsonb_build_object('n', g),
            case when g <= $3 then clock_timestamp() + make_interval(secs => $4::float8 / 1000) end
       from generate_series(1, $2) g returning id::text`,
    [enterprise, n, scheduled, mix.scheduleAheadMs ?? 3000],
  );
  const ids = res.rows.map((r) => r.id).slice(0, scheduled);
  if (cancel > 0)
    await pool.query(`update notify.ent_notification set status = 'cancelled' where id = any($1::bigint[])`, [
      ids.slice(0, cancel),
    ]);
  if (reschedule > 0) {
    await pool.query(
      `update notify.ent_notification set scheduled_for = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
      where id = any($1::bigint[])`,
      [ids.slice(cancel, cancel + reschedule), mix.rescheduleAheadMs ?? 6000],
    );
  }
}

export function startLoad(
  pool: pg.Pool,
  options: {
    total: number;
    spreadMs?: number;
    batches?: number;
    signal?: AbortSignal;
    lifecycle?: LifecycleMix;
    /** round-robin over these (default: ENTERPRISES) */
    enterprises?: readonly string[];
  },
): Load {
  const tenants = options.enterprises ?? ENTERPRISES;
  const batches = Math.max(1, options.batches ?? 25);
  const spreadMs = options.spreadMs ?? 5000;
  const per = Math.ceil(options.total / batches);
  let inserted = 0;
  let retries = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const done = (async () => {
    const t0 = Date.now();
    for (let i = 0; i < batches && inserted < options.total; i++) {
      const due = t0 + Math.round((spreadMs * i) / batches);
      if (due > Date.now()) await sleep(due - Date.now());
      const n = Math.min(per, options.total - inserted);
      const enterprise = tenants[i % tenants.length] as string;
      for (let attempt = 1; ; attempt++) {
        if (options.signal?.aborted) throw new Error('load aborted');
        try {
          await insertBatch(pool, enterprise, n, options.lifecycle);
          break;
        } catch (err) {
          retries += 1;
          if (attempt >= 300) throw err;
          await sleep(200);
        }
      }
      inserted += n;
      for (const w of [...waiters])
        if (inserted >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
    }
    return Date.now();
  })();
  done.catch(() => undefined);
  return {
    total: options.total,
    inserted: () => inserted,
    retries: () => retries,
    done,
    reached(fraction) {
      const n = Math.ceil(options.total * fraction);
      if (inserted >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/** Resolves when the Novu stand-in has delivered n triggers (or rejects after timeoutMs). */
export async function deliveredAtLeast(
  novu: NovuStandin,
  n: number,
  timeoutMs = 60_000,
  signal?: AbortSignal,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (novu.deliveries().length < n) {
    if (signal?.aborted === true) throw new Error('aborted');
    if (Date.now() > until)
      throw new Error(`only ${novu.deliveries().length} deliveries after ${timeoutMs} ms, wanted ${n}`);
    await sleep(50);
  }
}
