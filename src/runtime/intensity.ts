// Restart intensity: a sliding window of restart times (the Elixir DynamicSupervisor algorithm). More than
// `intensity` restarts within `periodMs` means the supervisor gives up and escalates.
import { Errors, notifydError } from '../errors.js';

export interface IntensityPolicy {
  /** Restarts tolerated within the period. `Infinity` never escalates. @defaultValue 3 */
  intensity: number;
  /** @defaultValue 5000 (ms) */
  periodMs: number;
}

export const DEFAULT_INTENSITY: Readonly<IntensityPolicy> = Object.freeze({ intensity: 3, periodMs: 5_000 });

export class RestartWindow {
  readonly policy: Readonly<IntensityPolicy>;
  #times: number[] = [];

  constructor(policy: Partial<IntensityPolicy> = {}) {
    const p = { ...DEFAULT_INTENSITY, ...policy };
    if (!(p.intensity >= 0)) {
      throw notifydError(Errors.RUNTIME_OPTION_INVALID, 'intensity must be a number >= 0 (or Infinity)', {
        details: { field: 'intensity' },
      });
    }
    if (!Number.isFinite(p.periodMs) || p.periodMs <= 0) {
      throw notifydError(Errors.RUNTIME_OPTION_INVALID, 'periodMs must be a finite number > 0', {
        details: { field: 'periodMs' },
      });
    }
    this.policy = Object.freeze(p);
  }

  /** Records a restart at `now` (ms); true when the window now holds more than `intensity` restarts. */
  record(now: number): boolean {
    if (this.policy.intensity === Infinity) return false;
    const from = now - this.policy.periodMs;
    this.#times = this.#times.filter((t) => t > from);
    this.#times.push(now);
    return this.#times.length > this.policy.intensity;
  }

  /** Restarts inside the window ending at `now`. */
  count(now: number): number {
    const from = now - this.policy.periodMs;
    return this.#times.filter((t) => t > from).length;
  }

  reset(): void {
    this.#times = [];
  }
}
