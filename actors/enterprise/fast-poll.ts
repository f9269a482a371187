// The fallback of an enterprise whose Realtime feed is missing changes (throttled with "Too many messages per
// second", lagging behind its commits, or found short by the sweep): every REALTIME_POLL_MS it reads the pending
// rows changed since its cursor (minus an overlap, for transactions that committed late) and enqueues the ones it
// has not enqueued yet; dedup by job id makes overlap with the live path harmless. One indexed query per tick
// (enterprise_id, updated_at); rows seen recently are remembered for a while so the overlap costs no Redis work.
// The poll is also a sign of its own: a row it finds that the live path has not brought `lateMs` later was missed
// by Realtime (skipped over a limit, or late), and keeps the fallback going.
import type pg from 'pg';
import { pendingChangedSince } from '../../src/db/scans.js';
import type { RowRef } from '../../src/db/schedule-sql.js';

/** Re-read this much before the newest change seen: a transaction that began earlier may commit after a read. */
const OVERLAP_MS = 1500;
const PAGE = 500;
/** How long a row's version is remembered as enqueued (a few overlaps). */
const SEEN_MS = 10_000;

export interface FastPollDeps {
  db: pg.Pool;
  enterpriseId: string;
  intervalMs: number;
  /** hands rows to the actor's enqueue (lease-checked, retried while Redis is away) */
  enqueue(rows: RowRef[]): Promise<void>;
  /** told when a tick failed (the next one retries) */
  onError(err: unknown): void;
  /** a row the poll found that the live path has not brought this much later was missed by it */
  lateMs?: number;
  /** told how many rows of a tick the live path missed */
  onMissed?(rows: number): void;
}

/** A timestamptz as PostgreSQL prints it ("2026-12-01 12:30:00.123456+00") in ms; 0 when it cannot be read. */
export function pgTimestampMs(text: string): number {
  const iso = text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : 0;
}

export class FastPoll {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** newest updated_at seen (ms, database clock) */
  private high = 0;
  private readonly seen = new Map<string, number>();
  /** row versions the live path brought (remembered like `seen`) */
  private readonly live = new Map<string, number>();
  /** row versions the poll found before the live path did, and when: judged once `lateMs` passed */
  private readonly judge = new Map<string, number>();
  polls = 0;
  enqueued = 0;
  missed = 0;

  constructor(private readonly deps: FastPollDeps) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Starts polling for changes since `fromMs` (database clock); a running poll goes on as it is. */
  start(fromMs: number): void {
    if (this.timer !== undefined) return;
    this.high = Math.max(this.high, fromMs);
    this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.live.clear();
    this.judge.clear();
  }

  /** The live path brought this row version (kept only while polling: then it is evidence). */
  noteLive(id: unknown, version: unknown): void {
    if (this.timer === undefined) return;
    const key = `${String(id)}|${String(version)}`;
    this.live.set(key, Date.now());
    this.judge.delete(key);
  }

  /** Waits for a tick in progress (the actor stops after it). */
  async settled(): Promise<void> {
    await this.ticking;
  }

  private tick(): Promise<void> {
    this.ticking ??= this.poll()
      .catch((err: unknown) => this.deps.onError(err))
      .finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private async poll(): Promise<void> {
    this.polls += 1;
    const now = Date.now();
    for (const [k, at] of this.seen) if (now - at > SEEN_MS) this.seen.delete(k);
    for (const [k, at] of this.live) if (now - at > SEEN_MS) this.live.delete(k);
    const since = new Date(this.high - OVERLAP_MS);
    let after: { updatedAt: string; id: string } | undefined;
    for (;;) {
      const rows = await pendingChangedSince(this.deps.db, {
        enterpriseId: this.deps.enterpriseId,
        since,
        ...(after === undefined ? {} : { after }),
        limit: PAGE,
      });
      const fresh = rows.filter((r) => !this.seen.has(`${r.id}|${r.version}`));
      if (fresh.length > 0) {
        await this.deps.enqueue(fresh);
        for (const r of fresh) this.seen.set(`${r.id}|${r.version}`, now);
        this.enqueued += fresh.length;
      }
      if (this.deps.lateMs !== undefined)
        for (const r of fresh) if (!this.live.has(`${r.id}|${r.version}`)) this.judge.set(`${r.id}|${r.version}`, now);
      for (const r of rows) this.high = Math.max(this.high, pgTimestampMs(r.cursor_at));
      const last = rows[rows.length - 1];
      if (last === undefined || rows.length < PAGE || !this.running) break;
      after = { updatedAt: last.cursor_at, id: last.id };
    }
    let missed = 0;
    for (const [k, at] of this.judge) {
      if (now - at < (this.deps.lateMs ?? 0)) continue;
      this.judge.delete(k);
      if (!this.live.has(k)) missed += 1;
    }
    if (missed > 0) {
      this.missed += missed;
      this.deps.onMissed?.(missed);
    }
  }
}

/**
 * When to poll: degrade(reason) starts the fast poll, or keeps it going, for `holdMs` after the last reason; then
 * it stops by itself and the live path alone serves again. `onChange` hears every switch (for status and logs).
 *
 * States: live ──degrade(reason)──► polling ──degrade(reason) | the poll finds missed rows──► polling (hold renewed)
 *         polling ──holdMs without a reason──► live
 */
export class RealtimeFallback {
  private readonly poll: FastPoll;
  private until = 0;
  private current: string | undefined;
  private check: NodeJS.Timeout | undefined;

  constructor(
    deps: FastPollDeps & {
      holdMs: number;
      onChange(reason: string | undefined): void;
    },
    private readonly hold = deps.holdMs,
    private readonly changed = deps.onChange,
  ) {
    this.poll = new FastPoll({
      ...deps,
      onMissed: (n) => {
        deps.onMissed?.(n);
        if (this.current !== undefined) this.until = Date.now() + this.hold; // still missing: hold on
      },
    });
  }

  /** The live path brought this row version: rows it brings are no sign against it. */
  noteLive(id: unknown, version: unknown): void {
    this.poll.noteLive(id, version);
  }

  /** Why the enterprise is polled right now; undefined while the live path serves alone. */
  get reason(): string | undefined {
    return this.current;
  }

  get stats(): { polls: number; enqueued: number; missed: number } {
    return { polls: this.poll.polls, enqueued: this.poll.enqueued, missed: this.poll.missed };
  }

  /** The live path is missing changes: poll (from `fromMs`, database clock) until `holdMs` after the last call. */
  degrade(reason: string, fromMs: number): void {
    this.until = Date.now() + this.hold;
    const was = this.current;
    this.current = reason;
    if (!this.poll.running) this.poll.start(fromMs);
    if (this.check === undefined) {
      this.check = setInterval(
        () => {
          if (Date.now() < this.until) return;
          this.end();
          this.changed(undefined);
        },
        Math.min(1000, this.hold),
      );
      this.check.unref();
    }
    if (was !== reason) this.changed(reason);
  }

  private end(): void {
    clearInterval(this.check);
    this.check = undefined;
    this.poll.stop();
    this.current = undefined;
  }

  async stop(): Promise<void> {
    this.end();
    await this.poll.settled();
  }
}
