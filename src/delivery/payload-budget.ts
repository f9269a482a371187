// How many payload bytes one pool thread holds at once. A claim carries small payloads inline; a larger one is read
// only once its bytes fit in this budget, so a tenant of 400 KB payloads cannot make the WORKER_CONCURRENCY jobs of a
// thread hold hundreds of MB at once (heap exhaustion, Novu requests so large they time out and are sent again).
// Waiters are served in order; a payload larger than the whole budget waits until it is alone, then goes.

export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`ByteBudget capacity must be positive, got ${capacity}`);
  }

  /** Bytes held now (for tests and stats). */
  get inUse(): number {
    return this.used;
  }

  /** Waits until `bytes` fit (in order of asking) and holds them; the returned function gives them back, once. */
  async acquire(bytes: number): Promise<() => void> {
    const take = Math.min(this.capacity, Math.max(0, Math.ceil(bytes)));
    if (this.waiting.length === 0 && this.used + take <= this.capacity) this.used += take;
    else await new Promise<void>((grant) => this.waiting.push({ bytes: take, grant }));
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= take;
      this.serve();
    };
  }

  private serve(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0] as { bytes: number; grant: () => void };
      if (this.used + next.bytes > this.capacity) return;
      this.waiting.shift();
      this.used += next.bytes;
      next.grant();
    }
  }
}

/**
 * A pool thread's budget from its heap limit (DAEMON_THREAD_HEAP_MB): a 32nd of it, at least 1 MiB. A payload held
 * for delivery lives several times over (the row's JSON text, its parsed object, the request body), so 8 MiB of a
 * 256 MiB heap keeps them to a fraction of it.
 */
export function payloadBudgetFor(threadHeapMb: number): number {
  return Math.max(1024 * 1024, Math.floor((threadHeapMb * 1024 * 1024) / 32));
}
