// The database's clock, read from a host: the one authority for every comparison with a stored time. A host's own
// clock may run seconds ahead or behind; this samples `clock_timestamp()` with its round trip and keeps the offset,
// so `now()` is the database's time without a query. Used where a delay is computed locally (a live event's
// scheduled_for → a job delay); everything else compares stored times in SQL.
import type pg from 'pg';

export class DbClock {
  private offsetMs = 0;
  private sampled = false;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly db: pg.Pool,
    private readonly resampleMs = 30_000,
  ) {}

  /** ms since the epoch on the database's clock (this host's clock until the first sample). */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** database minus host, in ms (positive: this host's clock is behind). */
  get offset(): number {
    return this.offsetMs;
  }

  get ready(): boolean {
    return this.sampled;
  }

  /** One sample: the midpoint of the round trip is when the database read its clock. */
  sample(): Promise<void> {
    this.sampling ??= (async () => {
      const sent = Date.now();
      const res = await this.db.query<{ ms: number }>(
        'select (extract(epoch from clock_timestamp()) * 1000)::float8 as ms',
      );
      const back = Date.now();
      const dbMs = res.rows[0]?.ms;
      if (typeof dbMs === 'number' && Number.isFinite(dbMs)) {
        this.offsetMs = Math.round(dbMs - (sent + back) / 2);
        this.sampled = true;
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        this.sampling = undefined;
      });
    return this.sampling;
  }

  /** Samples now, then every resampleMs (the offset drifts slowly: NTP slews, VMs pause). */
  async start(): Promise<void> {
    await this.sample();
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.sample(), this.resampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
