// Realtime stand-in: one logical replication session — a TEMPORARY slot created by the session that streams it
// (it vanishes with the session, so WAL never piles up when no feed runs), wal2json format-version 2 with the
// options realtime.list_changes passes, and the standby feedback that lets the slot advance while it runs.
//
// Protocol (PostgreSQL "Streaming Replication Protocol", logical): the connection starts with replication=database,
// runs CREATE_REPLICATION_SLOT … TEMPORARY LOGICAL wal2json, then START_REPLICATION; the server answers with
// CopyData frames: 'w' XLogData (one wal2json document per change) and 'k' keepalives; the client sends 'r' standby
// status updates. pg-logical-replication was considered: it opens a new connection for every subscribe, so it
// cannot stream a temporary slot made by its own session, and it JSON.parses payloads (int8 and numeric values
// would lose precision); the protocol part here is small.
import pg from 'pg';

/** The options realtime.list_changes passes (migration 20260326120000_list_changes_with_slot_count). */
export const WAL2JSON_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['include-pk', 'true'],
  ['include-transaction', 'false'],
  ['include-timestamp', 'true'],
  ['include-type-oids', 'true'],
  ['format-version', '2'],
];

/** 2000-01-01T00:00:00Z, PostgreSQL's epoch, in ms. */
const PG_EPOCH_MS = 946_684_800_000n;
const FEEDBACK_EVERY_MS = 1000;
const FEEDBACK_AT_LEAST_MS = 10_000;

export interface WalStreamOptions {
  databaseUrl: string;
  slotName: string;
  applicationName: string;
  /** wal2json `actions` (insert,update,delete). */
  actions: string;
  /** Extra startup GUCs, e.g. output_plugin_libraries for this session only. */
  startupOptions?: string;
  onChange(data: string, lsn: bigint): void;
  /** The session ended (error or close); the slot is gone with it. */
  onEnd(err: Error | undefined): void;
}

export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi ?? '0'}`) << 32n) | BigInt(`0x${lo ?? '0'}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A pg "submittable": START_REPLICATION, whose CopyData frames pg hands to handleCopyData. */
class StartReplication {
  private connection: { query(text: string): void; sendCopyFromChunk(b: Buffer): void } | undefined;
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: Error) => void;

  constructor(
    private readonly sql: string,
    private readonly onFrame: (frame: Buffer) => void,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection: { query(text: string): void; sendCopyFromChunk(b: Buffer): void }): void {
    this.connection = connection;
    connection.query(this.sql);
  }

  send(frame: Buffer): void {
    this.connection?.sendCopyFromChunk(frame);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    this.onFrame(msg.chunk);
  }

  handleReadyForQuery(): void {
    this.resolve();
  }

  handleError(err: Error): void {
    this.reject(err);
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
}

export class WalStream {
  private client: pg.Client | undefined;
  private start: StartReplication | undefined;
  private timer: NodeJS.Timeout | undefined;
  private received = 0n;
  private confirmed = 0n;
  private lastFeedback = 0;
  private ended = false;

  constructor(private readonly opts: WalStreamOptions) {}

  /** Connects, creates the temporary slot and starts streaming; rejects if any step fails. */
  async open(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.opts.databaseUrl,
      replication: 'database',
      application_name: this.opts.applicationName,
      ...(this.opts.startupOptions === undefined ? {} : { options: this.opts.startupOptions }),
    } as pg.ClientConfig);
    this.client = client;
    client.on('error', (err) => this.finish(err));
    client.on('end', () => this.finish(undefined));
    await client.connect();
    await client.query(`CREATE_REPLICATION_SLOT "${this.opts.slotName}" TEMPORARY LOGICAL wal2json`);
    const options = [...WAL2JSON_OPTIONS, ['actions', this.opts.actions] as const]
      .map(([k, v]) => `"${k}" ${quoteLiteral(v)}`)
      .join(', ');
    const start = new StartReplication(`START_REPLICATION SLOT "${this.opts.slotName}" LOGICAL 0/0 (${options})`, (f) =>
      this.onFrame(f),
    );
    this.start = start;
    client.query(start as unknown as pg.QueryConfig);
    start.done.then(
      () => this.finish(undefined),
      (err: Error) => this.finish(err),
    );
    this.timer = setInterval(() => this.feedback(false), FEEDBACK_EVERY_MS);
    this.timer.unref();
  }

  private onFrame(frame: Buffer): void {
    const kind = frame[0];
    if (kind === 0x77 /* w: XLogData */ && frame.length >= 25) {
      const lsn = frame.readBigUInt64BE(1);
      if (lsn > this.received) this.received = lsn;
      this.opts.onChange(frame.toString('utf8', 25), lsn);
    } else if (kind === 0x6b /* k: keepalive */ && frame.length >= 18) {
      // Everything up to walEnd has been sent: committed transactions arrive whole and in order.
      const walEnd = frame.readBigUInt64BE(1);
      if (walEnd > this.received) this.received = walEnd;
      if (frame[17] === 1) this.feedback(true);
    }
  }

  /** Standby status update: received = flushed = applied, so the slot may release older WAL. */
  private feedback(force: boolean): void {
    if (this.ended || this.start === undefined) return;
    const now = Date.now();
    if (!force && this.received === this.confirmed && now - this.lastFeedback < FEEDBACK_AT_LEAST_MS) return;
    const frame = Buffer.alloc(34);
    frame.write('r', 0, 'latin1');
    frame.writeBigUInt64BE(this.received, 1);
    frame.writeBigUInt64BE(this.received, 9);
    frame.writeBigUInt64BE(this.received, 17);
    frame.writeBigInt64BE((BigInt(now) - PG_EPOCH_MS) * 1000n, 25);
    frame.writeUInt8(0, 33);
    this.start.send(frame);
    this.confirmed = this.received;
    this.lastFeedback = now;
  }

  private finish(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    this.opts.onEnd(err);
  }

  /** Ends the session; the server drops the temporary slot with it. Idempotent. */
  async close(): Promise<void> {
    this.ended = true;
    clearInterval(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    // A clean CopyDone would need a round trip; ending the connection ends the session and the slot at once.
    await client.end().catch(() => undefined);
  }
}
