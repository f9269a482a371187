// Cron rules in time zones: validation, and fire instants against expected UTC instants across DST transitions
// (Europe/Berlin both nights, America/New_York, Asia/Kolkata +05:30, Australia/Lord_Howe's 30-minute DST).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firesBetween, nextFire, repeatStrategy, validateRule, type ParsedRule } from '../../src/schedule/cron.js';

const rule = (cron: string, timezone: string): ParsedRule => {
  const v = validateRule({ cron, timezone });
  if (!v.ok) throw new Error(v.reason);
  return v.rule;
};
const iso = (ms: number) => new Date(ms).toISOString();
const fires = (cron: string, tz: string, from: string, n: number) => {
  const r = rule(cron, tz);
  const out: string[] = [];
  let t = Date.parse(from);
  for (let i = 0; i < n; i += 1) {
    t = nextFire(r, t);
    out.push(iso(t));
  }
  return out;
};

describe('cron rules: validation', () => {
  it('accepts 5- and 6-field expressions in IANA zones', () => {
    for (const [cron, tz] of [
      ['30 2 * * *', 'Europe/Berlin'],
      ['*/5 * * * * *', 'UTC'],
      ['0 9 * * 1-5', 'Asia/Kolkata'],
      ['@hourly', 'UTC'],
    ] as const) {
      assert.equal(validateRule({ cron, timezone: tz }).ok, true, cron);
    }
  });

  it('refuses malformed expressions and unknown zones with a reason', () => {
    const reasons = [
      ['', 'UTC'],
      ['* * * *', 'UTC'],
      ['* * * * * * *', 'UTC'],
      ['61 * * * *', 'UTC'],
      ['H * * * *', 'UTC'],
      ['* * * * *', 'Mars/Olympus_Mons'],
      ['* * * * *', ''],
      ['every minute', 'UTC'],
    ].map(([cron, tz]) => validateRule({ cron: cron as string, timezone: tz as string }));
    for (const v of reasons) assert.equal(v.ok, false);
    const texts = reasons.map((v) => (v.ok ? '' : v.reason));
    assert.match(texts[1] ?? '', /4 fields, expected 5/);
    assert.match(texts[4] ?? '', /random H/);
    assert.match(texts[5] ?? '', /invalid timezone: "Mars\/Olympus_Mons"/);
  });
});

describe('cron rules: fire instants across DST', () => {
  it('Europe/Berlin spring forward: 02:30 does not exist and fires once at 03:30 CEST', () => {
    assert.deepEqual(fires('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 3), [
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ]);
  });

  it('Europe/Berlin fall back: 02:30 exists twice and fires once, at the first (CEST) occurrence', () => {
    assert.deepEqual(fires('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 3), [
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
      '2026-10-27T01:30:00.000Z',
    ]);
  });

  it(
    'every-minute rules keep firing every absolute minute through both Berlin transitions, ' +
      'and every-second rules stay cheap there',
    () => {
      const everyMinute = rule('* * * * *', 'Europe/Berlin');
      const fall = firesBetween(
        everyMinute,
        Date.parse('2026-10-25T00:00:00Z'),
        Date.parse('2026-10-25T02:00:00Z'),
        1000,
      );
      assert.equal(fall.length, 120);
      assert.equal(new Set(fall).size, 120);
      const spring = firesBetween(
        everyMinute,
        Date.parse('2026-03-29T00:30:00Z'),
        Date.parse('2026-03-29T01:30:00Z'),
        1000,
      );
      assert.equal(spring.length, 60);
      const started = performance.now();
      const everySecond = firesBetween(
        rule('* * * * * *', 'Europe/Berlin'),
        Date.parse('2026-10-25T00:59:00Z'),
        Date.parse('2026-10-25T01:01:00Z'),
        1000,
      );
      assert.equal(everySecond.length, 120);
      assert.ok(
        performance.now() - started < 2000,
        `120 fires near a transition took ${Math.round(performance.now() - started)} ms`,
      );
    },
  );

  it('America/New_York: 09:00 local moves from 14:00Z to 13:00Z when DST starts', () => {
    assert.deepEqual(fires('0 9 * * *', 'America/New_York', '2026-03-07T00:00:00Z', 3), [
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
    assert.deepEqual(fires('0 9 * * *', 'America/New_York', '2026-10-31T00:00:00Z', 2), [
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
    ]);
  });

  it('Asia/Kolkata: +05:30 all year', () => {
    assert.deepEqual(fires('0 9 * * *', 'Asia/Kolkata', '2026-03-07T00:00:00Z', 2), [
      '2026-03-07T03:30:00.000Z',
      '2026-03-08T03:30:00.000Z',
    ]);
    assert.deepEqual(fires('45 23 * * *', 'Asia/Kolkata', '2026-07-01T00:00:00Z', 1), ['2026-07-01T18:15:00.000Z']);
  });

  it('Australia/Lord_Howe: 30-minute DST, where cron-parser alone loops out', () => {
    // DST ends 2026-04-05 02:00 (+11) → 01:30 (+10:30): 09:00 is 22:00Z the day before, then 22:30Z
    assert.deepEqual(fires('0 9 * * *', 'Australia/Lord_Howe', '2026-04-03T12:00:00Z', 3), [
      '2026-04-03T22:00:00.000Z',
      '2026-04-04T22:30:00.000Z',
      '2026-04-05T22:30:00.000Z',
    ]);
    // 01:45 exists twice that night: fires at the first occurrence only
    assert.deepEqual(fires('45 1 * * *', 'Australia/Lord_Howe', '2026-04-04T00:00:00Z', 2), [
      '2026-04-04T14:45:00.000Z',
      '2026-04-05T15:15:00.000Z',
    ]);
    // DST starts 2026-10-04 02:00 (+10:30) → 02:30 (+11): 02:15 does not exist, fires at 02:45 (+11)
    assert.deepEqual(fires('15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T00:00:00Z', 2), [
      '2026-10-03T15:45:00.000Z',
      '2026-10-04T15:15:00.000Z',
    ]);
    // an hourly rule through the fall-back night: local 00:00, 01:00, then the clock goes back from 02:00 to 01:30,
    // so the next :00 is 02:00 +10:30 — 90 minutes of absolute time later
    const hourly = firesBetween(
      rule('0 * * * *', 'Australia/Lord_Howe'),
      Date.parse('2026-04-04T12:00:00Z'),
      Date.parse('2026-04-04T18:00:00Z'),
      100,
    ).map(iso);
    assert.deepEqual(hourly, [
      '2026-04-04T13:00:00.000Z',
      '2026-04-04T14:00:00.000Z',
      '2026-04-04T15:30:00.000Z',
      '2026-04-04T16:30:00.000Z',
      '2026-04-04T17:30:00.000Z',
    ]);
    // every 15 minutes through the same night fires in both passes of the repeated half hour (01:30, 01:45 twice)
    const quarter = firesBetween(
      rule('*/15 * * * *', 'Australia/Lord_Howe'),
      Date.parse('2026-04-04T14:20:00Z'),
      Date.parse('2026-04-04T15:40:00Z'),
      100,
    ).map(iso);
    assert.deepEqual(quarter, [
      '2026-04-04T14:30:00.000Z',
      '2026-04-04T14:45:00.000Z',
      '2026-04-04T15:00:00.000Z',
      '2026-04-04T15:15:00.000Z',
      '2026-04-04T15:30:00.000Z',
    ]);
  });

  it("serves as BullMQ's repeatStrategy with the same instants", () => {
    assert.equal(
      repeatStrategy(Date.parse('2026-04-04T12:00:00Z'), { pattern: '0 9 * * *', tz: 'Australia/Lord_Howe' }),
      Date.parse('2026-04-04T22:30:00Z'),
    );
    assert.equal(
      repeatStrategy(Date.parse('2026-01-01T00:00:00.400Z'), { pattern: '* * * * * *', tz: 'UTC' }),
      Date.parse('2026-01-01T00:00:01Z'),
    );
    assert.equal(repeatStrategy(0, { pattern: 'nonsense' }), undefined);
  });
});
