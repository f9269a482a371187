// The transactionId ledger of the Novu stand-in, per environment: a used transactionId is not delivered again
// (Novu's worker drops it silently), a delayed workflow holds its delivery until the delay ends, and cancel
// prevents a held delivery (answering true) but cannot recall a delivered one (false). Novu's check is not atomic
// (trigger-event.usecase.ts looks for a job with the id before the first trigger's jobs exist): with a race window,
// a repeat checked within it of the first is delivered again.
import type { Records } from './records.js';
import type { Delivery } from './types.js';

interface Held {
  delivery: Delivery;
  timer: NodeJS.Timeout;
}

export class TransactionLedger {
  readonly #records: Records;
  readonly #now: () => number;
  readonly #raceMs: number;
  /** environment + transactionId → when the first trigger's jobs exist (a repeat checked later is caught). */
  #seen = new Map<string, number>();
  #held = new Map<string, Held>();
  #cancelled: Delivery[] = [];

  constructor(records: Records, now: () => number, raceMs = 0) {
    this.#records = records;
    this.#now = now;
    this.#raceMs = raceMs;
  }

  static key(environment: string, transactionId: string): string {
    return `${environment}\u0000${transactionId}`;
  }

  /** True if the environment used this transactionId before (delivered, held or cancelled), as seen now. */
  has(environment: string, transactionId: string): boolean {
    const existsAt = this.#seen.get(TransactionLedger.key(environment, transactionId));
    return existsAt !== undefined && existsAt <= this.#now();
  }

  /** Takes a new transaction: delivered now, or held for delayMs. */
  accept(delivery: Delivery, delayMs: number): void {
    const key = TransactionLedger.key(delivery.environment, delivery.transactionId);
    if (!this.#seen.has(key)) this.#seen.set(key, this.#now() + this.#raceMs);
    if (delayMs <= 0) {
      this.#records.addDelivery(delivery);
      return;
    }
    const timer = setTimeout(() => {
      this.#held.delete(key);
      this.#records.addDelivery({ ...delivery, at: this.#now() });
    }, delayMs);
    timer.unref();
    this.#held.set(key, { delivery, timer });
  }

  /** Cancels a held delivery of the environment; false if there was nothing left to cancel. */
  cancel(environment: string, transactionId: string): boolean {
    const key = TransactionLedger.key(environment, transactionId);
    const h = this.#held.get(key);
    if (h === undefined) return false;
    clearTimeout(h.timer);
    this.#held.delete(key);
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
