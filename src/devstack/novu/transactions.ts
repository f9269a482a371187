// The transactionId ledger of the Novu stand-in: a used transactionId is never delivered again (Novu's
// worker drops it silently), a delayed workflow holds its delivery until the delay ends, and cancel
// prevents a held delivery (answering true) but cannot recall a delivered one (false).
import type { Records } from './records.js';
import type { Delivery } from './types.js';

interface Held {
  delivery: Delivery;
  timer: NodeJS.Timeout;
}

export class TransactionLedger {
  readonly #records: Records;
  readonly #now: () => number;
  #seen = new Set<string>();
  #held = new Map<string, Held>();
  #cancelled: Delivery[] = [];

  constructor(records: Records, now: () => number) {
    this.#records = records;
    this.#now = now;
  }

  /** True if this transactionId was used before (delivered, held or cancelled). */
  has(transactionId: string): boolean {
    return this.#seen.has(transactionId);
  }

  /** Takes a new transaction: delivered now, or held for delayMs. */
  accept(delivery: Delivery, delayMs: number): void {
    this.#seen.add(delivery.transactionId);
    if (delayMs <= 0) {
      this.#records.addDelivery(delivery);
      return;
    }
    const timer = setTimeout(() => {
      this.#held.delete(delivery.transactionId);
      this.#records.addDelivery({ ...delivery, at: this.#now() });
    }, delayMs);
    timer.unref();
    this.#held.set(delivery.transactionId, { delivery, timer });
  }

  /** Cancels a held delivery; false if there was nothing left to cancel. */
  cancel(transactionId: string): boolean {
    const h = this.#held.get(transactionId);
    if (h === undefined) return false;
    clearTimeout(h.timer);
    this.#held.delete(transactionId);
    this.#cancelled.push(h.delivery);
    return true;
  }

  held(): Delivery[] {
    return [...this.#held.values()].map((h) => ({ ...h.delivery }));
  }

  cancelled(): Delivery[] {
    return this.#cancelled.map((d) => ({ ...d }));
  }

  clear(): void {
    for (const h of this.#held.values()) clearTimeout(h.timer);
    this.#held.clear();
    this.#seen.clear();
    this.#cancelled = [];
  }
}
