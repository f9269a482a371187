// Debouncing of an application's rapid edits to one pending row (DEBOUNCE_MS): several UPDATEs of the same row
// within the window become one change — the first event's `old` with the last event's `new` — so the row is
// evaluated once, in its last state, and the job of the version before the burst is the one dropped. Any other
// event for a held row (a DELETE, a cancel, a write by notifyd) first releases the held change, so order holds.
import type { ChangePayload } from './changes.js';

interface Held {
  change: ChangePayload;
  timer: NodeJS.Timeout;
}

/** An application's UPDATE that leaves the row pending: a reschedule or a re-arm, what bursts are made of. */
function debounceable(c: ChangePayload): boolean {
  const writer = c.new['writer'];
  return (
    c.eventType === 'UPDATE' &&
    c.new['status'] === 'pending' &&
    !(typeof writer === 'string' && writer.startsWith('notifyd'))
  );
}

function rowId(c: ChangePayload): string | undefined {
  const id = c.new['id'] ?? c.old['id'];
  return typeof id === 'number' || typeof id === 'string' ? String(id) : undefined;
}

export class UpdateDebouncer {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly ms: number,
    /** receives changes in the order they must be applied */
    private readonly release: (change: ChangePayload) => void,
    /** rows held at most: past it, changes pass at once (a bulk UPDATE of many rows is not a burst on one) */
    private readonly max = 5000,
  ) {}

  get size(): number {
    return this.held.size;
  }

  /** Takes a change; returns true when it is held (released later, merged with what follows within the window). */
  offer(change: ChangePayload): boolean {
    const id = rowId(change);
    if (id === undefined) return false;
    const held = this.held.get(id);
    if (this.ms <= 0 || !debounceable(change)) {
      if (held !== undefined) this.releaseRow(id);
      return false;
    }
    if (held !== undefined) {
      held.change = { ...change, old: held.change.old };
      return true;
    }
    if (this.held.size >= this.max) return false;
    const timer = setTimeout(() => this.releaseRow(id), this.ms);
    timer.unref();
    this.held.set(id, { change, timer });
    return true;
  }

  private releaseRow(id: string): void {
    const held = this.held.get(id);
    if (held === undefined) return;
    clearTimeout(held.timer);
    this.held.delete(id);
    this.release(held.change);
  }

  /** Forgets what is held (the subscription is renewed and its catch-up reads those rows, or the actor stops). */
  clear(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
  }
}
