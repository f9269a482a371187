// The status of the whole tree, in the main thread: one ActorStatus per actor and per host thread, fed by
// ThreadHosts (and anything else that calls `set`). `/health`'s `actors` array is `snapshot()`.
// Listeners get every change; a throwing listener is logged, never propagated.
import type { Logger } from '../log/logger.js';
import { rootLog } from '../log/logger.js';
import { describeError } from '../errors.js';
import type { ActorStatus, Health } from './types.js';
import { nowIso } from './util.js';

export type StatusChange =
  { type: 'set'; status: ActorStatus; previous: ActorStatus | undefined } | { type: 'remove'; status: ActorStatus };
export type StatusListener = (change: StatusChange) => void;

export interface StatusSummary {
  total: number;
  ok: number;
  degraded: number;
  down: number;
  /** Per kind (`enterprise`, `host`, ...): the same counts. */
  byKind: Record<string, { total: number; ok: number; degraded: number; down: number }>;
}

export class StatusRegistry {
  readonly #entries = new Map<string, ActorStatus>();
  readonly #listeners = new Set<StatusListener>();
  readonly #log: Logger;

  constructor(log?: Logger) {
    this.#log = log ?? rootLog().child({ component: 'status-registry' });
  }

  /**
   * Sets (or creates) an entry. Missing fields keep their old values (or defaults for a new entry); `since`
   * moves when `status` changes unless the patch gives its own.
   */
  set(patch: Partial<ActorStatus> & { id: string }): ActorStatus {
    const previous = this.#entries.get(patch.id);
    const base: ActorStatus = previous ?? {
      id: patch.id,
      kind: 'unknown',
      thread: 0,
      status: 'pending',
      health: 'ok',
      restarts: 0,
      since: nowIso(),
      last_error: null,
    };
    const next: ActorStatus = { ...base };
    for (const [k, v] of Object.entries(patch))
      if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
    if (patch.since === undefined && previous !== undefined && previous.status !== next.status) next.since = nowIso();
    if (previous !== undefined && sameStatus(previous, next)) return previous;
    Object.freeze(next);
    this.#entries.set(next.id, next);
    this.#emit({ type: 'set', status: next, previous });
    return next;
  }

  remove(id: string): boolean {
    const status = this.#entries.get(id);
    if (status === undefined) return false;
    this.#entries.delete(id);
    this.#emit({ type: 'remove', status });
    return true;
  }

  get(id: string): ActorStatus | undefined {
    return this.#entries.get(id);
  }

  /** Every entry, in insertion order, optionally filtered (e.g. `s => s.kind === 'enterprise'`). */
  snapshot(filter?: (s: ActorStatus) => boolean): ActorStatus[] {
    const all = [...this.#entries.values()];
    return filter === undefined ? all : all.filter(filter);
  }

  get size(): number {
    return this.#entries.size;
  }

  summary(filter?: (s: ActorStatus) => boolean): StatusSummary {
    const out: StatusSummary = { total: 0, ok: 0, degraded: 0, down: 0, byKind: {} };
    for (const s of this.snapshot(filter)) {
      const k = (out.byKind[s.kind] ??= { total: 0, ok: 0, degraded: 0, down: 0 });
      out.total += 1;
      k.total += 1;
      out[s.health] += 1;
      k[s.health] += 1;
    }
    return out;
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  subscribe(listener: StatusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: StatusChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#log.error({ event: 'listener_error', err: describeError(err) }, 'status listener threw');
      }
    }
  }
}

/** The worst health of a list (`ok` for an empty list). */
export function worstHealth(statuses: Iterable<Pick<ActorStatus, 'health'>>): Health {
  let out: Health = 'ok';
  for (const s of statuses) {
    if (s.health === 'down') return 'down';
    if (s.health === 'degraded') out = 'degraded';
  }
  return out;
}

function sameStatus(a: ActorStatus, b: ActorStatus): boolean {
  return (
    a.kind === b.kind &&
    a.thread === b.thread &&
    a.status === b.status &&
    a.health === b.health &&
    a.restarts === b.restarts &&
    a.since === b.since &&
    a.last_error === b.last_error &&
    a.host === b.host
  );
}
