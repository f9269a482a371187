// Realtime stand-in: the change feed — PostgreSQL logical decoding through wal2json, as the real server reads it.
//
// Why wal2json streamed (not polled with pg_logical_slot_get_changes, not pgoutput): wal2json format 2 with the
// options of realtime.list_changes gives the very documents realtime.apply_rls turns into frames (same values,
// `identity`, `pk`, commit `timestamp`, and the 1 MiB rule measured on that JSON), so decode.ts can follow
// apply_rls line by line; pgoutput would need a second, home-made rendering. The SQL polling interface, however,
// re-decodes from the slot's restart_lsn on every call, and restart_lsn only moves at the next running-xacts
// record (about every 15 s): measured here, one empty poll cost 37 ms after 57 MB of other databases' WAL, and
// a test cluster is shared by many stand-ins and databases (each CREATE DATABASE writes ~8 MB of WAL), so polling
// every 10 ms would saturate two cores. Streaming the same slot over the replication protocol reads each WAL
// record once (wal-stream.ts). The real poller's cadence (≤ 100 changes a poll; again at once after rows, else
// 100 ms + jitter, or 500 ms when idle) is kept as `cadence: 'supabase'`; the default delivers at once.
//
// Like the server: the slot is TEMPORARY and created when the feed starts, so changes committed while no feed
// runs are gone and no WAL piles up; if the session ends (PostgreSQL restart, error) the slot goes with it, the
// feed reconnects with a new slot, and what committed in between is lost. Changes are delivered in commit order.
// Capacity: with `capacity.changesPerSecond`, at most that many changes are decoded and fanned out per second
// (the real server does this on one thread: about 64/s in Supabase's published table); the changes waiting form a
// bounded backlog (`capacity.backlog`, default 30 s of work), and changes arriving while it is full are dropped
// (counted), as a real poller that falls far behind loses its slot and everything in it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { peekChange, type WalChange } from './decode.js';
import type { RealtimeStandinStats, ResolvedOptions, StandinLogger } from './types.js';
import { checkWalPrerequisites, explainSlotError, removeLegacyCapture, type WalSetup } from './wal-setup.js';
import { WalStream } from './wal-stream.js';

export type { Change, ChangeOp } from './decode.js';

/** Delivers one batch; resolves with how many changes reached at least one subscriber. */
export type BatchHandler = (batch: readonly WalChange[]) => Promise<number>;

interface Publication {
  at: number;
  tables: Set<string>;
  insert: boolean;
  update: boolean;
  delete: boolean;
}

const IMMEDIATE_BATCH = 500;
const SUPABASE_MAX_CHANGES = 100;
const PUBLICATION_TTL_MS = 1000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class ChangeFeed {
  private stream: WalStream | undefined;
  private setup: WalSetup | undefined;
  private readonly pending: WalChange[] = [];
  private publication: Publication | undefined;
  private draining: Promise<void> | undefined;
  private wakeup: (() => void) | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay = RECONNECT_MIN_MS;
  private closed = false;
  private readonly log: StandinLogger;
  /** The temporary slot of the current session. */
  slotName = '';

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: ResolvedOptions,
    private readonly stats: RealtimeStandinStats,
    private readonly onBatch: BatchHandler,
  ) {
    this.log = opts.log;
  }

  /** Checks the server, removes an older stand-in's trigger, and opens the slot; throws what to fix. */
  async start(): Promise<void> {
    const removed = await removeLegacyCapture(this.pool);
    if (removed > 0) this.log.info({ tables: removed }, 'realtime stand-in: removed the old capture trigger');
    this.setup = await checkWalPrerequisites(this.pool);
    await this.openStream();
    this.draining = this.drainLoop();
  }

  private async openStream(): Promise<void> {
    const setup = this.setup!;
    const slotName = `supabase_realtime_replication_slot_${randomBytes(5).toString('hex')}`;
    const stream = new WalStream({
      databaseUrl: this.opts.databaseUrl,
      slotName,
      applicationName: 'realtime-standin-wal',
      actions: 'insert,update,delete',
      // UTC and ISO dates, so wal2json writes timestamps the way render.ts reads them.
      startupOptions: ['-c TimeZone=UTC -c DateStyle=ISO', setup.startupOptions].filter(Boolean).join(' '),
      onChange: (doc, lsn) => this.receive(doc, lsn),
      onEnd: (err) => this.streamEnded(stream, err),
    });
    try {
      await stream.open();
    } catch (err) {
      await stream.close();
      throw explainSlotError(err, setup.major);
    }
    this.stream = stream;
    this.slotName = slotName;
    this.stats.feedSessions += 1;
  }

  private streamEnded(stream: WalStream, err: Error | undefined): void {
    if (this.closed || this.stream !== stream) return;
    this.stream = undefined;
    this.stats.feedRestarts += 1;
    this.log.warn({ err: err?.message }, 'realtime stand-in: WAL session ended; its slot and unread changes are gone');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = undefined;
        this.openStream().then(
          () => {
            this.reconnectDelay = RECONNECT_MIN_MS;
            this.log.info({}, 'realtime stand-in: WAL session back with a new slot');
          },
          (e: unknown) => {
            this.log.warn({ err: String(e) }, 'realtime stand-in: WAL session reconnect failed');
            this.scheduleReconnect();
          },
        );
      },
      delay * (0.5 + Math.random()),
    );
    this.reconnectTimer.unref();
  }

  private receive(doc: string, lsn: bigint): void {
    if (this.closed) return;
    let change: WalChange | undefined;
    try {
      change = peekChange(doc, lsn);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'realtime stand-in: unreadable wal2json document skipped');
      return;
    }
    if (change === undefined) return;
    const { capacity } = this.opts;
    if (capacity !== undefined && this.pending.length >= capacity.backlog) {
      this.stats.changesDropped += 1;
      return;
    }
    this.pending.push(change);
    this.wakeup?.();
  }

  private async currentPublication(): Promise<Publication> {
    const now = Date.now();
    if (this.publication !== undefined && now - this.publication.at < PUBLICATION_TTL_MS) return this.publication;
    const { rows } = await this.pool.query<{ i: boolean; u: boolean; d: boolean; tables: string[] }>(
      `select p.pubinsert as i, p.pubupdate as u, p.pubdelete as d,
              coalesce(array_agg(t.schemaname || '.' || t.tablename) filter (where t.tablename is not null),
                       '{}') as tables
         from pg_publication p left join pg_publication_tables t on t.pubname = p.pubname
        where p.pubname = $1 group by 1, 2, 3`,
      [this.opts.publication],
    );
    const row = rows[0];
    this.publication = {
      at: now,
      tables: new Set(row?.tables ?? []),
      insert: row?.i ?? false,
      update: row?.u ?? false,
      delete: row?.d ?? false,
    };
    return this.publication;
  }

  /** The publication decides, as wal2json's add-tables and actions do for list_changes. */
  private published(pub: Publication, c: WalChange): boolean {
    if (!pub.tables.has(`${c.schema}.${c.table}`)) return false;
    return c.op === 'INSERT' ? pub.insert : c.op === 'UPDATE' ? pub.update : pub.delete;
  }

  private nextWake(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.wakeup = () => {
        this.wakeup = undefined;
        clearTimeout(timer);
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(() => this.wakeup?.(), ms);
    });
  }

  /** One consumer, in commit order; paced by the cadence and capacity switches. */
  private async drainLoop(): Promise<void> {
    const supabase = this.opts.cadence === 'supabase';
    while (!this.closed) {
      if (this.pending.length === 0 && !supabase) {
        await this.nextWake(undefined);
        continue;
      }
      const started = Date.now();
      // With a capacity, a tenth of a second's work at a time, so the backlog builds up as it would upstream.
      const { capacity } = this.opts;
      const perPoll = supabase
        ? SUPABASE_MAX_CHANGES
        : capacity !== undefined
          ? Math.max(1, Math.floor(capacity.changesPerSecond / 10))
          : IMMEDIATE_BATCH;
      const taken = this.pending.splice(0, perPoll);
      let delivered = 0;
      let raw = 0;
      try {
        const pub = await this.currentPublication();
        const batch = taken.filter((c) => this.published(pub, c));
        raw = batch.length;
        this.stats.changesConsumed += batch.length;
        if (batch.length > 0) delivered = await this.onBatch(batch);
      } catch (err) {
        if (!this.closed) this.log.error({ err: String(err) }, 'realtime stand-in: delivering changes failed');
      }
      let waitMs = capacity === undefined ? 0 : (raw * 1000) / capacity.changesPerSecond - (Date.now() - started);
      if (supabase && delivered === 0) {
        // replication_poller.ex: raw changes but none for subscribers → 100 ms + 50–100 ms; idle → 5 × 100 ms.
        waitMs = Math.max(waitMs, raw > 0 ? 100 + 50 + Math.random() * 50 : 500);
      }
      if (waitMs > 0) await sleep(waitMs);
    }
  }

  /** Changes waiting for delivery now. */
  get backlog(): number {
    return this.pending.length;
  }

  /** Idempotent. Ends the WAL session (the server drops the slot) and the delivery loop. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.pending.length = 0;
    this.wakeup?.();
    const stream = this.stream;
    this.stream = undefined;
    await stream?.close();
    await this.draining?.catch(() => undefined);
  }
}
