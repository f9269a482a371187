// The lease check an enterprise actor makes before every write it does on its lease's behalf (queue adds and
// removals, the watermark). The main thread holds the leases (supervisor/ownership.ts) and shares, with every
// realtime thread, each held lease's fencing token and the instant (on the process's monotonic clock, which every
// thread reads alike) until which this host may trust them: the start of its last successful renewal plus the TTL,
// minus a margin. A process that was frozen (SIGSTOP, a stalled VM) past that instant refuses to write the moment
// it wakes, before its main thread has even looked at Redis; a lease lost to another host, or taken again with a
// new token, refuses too. The watermark additionally carries the token into PostgreSQL, which keeps the largest.
import { sharedValue } from '../runtime/shared.js';

/** The shared value's key (ThreadHost.share / sharedValue). */
export const LEASES_KEY = 'ownership.leases';

export interface SharedLeases {
  /** monotonic ms (monoMs()) until which the tokens below may be trusted */
  validUntil: number;
  /** enterprise id → fencing token of this host's lease */
  tokens: Record<string, number>;
}

/** The process's monotonic clock in ms: the same in every thread, unaffected by wall-clock changes. */
export function monoMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

export interface LeaseGate {
  /** the fencing token this actor was started with; undefined when it runs without ownership (tests, tools) */
  readonly token: number | undefined;
  /** true while this host's lease for the enterprise is the one the actor started with, and not lapsed */
  ok(): boolean;
}

export function leaseGate(enterpriseId: string, token: number | undefined): LeaseGate {
  return {
    token,
    ok() {
      if (token === undefined) return true;
      const leases = sharedValue<SharedLeases>(LEASES_KEY);
      return leases !== undefined && leases.tokens[enterpriseId] === token && monoMs() < leases.validUntil;
    },
  };
}
