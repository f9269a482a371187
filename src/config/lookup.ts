// Per-enterprise lookups on a loaded Config (ENT_<id>_* overrides over the global defaults). Kept apart from load.ts
// on purpose: the actor threads call these, and importing the loader would load its validation library (zod) into
// every thread's heap, about 5 MB each, for code that runs once, on the main thread.
import type { Config, EnterpriseMode, Priority } from './load.js';

/** The priority an enterprise's realtime jobs get: its ENT_<id>_REALTIME_PRIORITY, else REALTIME_QUEUE_PRIORITY. */
export function realtimePriorityFor(config: Config, enterpriseId: string): Priority {
  return config.enterprises[enterpriseId]?.realtimePriority ?? config.priorities.realtime;
}

export function subscriptionEnabledFor(config: Config, enterpriseId: string): boolean {
  return config.enterprises[enterpriseId]?.subscriptionEnabled ?? true;
}

/** The enterprise's delivery cap per second (ENT_<id>_MAX_PER_SECOND), undefined when it has none. */
export function maxPerSecondFor(config: Config, enterpriseId: string): number | undefined {
  return config.enterprises[enterpriseId]?.maxPerSecond;
}

/** observe or deliver: ENT_<id>_MODE, else DELIVERY_MODE (novu = deliver). */
export function modeFor(config: Config, enterpriseId: string): EnterpriseMode {
  return config.enterprises[enterpriseId]?.mode ?? (config.deliveryMode === 'observe' ? 'observe' : 'deliver');
}
