// The chaos load: rows inserted the way an application inserts them (multi-row inserts over a few seconds,
// round-robin over the five enterprises), retried when the database is away, with progress a scenario can wait on.
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
export function startLoad(pool: pg.Pool, options: { total: number; spreadMs?: number; batches?: number; signal?: AbortSignal }): Load {
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
      const enterprise = ENTERPRISES[i % ENTERPRISES.length] as string;
      for (let attempt = 1; ; attempt++) {
        if (options.signal?.aborted) throw new Error('load aborted');
        try {
          await insertMany(pool, enterprise, n);
          break;
        } catch (err) {
          retries += 1;
          if (attempt >= 300) throw err;
          await sleep(200);
        }
      }
      inserted += n;
      for (const w of [...waiters]) if (inserted >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
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
export async function deliveredAtLeast(novu: NovuStandin, n: number, timeoutMs = 60_000, signal?: AbortSignal): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (novu.deliveries().length < n) {
    if (signal?.aborted === true) throw new Error('aborted');
    if (Date.now() > until) throw new Error(`only ${novu.deliveries().length} deliveries after ${timeoutMs} ms, wanted ${n}`);
    await sleep(50);
  }
}
