// The token bucket in Redis that processes of a deployment share (src/ownership/budget.ts): one budget whoever
// asks, waits told rather than slept, reservations that queue callers behind a cap (and acquire, which waits for
// them in order with one call each), a hold-off that empties the bucket for every sharer when the server refused,
// and local pacing when Redis cannot be asked.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, describe, it } from 'node:test';
import { RedisTokenBucket } from '../../src/ownership/budget.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_REDIS_URL } from '../support/services.js';

describe('shared token bucket', () => {
  const prefix = uniquePrefix('ntf-budget');
  const a = new Redis(TEST_REDIS_URL);
  const b = new Redis(TEST_REDIS_URL);
  after(async () => {
    await deletePrefix(prefix);
    a.disconnect();
    b.disconnect();
  });

  it('is one budget for two processes: the capacity is spent once, then the asker is told the wait', async () => {
    const one = new RedisTokenBucket(a, prefix, 'shared', { perSecond: 10, capacity: 4 });
    const two = new RedisTokenBucket(b, prefix, 'shared', { perSecond: 10, capacity: 4 });
    const waits = [await one.tryTake(), await two.tryTake(), await one.tryTake(), await two.tryTake()];
    assert.deepEqual(waits, [0, 0, 0, 0]);
    const next = await two.tryTake();
    assert.ok(next > 0 && next <= 100, `the fifth token waits for the refill (${next} ms)`);
  });

  it('reserves slots in the future: each caller is told its own, one refill interval apart', async () => {
    const cap = new RedisTokenBucket(a, prefix, 'reserve', { perSecond: 5, capacity: 1 });
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) waits.push(await cap.reserve());
    assert.equal(waits[0], 0);
    for (let i = 1; i < 4; i++) {
      const step = (waits[i] ?? 0) - (waits[i - 1] ?? 0);
      assert.ok(step > 150 && step <= 200, `slot ${i} is 200 ms after the one before (${waits.join(', ')})`);
    }
  });

  it("holds every sharer off for a refusal's Retry-After, whatever the bucket held", async () => {
    const one = new RedisTokenBucket(a, prefix, 'hold', { perSecond: 100, capacity: 500 });
    const two = new RedisTokenBucket(b, prefix, 'hold', { perSecond: 100, capacity: 500 });
    assert.equal(await one.tryTake(), 0, 'full: 499 tokens left');
    await one.holdOff(2000);
    const wait = await two.tryTake();
    assert.ok(wait > 1900 && wait <= 2010, `the other process waits out the 2 s (${wait} ms)`);
  });

  it('acquire: many waiters ask Redis once each, and are served in the order they asked', async () => {
    const c = new Redis(TEST_REDIS_URL);
    try {
      const bucket = new RedisTokenBucket(c, prefix, 'queue', { perSecond: 50, capacity: 1 });
      let calls = 0;
      const counted = c as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      const lua = counted['notifydBudgetTake']?.bind(c);
      counted['notifydBudgetTake'] = (...args: unknown[]) => {
        calls += 1;
        return lua?.(...args) as Promise<unknown>;
      };
      const order: number[] = [];
      // 30 at once at 50/s: the last waits about 0.6 s; asking again and again would take dozens of calls each
      await Promise.all(Array.from({ length: 30 }, (_, i) => bucket.acquire(1).then(() => order.push(i))));
      assert.equal(calls, 30);
      assert.deepEqual(
        order,
        Array.from({ length: 30 }, (_, i) => i),
      );
    } finally {
      c.disconnect();
    }
  });

  it('paces locally at its own rate when Redis cannot be asked, instead of failing', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: null });
    down.on('error', () => undefined);
    const local = new RedisTokenBucket(down, prefix, 'down', { perSecond: 20 });
    const t0 = performance.now();
    await local.take(1);
    await local.take(1);
    const ms = performance.now() - t0;
    assert.ok(ms >= 90, `two tokens at 20/s take at least 100 ms (${Math.round(ms)} ms)`);
    down.disconnect();
  });
});
