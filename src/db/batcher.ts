// Groups concurrent requests into one call: at most `inFlight` calls of a kind run at once (one by default), and
// the requests that arrive meanwhile go together in the next. Under no load a request runs at once (no timer, no
// added latency); under load one commit — one WAL flush — or one bulk request serves many.

export class Batcher<In, Out> {
  private queue: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private running = 0;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly maxSize = 100,
    private readonly inFlight = 1,
  ) {}

  /** Requests waiting for the next call (not counting those in flight). */
  get pending(): number {
    return this.queue.length;
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.inFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxSize);
      this.running += 1;
      void this.call(batch).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
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
