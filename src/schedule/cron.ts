// Cron rules in IANA time zones: validation (5 or 6 fields, a real zone) and the fire times, computed on local
// wall-clock time and mapped to instants with an explicit DST policy. cron-parser matches the fields (in UTC, where
// no DST exists); the zone arithmetic is ours, because cron-parser 5.10.3 — also BullMQ's — loops out ("loop limit
// exceeded") on half-hour DST shifts such as Australia/Lord_Howe, and BullMQ then silently stops the scheduler.
//
// DST policy (README "Time zones and DST"):
// - A local time that does not exist (spring forward): a rule with fixed hours fires once, shifted forward by the
//   gap (02:30 in Europe/Berlin on the spring-forward night fires at 03:30 CEST); a rule whose hour field is `*`
//   skips the missing wall times (it fires again on the next one that exists).
// - A local time that exists twice (fall back): a rule with fixed hours fires once, at the first occurrence
//   (02:30 CEST, not again at 02:30 CET); a rule whose hour field is `*` fires in both passes, so an every-minute
//   rule fires every minute of absolute time.
import { CronExpressionParser, type CronExpression } from 'cron-parser';

export interface CronRule {
  readonly cron: string;
  readonly timezone: string;
}

export interface ParsedRule {
  readonly cron: string;
  readonly timezone: string;
  readonly fields: 5 | 6;
  /** the hour field is `*`: the rule repeats through the day, so DST gaps are skipped and overlaps fire twice */
  readonly everyHour: boolean;
  /** the cron expression as cron-parser reads it, evaluated in UTC on wall-clock milliseconds */
  readonly expression: string;
}

export type RuleValidation = { ok: true; rule: ParsedRule } | { ok: false; reason: string };

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz.trim() === '' || tz.length > 64) return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of an instant in a zone, as milliseconds of a naive (UTC-labelled) date. */
export function toWall(instantMs: number, tz: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(instantMs)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const whole = Date.UTC(
    parts['year'] ?? 1970,
    (parts['month'] ?? 1) - 1,
    parts['day'] ?? 1,
    parts['hour'] ?? 0,
    parts['minute'] ?? 0,
    parts['second'] ?? 0,
  );
  return whole + (((instantMs % 1000) + 1000) % 1000);
}

/** UTC offset of the zone at an instant (ms, east positive). */
export function offsetAt(instantMs: number, tz: string): number {
  return toWall(instantMs, tz) - instantMs;
}

const DAY = 86_400_000;

/** The instants at which the zone's clock reads `wallMs`: one normally, two in a fall-back overlap, none in a gap. */
export function instantsOf(wallMs: number, tz: string): number[] {
  const before = offsetAt(wallMs - DAY, tz);
  const after = offsetAt(wallMs + DAY, tz);
  const out: number[] = [];
  for (const o of before === after ? [before] : [before, after]) {
    const t = wallMs - o;
    if (offsetAt(t, tz) === o) out.push(t);
  }
  return out.sort((a, b) => a - b);
}

export function validateRule(rule: CronRule): RuleValidation {
  const cron = typeof rule.cron === 'string' ? rule.cron.trim().replace(/\s+/g, ' ') : '';
  if (cron === '') return { ok: false, reason: 'invalid cron: empty' };
  if (!isValidTimeZone(rule.timezone))
    return {
      ok: false,
      reason: `invalid timezone: ${JSON.stringify(String(rule.timezone).slice(0, 64))} is not an IANA time zone`,
    };
  if (/[Hh]/.test(cron.replace(/@\w+/, '')))
    return {
      ok: false,
      reason: 'invalid cron: the random H field is not supported (fires must be the same on every host)',
    };
  const count = cron.startsWith('@') ? 6 : cron.split(' ').length;
  if (count !== 5 && count !== 6)
    return {
      ok: false,
      reason: `invalid cron: ${count} fields, expected 5 (minute hour day month weekday) or 6 (with seconds first)`,
    };
  let parsed: CronExpression;
  try {
    parsed = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: new Date(0) });
    parsed.next();
  } catch (err) {
    return { ok: false, reason: `invalid cron: ${err instanceof Error ? err.message : String(err)}` };
  }
  return {
    ok: true,
    rule: Object.freeze({
      cron,
      timezone: rule.timezone,
      fields: count as 5 | 6,
      everyHour: parsed.fields.hour.values.length === 24,
      expression: cron,
    }),
  };
}

/** The first wall-clock time matching the rule at or after `wallMs` (naive UTC-labelled ms). */
function firstWallAtOrAfter(rule: ParsedRule, wallMs: number): number {
  return CronExpressionParser.parse(rule.expression, { tz: 'UTC', currentDate: new Date(wallMs - 1) })
    .next()
    .getTime();
}

/** The instants a wall time fires at under the DST policy (general case, any distance from a transition). */
function firesOf(rule: ParsedRule, wallMs: number): number[] {
  const at = instantsOf(wallMs, rule.timezone);
  if (at.length === 0) return rule.everyHour ? [] : [wallMs - offsetAt(wallMs - DAY, rule.timezone)];
  return rule.everyHour ? at : [at[0] as number];
}

/** Transitions are months apart: within this window of an instant there is at most one. */
const WINDOW = 3 * 3_600_000;

/** The first instant in (lo, hi] whose offset is the offset at hi (one transition in between), to the millisecond. */
function transitionBetween(lo: number, hi: number, tz: string): number {
  const target = offsetAt(hi, tz);
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (offsetAt(mid, tz) === target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Next fire near a transition at `tx` from offset o1 to o2, in O(1) cron look-ups: each side of the transition is a
 * plain offset, and the wall times the transition skips (gap) or repeats (overlap) follow the DST policy.
 */
function nextFireAcross(rule: ParsedRule, afterMs: number, tx: number, o1: number, o2: number): number {
  const candidates: number[] = [];
  if (afterMs < tx) {
    const w = firstWallAtOrAfter(rule, afterMs + o1 + 1);
    if (w - o1 < tx) candidates.push(w - o1);
    else if (o2 > o1 && w < tx + o2 && !rule.everyHour) candidates.push(w - o1); // a skipped wall time, shifted forward
  }
  // After the transition: in an overlap a fixed-hour rule does not fire again on the repeated wall times.
  let from = Math.max(afterMs + 1, tx) + o2;
  if (o1 > o2 && !rule.everyHour) from = Math.max(from, tx + o1);
  if (o2 > o1) from = Math.max(from, tx + o2);
  candidates.push(firstWallAtOrAfter(rule, from) - o2);
  return Math.min(...candidates.filter((t) => t > afterMs));
}

/** The first fire strictly after `afterMs` (an instant). */
export function nextFire(rule: ParsedRule, afterMs: number): number {
  const tz = rule.timezone;
  const o1 = offsetAt(afterMs - WINDOW, tz);
  const o2 = offsetAt(afterMs + WINDOW, tz);
  if (o1 !== o2) {
    const t = nextFireAcross(rule, afterMs, transitionBetween(afterMs - WINDOW, afterMs + WINDOW, tz), o1, o2);
    if (t <= afterMs + 30 * DAY) return t;
    afterMs = afterMs + WINDOW;
  }
  for (let wall = firstWallAtOrAfter(rule, toWall(afterMs, tz) + 1); ; wall = firstWallAtOrAfter(rule, wall + 1)) {
    const fires = firesOf(rule, wall).filter((t) => t > afterMs);
    if (fires.length > 0) return Math.min(...fires);
  }
}

/** Fires in (fromMs, toMs], oldest first, at most `limit`. */
export function firesBetween(rule: ParsedRule, fromMs: number, toMs: number, limit: number): number[] {
  const out: number[] = [];
  let t = fromMs;
  for (;;) {
    t = nextFire(rule, t);
    if (t > toMs) return out;
    out.push(t);
    if (out.length >= limit) return out;
  }
}

/** BullMQ repeatStrategy: job schedulers use our fire times (set on the Queue and the Worker). */
export function repeatStrategy(
  millis: number,
  opts: { pattern?: string | undefined; tz?: string | undefined },
): number | undefined {
  if (opts.pattern === undefined) return undefined;
  const v = validateRule({ cron: opts.pattern, timezone: opts.tz ?? 'UTC' });
  if (!v.ok) return undefined;
  return nextFire(v.rule, millis);
}
