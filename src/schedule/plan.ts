// The missed-run policy, as a pure function: given a rule, where its schedule starts counting (the later of its
// last fire and its schedule_from), the time now and the fire being run (its scheduled instant), which fire times
// to fire, which to fire late as a catch-up, and which to record as missed. A fire is judged by its scheduled
// instant: run a few ms before it (a host clock ahead of the database's), it is due and on time.
//   skip      (default) fires within the grace are fired; older ones are recorded as missed, not sent
//   run_once  like skip, plus one catch-up fire: the most recent missed one
//   catch_up  every missed fire within the catch-up window is fired, the newest `catch_up_max` of them; the rest missed
import { firesBetween, type ParsedRule } from './cron.js';

export type MissedRunPolicy = 'skip' | 'run_once' | 'catch_up';

export interface PlanInput {
  rule: ParsedRule;
  /** fires after this instant are considered (last fire, or when the schedule started) */
  fromMs: number;
  nowMs: number;
  /** the scheduled instant of the fire being run, when one is (it counts as due even if nowMs is a little before) */
  throughMs?: number;
  /** a fire this late or less is on time */
  graceMs: number;
  policy: MissedRunPolicy;
  catchUpWindowMs: number;
  catchUpMax: number;
  /** at most this many fire times are examined (a long outage of an every-second rule) */
  maxExamined?: number;
}

export interface FirePlan {
  fire: number[];
  catchUp: number[];
  missed: number[];
  /** the newest fire time accounted for: the rule's next last_fire_at (undefined when nothing was due) */
  through: number | undefined;
  /** fires older than the catch-up window were not examined one by one (a long outage): all missed */
  olderNotListed: boolean;
}

export function planFires(input: PlanInput): FirePlan {
  const max = input.maxExamined ?? 10_000;
  // Fires older than the catch-up window are missed whatever the policy; they are not listed one by one.
  const horizon = Math.max(input.fromMs, input.nowMs - Math.max(input.catchUpWindowMs, input.graceMs));
  const dueUntil = Math.max(input.nowMs, input.throughMs ?? input.nowMs);
  const due = firesBetween(input.rule, horizon, dueUntil, max);
  const onTime = due.filter((t) => input.nowMs - t <= input.graceMs);
  const late = due.filter((t) => input.nowMs - t > input.graceMs);
  let catchUp: number[] = [];
  if (input.policy === 'run_once' && late.length > 0) catchUp = [late[late.length - 1] as number];
  if (input.policy === 'catch_up') catchUp = late.slice(Math.max(0, late.length - input.catchUpMax));
  const caught = new Set(catchUp);
  const olderNotListed = horizon > input.fromMs;
  return {
    fire: onTime,
    catchUp,
    missed: late.filter((t) => !caught.has(t)),
    through: due[due.length - 1] ?? (olderNotListed ? horizon : undefined),
    olderNotListed,
  };
}
