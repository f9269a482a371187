// Backoff formula, reset after a stable period, restart-intensity window, status registry: pure units.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, NotifydError } from '../../src/errors.js';
import { BackoffTracker, DEFAULT_BACKOFF, backoffDelay, resolveBackoff } from '../../src/runtime/backoff.js';
import { RestartWindow } from '../../src/runtime/intensity.js';
import { StatusRegistry, worstHealth } from '../../src/runtime/status-registry.js';
import '../fixtures/runtime/helpers.js';

describe('backoff', () => {
  it('follows min(max, min·2^n)·(1 + jitter·rand) with the enterprise defaults', () => {
    const lo = (n: number): number => backoffDelay(DEFAULT_BACKOFF, n, () => 0);
    const hi = (n: number): number => backoffDelay(DEFAULT_BACKOFF, n, () => 1);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map(lo), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    assert.deepEqual([0, 1, 5, 6].map(hi), [1_200, 2_400, 38_400, 72_000]);
    assert.equal(
      backoffDelay(DEFAULT_BACKOFF, 0, () => 0.5),
      1_100,
    );
  });

  it('does not overflow for large failure counts', () => {
    assert.equal(
      backoffDelay(DEFAULT_BACKOFF, 1_000, () => 0),
      60_000,
    );
    assert.equal(
      backoffDelay(DEFAULT_BACKOFF, 30, () => 0),
      60_000,
    );
  });

  it('counts consecutive failures and starts from min again after resetAfterMs up', () => {
    const t = new BackoffTracker({ minMs: 100, maxMs: 1_000, jitter: 0, resetAfterMs: 500 });
    assert.deepEqual(
      [t.failed(0), t.failed(10), t.failed(20)].map((f) => f.delayMs),
      [100, 200, 400],
    );
    t.started(100);
    assert.equal(t.failed(400).delayMs, 800, 'up 300 ms < 500 ms: not stable, keeps growing');
    t.started(1_000);
    assert.equal(t.failed(1_600).delayMs, 100, 'up 600 ms ≥ 500 ms: reset');
    assert.equal(t.failures, 1);
  });

  it('refuses invalid policies, naming the field', () => {
    for (const [bad, field] of [
      [{ minMs: -1 }, 'minMs'],
      [{ minMs: 10, maxMs: 5 }, 'maxMs'],
      [{ jitter: 1.5 }, 'jitter'],
      [{ resetAfterMs: Number.NaN }, 'resetAfterMs'],
    ] as const) {
      assert.throws(
        () => resolveBackoff(bad),
        (err: unknown) =>
          err instanceof NotifydError && err.code === ErrorCodes.RUNTIME_OPTION_INVALID && err.message.includes(field),
      );
    }
    assert.ok(Object.isFrozen(resolveBackoff({ minMs: 0 })));
  });
});

describe('restart intensity', () => {
  it('allows `intensity` restarts per period and trips on the next one', () => {
    const w = new RestartWindow({ intensity: 3, periodMs: 5_000 });
    assert.equal(w.record(0), false);
    assert.equal(w.record(1_000), false);
    assert.equal(w.record(2_000), false);
    assert.equal(w.record(3_000), true, 'fourth restart inside 5 s');
  });

  it('forgets restarts older than the period (sliding window)', () => {
    const w = new RestartWindow({ intensity: 2, periodMs: 1_000 });
    w.record(0);
    w.record(500);
    assert.equal(w.record(1_200), false, 'the restart at 0 left the window');
    assert.equal(w.count(1_200), 2);
    assert.equal(w.record(1_300), true);
  });

  it('never trips with an infinite intensity', () => {
    const w = new RestartWindow({ intensity: Infinity, periodMs: 1 });
    for (let i = 0; i < 100; i++) assert.equal(w.record(i), false);
  });
});

describe('status registry', () => {
  it('keeps one entry per id, moves `since` on a status change and notifies subscribers', () => {
    const r = new StatusRegistry();
    const changes: string[] = [];
    const off = r.subscribe((c) => changes.push(`${c.type}:${c.status.id}:${c.status.status}`));
    const a = r.set({ id: 'a', kind: 'enterprise', status: 'starting' });
    r.set({ id: 'a', status: 'starting' }); // no change: no event
    const b = r.set({ id: 'a', status: 'subscribed', health: 'ok' });
    assert.equal(b.kind, 'enterprise');
    assert.ok(b.since >= a.since);
    r.set({ id: 'b', kind: 'host', status: 'running', health: 'degraded' });
    assert.deepEqual(
      r.snapshot().map((s) => s.id),
      ['a', 'b'],
    );
    assert.deepEqual(r.summary().byKind['host'], { total: 1, ok: 0, degraded: 1, down: 0 });
    assert.equal(worstHealth(r.snapshot()), 'degraded');
    r.remove('a');
    off();
    r.set({ id: 'b', status: 'stopped' });
    assert.deepEqual(changes, ['set:a:starting', 'set:a:subscribed', 'set:b:running', 'remove:a:subscribed']);
    assert.ok(Object.isFrozen(r.get('b')));
  });

  it('survives a throwing subscriber', () => {
    const r = new StatusRegistry();
    r.subscribe(() => {
      throw new Error('listener bug');
    });
    assert.doesNotThrow(() => r.set({ id: 'x', status: 'running' }));
    assert.equal(r.get('x')?.status, 'running');
  });
});
