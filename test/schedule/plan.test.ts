// The missed-run policy as a pure function: which fire times are fired, caught up or recorded as missed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateRule, type ParsedRule } from '../../src/schedule/cron.js';
import { planFires, type MissedRunPolicy } from '../../src/schedule/plan.js';

const everySecond = (validateRule({ cron: '* * * * * *', timezone: 'UTC' }) as { ok: true; rule: ParsedRule }).rule;
const T = Date.parse('2026-11-28T12:00:00Z');
const plan = (policy: MissedRunPolicy, extra: Partial<Parameters<typeof planFires>[0]> = {}) =>
  planFires({
    rule: everySecond,
    fromMs: T,
    nowMs: T + 10_000,
    graceMs: 1500,
    policy,
    catchUpWindowMs: 3_600_000,
    catchUpMax: 100,
    ...extra,
  });
const secs = (xs: number[]) => xs.map((x) => (x - T) / 1000);

describe('missed-run policy', () => {
  it('skip: fires within the grace, records the older ones as missed', () => {
    const p = plan('skip');
    assert.deepEqual(secs(p.fire), [9, 10]);
    assert.deepEqual(p.catchUp, []);
    assert.deepEqual(secs(p.missed), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(p.through, T + 10_000);
  });

  it('run_once: one catch-up fire, the most recent missed one', () => {
    const p = plan('run_once');
    assert.deepEqual(secs(p.catchUp), [8]);
    assert.deepEqual(secs(p.missed), [1, 2, 3, 4, 5, 6, 7]);
  });

  it('catch_up: every missed fire, capped to the newest catch_up_max', () => {
    assert.deepEqual(secs(plan('catch_up').catchUp), [1, 2, 3, 4, 5, 6, 7, 8]);
    const capped = plan('catch_up', { catchUpMax: 3 });
    assert.deepEqual(secs(capped.catchUp), [6, 7, 8]);
    assert.deepEqual(secs(capped.missed), [1, 2, 3, 4, 5]);
  });

  it('fires older than the catch-up window are missed whatever the policy, and not listed one by one', () => {
    const p = plan('catch_up', { catchUpWindowMs: 4000 });
    assert.deepEqual(secs(p.catchUp), [7, 8]);
    assert.equal(p.olderNotListed, true);
    assert.equal(p.through, T + 10_000);
  });

  it('nothing is due before the first fire time', () => {
    const p = plan('skip', { nowMs: T + 500 });
    assert.deepEqual([p.fire, p.catchUp, p.missed, p.through], [[], [], [], undefined]);
  });
});
