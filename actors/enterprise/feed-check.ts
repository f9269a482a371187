// The live feed's check, shared by the enterprise actors of one realtime host thread. Over its plan's messages/s the
// Realtime server skips postgres_changes silently: no close, no error, the events just never come. Every
// REALTIME_VERIFY_MS one query for all the thread's watched enterprises reads the pending rows changed since the last
// check (and at least REALTIME_LATE_MS ago); a row whose event the live path has not brought REALTIME_LATE_MS after
// the check first saw it was missed, and its enterprise is told (it starts the fast poll, which delivers it). Two
// looks, not one, so that a transaction committing late (its updated_at is older than its commit) is not judged on
// an event that is merely on its way. Only enterprises whose feed is expected complete are watched: subscribed, not
// already polling, and only rows changed after the subscription went live (older ones are the catch-up's).
//
// States: idle (no watcher) ──watch──► checking (a query every intervalMs) ──last unwatch──► idle
import type pg from 'pg';
import type { DbClock } from '../../src/db/clock.js';
import { pendingChangedAmong } from '../../src/db/scans.js';
import { pgTimestampMs } from './fast-poll.js';

/** Re-read this much before the newest change seen: a transaction that began earlier may commit after a read. */
const OVERLAP_MS = 1500;
/** Rows read per check at most; the next check goes on from the last. */
const PAGE = 2000;
/** How long the live path's events are remembered (several checks' windows). */
const LIVE_MS = 15_000;

export interface FeedWatcher {
  /** db-clock ms from which the live feed is expected complete; undefined while not to be judged */
  judgedFrom(): number | undefined;
  /** this many of its rows did not come through Realtime */
  missed(rows: number): void;
}

export interface FeedCheckDeps {
  db: pg.Pool;
  clock: DbClock;
  intervalMs: number;
  lateMs: number;
  onError(err: unknown): void;
}

export class LiveFeedCheck {
  private readonly watchers = new Map<string, FeedWatcher>();
  /** row versions the live path brought, and when */
  private readonly live = new Map<string, number>();
  /** row versions the check saw without their event: their enterprise and when first seen */
  private readonly judge = new Map<string, { enterprise: string; at: number }>();
  /** row versions already reported missed (remembered like `live`, so a row still pending is reported once) */
  private readonly reported = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** newest updated_at read (db-clock ms) */
  private high = 0;
  checks = 0;
  missed = 0;

  constructor(private readonly deps: FeedCheckDeps) {}

  /** Watches an enterprise until the returned function is called. */
  watch(enterpriseId: string, watcher: FeedWatcher): () => void {
    this.watchers.set(enterpriseId, watcher);
    if (this.timer === undefined) {
      this.high = Math.max(this.high, this.deps.clock.now() - this.deps.lateMs);
      this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
      this.timer.unref();
    }
    return () => {
      if (this.watchers.get(enterpriseId) !== watcher) return;
      this.watchers.delete(enterpriseId);
      if (this.watchers.size === 0) this.stop();
    };
  }

  /** The live path brought this row version (whatever the actor then does with it). */
  noteLive(id: unknown, version: unknown): void {
    if (this.timer === undefined) return;
    const key = `${String(id)}|${String(version)}`;
    this.live.set(key, Date.now());
    this.judge.delete(key);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.live.clear();
    this.judge.clear();
    this.reported.clear();
  }

  /** Runs one check now (tests); a check in progress is awaited instead. */
  tick(): Promise<void> {
    this.ticking ??= this.check()
      .catch((err: unknown) => this.deps.onError(err))
      .finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private async check(): Promise<void> {
    this.checks += 1;
    const now = Date.now();
    for (const [k, at] of this.live) if (now - at > LIVE_MS) this.live.delete(k);
    for (const [k, at] of this.reported) if (now - at > LIVE_MS) this.reported.delete(k);
    const from = new Map<string, number>();
    for (const [id, w] of this.watchers) {
      const f = w.judgedFrom();
      if (f !== undefined) from.set(id, f);
    }
    if (from.size > 0) {
      const rows = await pendingChangedAmong(this.deps.db, {
        enterpriseIds: [...from.keys()],
        since: new Date(this.high - OVERLAP_MS),
        olderThanMs: this.deps.lateMs,
        limit: PAGE,
      });
      for (const r of rows) {
        const at = pgTimestampMs(r.cursor_at);
        this.high = Math.max(this.high, at);
        const key = `${r.id}|${r.version}`;
        if (at < (from.get(r.enterprise_id) ?? Infinity)) continue;
        if (this.live.has(key) || this.judge.has(key) || this.reported.has(key)) continue;
        this.judge.set(key, { enterprise: r.enterprise_id, at: now });
      }
      if (rows.length < PAGE) this.high = Math.max(this.high, this.deps.clock.now() - this.deps.lateMs);
    }
    const missedBy = new Map<string, number>();
    for (const [k, j] of this.judge) {
      if (now - j.at < this.deps.lateMs) continue;
      this.judge.delete(k);
      if (this.live.has(k) || !from.has(j.enterprise)) continue; // came meanwhile, or no longer judged
      this.reported.set(k, now);
      missedBy.set(j.enterprise, (missedBy.get(j.enterprise) ?? 0) + 1);
    }
    for (const [enterprise, n] of missedBy) {
      this.missed += n;
      this.watchers.get(enterprise)?.missed(n);
    }
  }
}
