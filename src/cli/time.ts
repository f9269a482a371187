// Times on the notifyd CLI's command line and in its output: `--since` as an ISO time or a relative `30m`/`2h`/`7d`
// (measured back on the database's clock), ages as `3m 12s`, and instants in a rule's local time.
import { InvalidArgumentError } from 'commander';
import type { Since } from '../db/failed.js';
import { offsetAt } from '../schedule/cron.js';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** An instant from an ISO 8601 text; without an offset it is read as UTC. undefined when it is not one. */
export function parseInstant(text: string): Date | undefined {
  const t = text.trim();
  const m = ISO.exec(t);
  if (m === null) return undefined;
  const local = (m[1] === undefined ? t : t.slice(0, -m[1].length)).replace(' ', 'T');
  const zone = m[1] === undefined || m[1].toUpperCase() === 'Z' ? 'Z' : m[1].replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  const ms = Date.parse(`${local.length === 10 ? `${local}T00:00:00` : local}${zone}`);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** `--since`: `30m`, `2h`, `7d` (also `s`, `w`) back from now, or an ISO time. */
export function parseSince(text: string): Since {
  const rel = /^\s*(\d+)\s*([smhdw])\s*$/i.exec(text);
  if (rel !== null) {
    const ms = Number(rel[1]) * (UNIT_MS[(rel[2] as string).toLowerCase()] as number);
    if (!Number.isSafeInteger(ms) || ms <= 0) throw new InvalidArgumentError('must be a positive duration.');
    return { agoMs: ms };
  }
  const at = parseInstant(text);
  if (at === undefined) {
    throw new InvalidArgumentError('expected a relative time (30m, 2h, 7d) or an ISO time (2026-01-15T10:30:00Z).');
  }
  return { at };
}

/** `--since` for JSON output: what window was asked for. */
export function describeSince(since: Since | undefined): string | null {
  if (since === undefined) return null;
  return 'at' in since ? since.at.toISOString() : `${formatAge(since.agoMs / 1000)} ago`;
}

/** A duration for people: `45s`, `3m 12s`, `2h 5m`, `4d 3h`. */
export function formatAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** An instant as the zone's wall clock with its offset: `2026-03-29T03:30:00+02:00`. */
export function localIso(instantMs: number, tz: string): string {
  const offset = offsetAt(instantMs, tz);
  const wall = new Date(instantMs + offset).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset) / 60_000;
  return `${wall}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** The zone's short name at an instant: CEST, EST, … (en-GB knows Europe's, en-US America's), else GMT+10:30. */
export function zoneAbbreviation(instantMs: number, tz: string): string {
  const name = (locale: string) =>
    new Intl.DateTimeFormat(locale, { timeZone: tz, timeZoneName: 'short' })
      .formatToParts(new Date(instantMs))
      .find((p) => p.type === 'timeZoneName')?.value;
  const us = name('en-US');
  if (us !== undefined && !/^(GMT|UTC)[+-]/.test(us)) return us;
  return name('en-GB') ?? us ?? tz;
}
