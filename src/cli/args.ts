// commander argument parsers of the notifyd CLI: a bad value is a usage error (exit 2) that says what was expected.
import { InvalidArgumentError } from 'commander';
import { ENTERPRISE_ID_PATTERN } from '../config/schema.js';

/** A positive whole number up to `max` (`--limit`, `--count`). */
export function positiveInt(max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number.');
    const n = Number(value);
    if (n < 1 || n > max) throw new InvalidArgumentError(`must be between 1 and ${max}.`);
    return n;
  };
}

/** An enterprise id as the daemon accepts it (ENTERPRISE_ID_PATTERN). */
export function enterpriseId(value: string): string {
  if (!ENTERPRISE_ID_PATTERN.test(value)) {
    throw new InvalidArgumentError(`not a valid enterprise id (allowed: ${ENTERPRISE_ID_PATTERN.source}).`);
  }
  return value;
}

/** A notification id (bigint, kept as its decimal text); repeated for variadic arguments. */
export function notificationId(value: string, previous: string[] | undefined): string[] {
  const v = value.trim();
  if (!/^[1-9]\d{0,18}$/.test(v) || BigInt(v) > 9_223_372_036_854_775_807n) {
    const shown = JSON.stringify(value.slice(0, 40));
    throw new InvalidArgumentError(`${shown} is not a notification id (a positive integer).`);
  }
  return [...(previous ?? []), v];
}

/** Free text for a filter or a note: one line, bounded. */
export function text(max: number): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new InvalidArgumentError('must not be empty.');
    if (value.length > max) throw new InvalidArgumentError(`at most ${max} characters.`);
    return value;
  };
}
