// This process in the host registry (src/ownership/hosts.ts): published every PRESENCE_MS with a short expiry while
// it runs, withdrawn when it stops, so `notifyd status` shows exactly the live hosts. A failed publish is retried on
// the next tick; it never affects the daemon.
import type { RedisClient } from '../src/queue/redis.js';
import { bounded } from '../src/bounded.js';
import { HostRegistry, type HostInfo } from '../src/ownership/hosts.js';

export const PRESENCE_MS = 2000;
export const PRESENCE_TTL_MS = 10_000;

export interface Presence {
  stop(): Promise<void>;
}

export function startPresence(args: { redis: RedisClient; prefix: string; info: () => HostInfo }): Presence {
  const registry = new HostRegistry(args.redis, args.prefix);
  const publish = () => registry.publish(args.info(), PRESENCE_TTL_MS).catch(() => undefined);
  void publish();
  const timer = setInterval(() => void publish(), PRESENCE_MS);
  timer.unref();
  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        clearInterval(timer);
        await bounded(
          registry.withdraw(args.info().hostId).catch(() => undefined),
          1000,
        );
      })();
      return stopping;
    },
  };
}
