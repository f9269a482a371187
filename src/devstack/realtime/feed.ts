// Realtime stand-in: the change feed — installs the capture trigger (see sql.ts for why triggers), keeps a presence
// connection (the trigger records only while a feed is connected; it also LISTENs, so an explicit NOTIFY still
// wakes it), and polls committed change rows in order, one batch at a time, handing each batch to the fan-out.
// A batch is delivered only to the subscriptions that exist when it is consumed: nothing is ever replayed.
import pg from 'pg';
import type { ResolvedOptions, StandinLogger } from './types.js';
import {
  CONSUME_SQL, FEED_APPLICATION_NAME, INSTALL_SQL, NOTIFY_CHANNEL, TABLES_WITHOUT_TRIGGER_SQL, triggerSql,
} from './sql.js';

export type ChangeOp = 'INSERT' | 'UPDATE' | 'DELETE';

export interface Change {
  id: string;
  op: ChangeOp;
  schema: string;
  table: string;
  /** ms, UTC, `Z`, like the server's commit_timestamp. */
  commitTimestamp: string;
  /** to_jsonb(NEW) as JSON text (null for DELETE). Full, even when too large: filters see every column. */
  record: string | null;
  /** to_jsonb(OLD) cut to the replica identity (null for INSERT). */
  oldRecord: string | null;
  /** Over maxRecordBytes: send errors ["Error 413: Payload Too Large"] and the *Small records. */
  tooLarge: boolean;
  recordSmall: string | null;
  oldRecordSmall: string | null;
}

interface ChangeRow {
  change_id: string; op: string; schema_name: string; table_name: string; commit_timestamp: string;
  record: string | null; old_record: string | null; too_large: boolean;
  record_small: string | null; old_record_small: string | null;
}

const BATCH = 500;

export class ChangeFeed {
  private listener: pg.Client | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly triggered = new Set<string>();
  private readonly log: StandinLogger;

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: ResolvedOptions,
    private readonly onBatch: (batch: Change[]) => Promise<void>,
  ) {
    this.log = opts.log;
  }

  async start(): Promise<void> {
    await this.pool.query(INSTALL_SQL);
    await this.ensureAllTriggers();
    await this.connectListener();
    // Rows left from before this feed existed would reach no subscription: drop them now.
    await this.pool.query('delete from realtime_standin.change');
    this.pollTimer = setInterval(() => this.wake(), this.opts.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Installs the trigger on every publication table that lacks it. */
  async ensureAllTriggers(): Promise<void> {
    const { rows } = await this.pool.query<{ schema: string; table: string }>(TABLES_WITHOUT_TRIGGER_SQL, [this.opts.publication]);
    for (const row of rows) await this.ensureTrigger(row.schema, row.table);
  }

  async ensureTrigger(schema: string, table: string): Promise<void> {
    const key = `${schema}.${table}`;
    if (this.triggered.has(key)) return;
    const { rows } = await this.pool.query<{ n: number }>(
      `select count(*)::int as n from pg_trigger where tgrelid = format('%I.%I', $1::text, $2::text)::regclass and tgname = 'realtime_standin_capture'`,
      [schema, table]);
    if ((rows[0]?.n ?? 0) === 0) await this.pool.query(triggerSql(schema, table));
    this.triggered.add(key);
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl, application_name: FEED_APPLICATION_NAME });
    client.on('notification', () => this.wake());
    client.on('error', (err) => {
      this.log.warn({ err: err.message }, 'realtime stand-in: feed connection failed');
    });
    client.on('end', () => {
      if (this.listener === client) this.listener = undefined;
      if (!this.closed) this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`listen ${NOTIFY_CHANNEL}`);
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connectListener().then(() => this.wake(), (err: unknown) => {
        this.log.warn({ err: String(err) }, 'realtime stand-in: feed reconnect failed');
        this.scheduleReconnect();
      });
    }, 500);
    this.reconnectTimer.unref();
  }

  /** Something may have committed: drain (once more if a drain is already running). */
  wake(): void {
    if (this.closed) return;
    if (this.draining !== undefined) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      let rows: ChangeRow[];
      try {
        rows = (await this.pool.query<ChangeRow>(CONSUME_SQL, [BATCH, this.opts.maxRecordBytes])).rows;
      } catch (err) {
        if (!this.closed) this.log.warn({ err: String(err) }, 'realtime stand-in: consuming changes failed');
        return;
      }
      if (rows.length === 0) return;
      const batch = rows.map((r): Change => ({
        id: r.change_id, op: r.op as ChangeOp, schema: r.schema_name, table: r.table_name,
        commitTimestamp: r.commit_timestamp, record: r.record, oldRecord: r.old_record, tooLarge: r.too_large,
        recordSmall: r.record_small, oldRecordSmall: r.old_record_small,
      }));
      try {
        await this.onBatch(batch);
      } catch (err) {
        this.log.error({ err: String(err) }, 'realtime stand-in: delivering changes failed');
      }
      if (rows.length < BATCH) return;
    }
  }

  /** Idempotent. Waits (bounded by the caller) for a running drain to finish. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = undefined;
    await this.draining?.catch(() => undefined);
    await listener?.end().catch(() => undefined);
  }
}
