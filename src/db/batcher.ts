// Groups concurrent requests into one call: at most `inFlight` calls of a kind run at once (one by default), and
// the requests that arrive meanwhile go together in the next. A call starts at the end of the event-loop turn its
// first request arrived in (setImmediate), so requests made in the same turn — the jobs one claim or one Novu reply
// resumed, the tasks one message batch brought — go together even when a call could start at once; under no load
// that costs no timer and no measurable wait. Under load one commit — one WAL flush — or one bulk request serves
// many. A caller for whom only a full batch pays (Novu's bulk on a rate-limited server) may hold a partial batch up
// to `linger()` ms for it to fill; when the time is up, what waits goes as it is.

export class Batcher<In, Out> {
  private queue: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private running = 0;
  /** a partial batch is being held: the timer that ends the hold, and whether it has ended */
  private hold: { timer: NodeJS.Timeout; over: boolean } | undefined;
  /** a pump is due at the end of this event-loop turn */
  private gathering: NodeJS.Immediate | undefined;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly maxSize = 100,
    private readonly inFlight = 1,
    /** ms to hold a partial batch for it to fill (0: send at once), asked when one would be sent */
    private readonly linger: () => number = () => 0,
  ) {}

  /** Requests waiting for the next call (not counting those in flight). */
  get pending(): number {
    return this.queue.length;
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxSize) this.pump();
      else
        this.gathering ??= setImmediate(() => {
          this.gathering = undefined;
          this.pump();
        });
    });
  }

  private pump(): void {
    while (this.running < this.inFlight && this.queue.length > 0) {
      if (this.queue.length < this.maxSize && this.holding()) return;
      if (this.hold !== undefined) clearTimeout(this.hold.timer);
      this.hold = undefined;
      const batch = this.queue.splice(0, this.maxSize);
      this.running += 1;
      void this.call(batch).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  /** Whether a partial batch should wait longer: starts a hold when linger() asks for one, until it is over. */
  private holding(): boolean {
    if (this.hold !== undefined) return !this.hold.over;
    const ms = this.linger();
    if (!(ms > 0)) return false;
    const hold = {
      timer: setTimeout(() => {
        hold.over = true;
        this.pump();
      }, ms),
      over: false,
    };
    hold.timer.unref();
    this.hold = hold;
    return true;
  }

  private async call(batch: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[]) {
    try {
      const outs = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(outs[i] as Out));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}
