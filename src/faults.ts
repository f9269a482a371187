// Test-only fault injection for the chaos suite (test/chaos): off unless NOTIFYD_TEST_FAULTS is set. It lets the
// suite crash what it cannot reach from outside the process — a Piscina worker mid-job, a realtime host thread.
// Format: comma-separated key=value pairs:
//   pool_crash_rate=0.02               a pool thread exits (process.exit) after Novu accepted a trigger and before
//                                      the outcome is recorded, with this probability per job — the worst moment
//   realtime_thread_exit_at=<epoch ms> every realtime host thread alive at that time exits then (once: a thread
//                                      started later does not)
export interface Faults {
  readonly poolCrashRate: number;
  readonly realtimeThreadExitAt: number | undefined;
}

export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): Faults {
  const raw = env['NOTIFYD_TEST_FAULTS'];
  const values = new Map<string, string>();
  for (const pair of (raw ?? '').split(',')) {
    const [k, v] = pair.split('=').map((s) => s.trim());
    if (k && v) values.set(k, v);
  }
  const rate = Number(values.get('pool_crash_rate') ?? 0);
  const at = Number(values.get('realtime_thread_exit_at') ?? NaN);
  return Object.freeze({
    poolCrashRate: Number.isFinite(rate) && rate > 0 ? Math.min(rate, 1) : 0,
    realtimeThreadExitAt: Number.isFinite(at) ? at : undefined,
  });
}
