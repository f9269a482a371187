// The live feed's check, shared by the enterprise actors of one realtime host thread. Over its plan's messages/s the
// Realtime server skips postgres_changes silently: no close, no error, the events just never come. Every
// REALTIME_VERIFY_MS one query for all the thread's watched enterprises reads the pending rows changed since the last
// check (and at least REALTIME_LATE_MS ago); a row whose event the live path has not brought REALTIME_LATE_MS after
// the check first saw it was missed, and its enterprise is told (it starts the fast poll, which delivers it). Two
// looks, not one, so that a transaction committing late (its updated_at is older than its commit) is not judged on
// an event that is merely on its way. Only enterprises whose feed is expected complete are watched: subscribed, not
// already polling, and only rows changed after the subscription went live (older ones are the catch-up's). A check
// reads page after page (keyset on updated_at, id), so a burst of any size within the overlap is read whole; the
// enterprise is told when the oldest missed row changed, so its poll starts from there.
//
// States: idle (no watcher) ──watch──► checking (a query every intervalMs) ──last unwatch──► idle
import type pg from 'pg';
import type { DbClock } from '../../src/db/clock.js';
import { pendingChangedAmong } from '../../src/db/scans.js';
import { pgTimestampMs } from './fast-poll.js';

/** Re-read this much before the newest change seen: a transaction that began earlier may commit after a read. */
const OVERLAP_MS = 1500;
/** Rows per page of a check's read. */
const PAGE = 2000;
/** Pages per check at most: past them, the next check goes on from the newest row read. */
const MAX_PAGES = 10;
/** How long the live path's events are remembered (several checks' windows). */
const LIVE_MS = 15_000;

export interface FeedWatcher {
  /** db-clock ms from which the live feed is expected complete; undefined while not to be judged */
  judgedFrom(): number | undefined;
  /** this many of its rows did not come through Realtime, the oldest changed at `sinceMs` (db-clock ms) */
  missed(rows: number, sinceMs: number): void;
}

export interface FeedCheckDeps {
  db: pg.Pool;
  clock: DbClock;
  intervalMs: number;
  lateMs: number;
  onError(err: unknown): void;
  /** rows per page @defaultValue 2000 */
  pageSize?: number;
}

export class LiveFeedCheck {
  private readonly watchers = new Map<string, FeedWatcher>();
  /** row versions the live path brought, and when */
  private readonly live = new Map<string, number>();
  /** row versions the check saw without their event: their enterprise, when first seen, and when they changed */
  private readonly judge = new Map<string, { enterprise: string; at: number; changedAt: number }>();
  /** row versions already reported missed (remembered like `live`, so a row still pending is reported once) */
  private readonly reported = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** newest updated_at read (db-clock ms) */
  private high = 0;

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
    const now = Date.now();
    for (const [k, at] of this.live) if (now - at > LIVE_MS) this.live.delete(k);
    for (const [k, at] of this.reported) if (now - at > LIVE_MS) this.reported.delete(k);
    const from = new Map<string, number>();
    for (const [id, w] of this.watchers) {
      const f = w.judgedFrom();
      if (f !== undefined) from.set(id, f);
    }
    if (from.size > 0) await this.read(from, now);
    const missedBy = new Map<string, { rows: number; sinceMs: number }>();
    for (const [k, j] of this.judge) {
      if (now - j.at < this.deps.lateMs) continue;
      this.judge.delete(k);
      if (this.live.has(k) || !from.has(j.enterprise)) continue; // came meanwhile, or no longer judged
      this.reported.set(k, now);
      const m = missedBy.get(j.enterprise) ?? { rows: 0, sinceMs: j.changedAt };
      missedBy.set(j.enterprise, { rows: m.rows + 1, sinceMs: Math.min(m.sinceMs, j.changedAt) });
    }
    for (const [enterprise, m] of missedBy) this.watchers.get(enterprise)?.missed(m.rows, m.sinceMs);
  }

  /** Reads the rows changed since the last check (with the overlap), and starts judging those without an event. */
  private async read(from: ReadonlyMap<string, number>, now: number): Promise<void> {
    const limit = this.deps.pageSize ?? PAGE;
    const since = new Date(this.high - OVERLAP_MS);
    let after: { updatedAt: string; id: string } | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const rows = await pendingChangedAmong(this.deps.db, {
        enterpriseIds: [...from.keys()],
        since,
        olderThanMs: this.deps.lateMs,
        ...(after === undefined ? {} : { after }),
        limit,
      });
      for (const r of rows) {
        const changedAt = pgTimestampMs(r.cursor_at);
        this.high = Math.max(this.high, changedAt);
        const key = `${r.id}|${r.version}`;
        if (changedAt < (from.get(r.enterprise_id) ?? Infinity)) continue;
        if (this.live.has(key) || this.judge.has(key) || this.reported.has(key)) continue;
        this.judge.set(key, { enterprise: r.enterprise_id, at: now, changedAt });
      }
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < limit) {
        // read to the end: nothing older than this can still appear, but for late commits (the overlap)
        this.high = Math.max(this.high, this.deps.clock.now() - this.deps.lateMs);
        return;
      }
      after = { updatedAt: last.cursor_at, id: last.id };
    }
  }
}
