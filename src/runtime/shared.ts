// Values the parent shares with every actor of a thread (ThreadHost.share / HostPool.share), read in the thread
// with sharedValue(key): one message per thread instead of one per actor, for data many actors read and only the
// parent writes (the ownership leases of the enterprise actors). A restarted thread gets every value again before
// its first actor starts. Values are structured clones; a newer share replaces the older one.
const values = new Map<string, unknown>();
const listeners = new Map<string, Set<(value: unknown) => void>>();

/** The last value shared under `key` in this thread, undefined when none was. */
export function sharedValue<T>(key: string): T | undefined {
  return values.get(key) as T | undefined;
}

/** Calls `fn` with every later value shared under `key`; returns the function that stops it. */
export function onShared<T>(key: string, fn: (value: T) => void): () => void {
  const set = listeners.get(key) ?? new Set();
  listeners.set(key, set);
  const f = fn as (value: unknown) => void;
  set.add(f);
  return () => set.delete(f);
}

/** The thread side of a `share` command (host-worker.ts). */
export function setShared(key: string, value: unknown): void {
  values.set(key, value);
  for (const fn of listeners.get(key) ?? []) {
    try {
      fn(value);
    } catch {
      // a listener's bug must not stop the others, nor the thread's command loop
    }
  }
}
