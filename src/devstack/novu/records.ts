// What the Novu stand-in received and delivered, for assertions: every request (with its outcome),
// every delivered trigger, and every trigger answered `processed` but ignored.
import type { Delivery, IgnoredTrigger, RecordedRequest } from './types.js';

interface Waiter {
  n: number;
  resolve: (d: Delivery[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Records {
  #requests: RecordedRequest[] = [];
  #deliveries: Delivery[] = [];
  #ignored: IgnoredTrigger[] = [];
  #waiters = new Set<Waiter>();
  #seq = 0;

  addRequest(
    r: Omit<RecordedRequest, 'seq' | 'status' | 'outcome' | 'replay' | 'respondedAt' | 'responseHeaders'>,
  ): RecordedRequest {
    const rec: RecordedRequest = {
      ...r,
      seq: ++this.#seq,
      status: null,
      outcome: 'pending',
      replay: false,
      respondedAt: undefined,
      responseHeaders: {},
    };
    this.#requests.push(rec);
    return rec;
  }

  addDelivery(d: Delivery): void {
    this.#deliveries.push(d);
    for (const w of this.#waiters) {
      if (this.#deliveries.length >= w.n) {
        clearTimeout(w.timer);
        this.#waiters.delete(w);
        w.resolve(this.deliveries());
      }
    }
  }

  addIgnored(i: IgnoredTrigger): void {
    this.#ignored.push(i);
  }

  requests(): RecordedRequest[] {
    return this.#requests.map((r) => ({ ...r, headers: { ...r.headers }, responseHeaders: { ...r.responseHeaders } }));
  }

  deliveries(): Delivery[] {
    return this.#deliveries.map((d) => ({ ...d }));
  }

  deliveriesFor(transactionId: string): Delivery[] {
    return this.deliveries().filter((d) => d.transactionId === transactionId);
  }

  ignored(): IgnoredTrigger[] {
    return this.#ignored.map((i) => ({ ...i }));
  }

  waitForDeliveries(n: number, timeoutMs: number): Promise<Delivery[]> {
    if (this.#deliveries.length >= n) return Promise.resolve(this.deliveries());
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        n,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(w);
          reject(new Error(`novu stand-in: ${this.#deliveries.length} deliveries after ${timeoutMs} ms, wanted ${n}`));
        }, timeoutMs),
      };
      this.#waiters.add(w);
    });
  }

  /** Forgets everything; pending waiters are rejected. */
  clear(): void {
    this.#requests = [];
    this.#deliveries = [];
    this.#ignored = [];
    this.rejectWaiters('novu stand-in was reset');
  }

  rejectWaiters(reason: string): void {
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
    this.#waiters.clear();
  }
}
