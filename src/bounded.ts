// The one way notifyd waits for something that may hang (a close during a Redis outage, a drain, a stop): at most
// `ms`, never rejecting, timers unref'd so they never hold a thread open. Every close() is bounded through this.

/** Resolves when `work` settles or after `ms`, whichever comes first; true if `work` settled in time. */
export async function bounded(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (work === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
    timer.unref();
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
