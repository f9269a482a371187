// Which enterprises a host's level-triggered work covers, from its configuration: what it serves (subscriptions and
// cron rules: DAEMON_ENTERPRISE_IDS or the enabled rows of notify.enterprise, never ENT_<id>_SUBSCRIPTION_ENABLED=
// false) and, of those, what it delivers (the sweep, the oldest-due-row gauge: observed enterprises are left out, so
// their waiting rows are neither re-enqueued nor counted as late). The SQL side adds disabled and paused ones.
import type { EnterpriseScope } from '../db/enterprises.js';
import type { Config } from './load.js';

export function intakeScope(config: Config): { enterpriseIds?: string[]; excludeIds: string[] } {
  const excludeIds = Object.entries(config.enterprises)
    .filter(([, o]) => !o.subscriptionEnabled)
    .map(([id]) => id);
  return config.enterpriseIds === undefined
    ? { excludeIds }
    : { enterpriseIds: config.enterpriseIds.filter((id) => !excludeIds.includes(id)), excludeIds };
}

export function deliverScope(config: Config): { enterpriseIds?: string[]; excludeIds: string[] } {
  const intake = intakeScope(config);
  const overrides = Object.entries(config.enterprises);
  if (config.deliveryMode === 'observe') {
    // observing by default: only the enterprises switched to deliver, and only those this host serves
    const deliver = overrides.filter(([, o]) => o.mode === 'deliver' && o.subscriptionEnabled).map(([id]) => id);
    return {
      enterpriseIds:
        intake.enterpriseIds === undefined ? deliver : deliver.filter((id) => intake.enterpriseIds?.includes(id)),
      excludeIds: intake.excludeIds,
    };
  }
  const observed = overrides.filter(([, o]) => o.mode === 'observe').map(([id]) => id);
  return { ...intake, excludeIds: [...intake.excludeIds, ...observed] };
}

export type { EnterpriseScope };
