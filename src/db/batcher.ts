// Groups concurrent single-row writes into one statement: at most one statement of a kind is in flight, and the
// requests that arrive meanwhile go together in the next one. Under no load a request runs at once (no timer, no
// added latency); under load one commit — one WAL flush — serves many rows.

export class Batcher<In, Out> {
  private queue: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly maxSize = 100,
  ) {}

  /** Requests waiting for the next statement (not counting the one in flight). */
  get pending(): number {
    return this.queue.length;
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxSize);
        try {
          const outs = await this.run(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(outs[i] as Out));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
