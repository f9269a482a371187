// Novu's budget through the whole daemon: against a rate-limited Novu, triggers are paced from the RateLimit-Policy
// Novu announces (one budget in Redis for the environment) so that no 429 is needed; against a Novu that sends no
// rate-limit headers, first attempts of concurrent jobs go out together in bulk requests — fewer requests, each
// notification delivered once under its own transactionId.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { insertMany } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

async function sent(stack: Stack): Promise<number> {
  const res = await stack.pool.query<{ n: number }>(
    `select count(*)::int as n from notify.ent_notification where status = 'sent'`,
  );
  return res.rows[0]?.n ?? 0;
}

function usage(stack: Stack): { requests: number; events: number; throttled: number; tokens: number } {
  const envs = Object.values(stack.novu.counters().environments);
  const sum = (k: 'requests' | 'events' | 'throttled' | 'tokens') => envs.reduce((a, e) => a + e[k], 0);
  return { requests: sum('requests'), events: sum('events'), throttled: sum('throttled'), tokens: sum('tokens') };
}

describe('daemon: a rate-limited Novu', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it('paces triggers from the announced policy: 150 notifications, no 429', async () => {
    // 10 triggers/s, 5 s window, 10 % burst: 55 tokens at most, then 10 a second
    stack = await startStack({ enterprises: ['acme'], novuRateLimit: { rps: 10 }, env: { WORKER_CONCURRENCY: '10' } });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
    await insertMany(stack.pool, 'acme', 1); // the first answer tells notifyd the policy
    await waitFor(async () => (await sent(stack)) === 1, { what: 'the first delivery' });
    await insertMany(stack.pool, 'acme', 149);
    await waitFor(async () => (await sent(stack)) === 150, { what: '150 sent', timeoutMs: 30_000 });
    const u = usage(stack);
    assert.equal(u.throttled, 0, `${u.throttled} requests got 429`);
    assert.equal(stack.novu.deliveries().length, 150);
    assert.ok(u.tokens <= 150, `${u.tokens} tokens for 150 notifications`);
  });
});

describe('daemon: a Novu without rate limits', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it('sends first attempts of concurrent jobs in bulk requests, each notification once', async () => {
    stack = await startStack({ enterprises: ['acme'], env: { WORKER_CONCURRENCY: '20' } });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
    stack.novu.faults.latency(20); // a little network time, so concurrent triggers meet
    await insertMany(stack.pool, 'acme', 1);
    await waitFor(async () => (await sent(stack)) === 1, { what: 'the first delivery' });
    await insertMany(stack.pool, 'acme', 400);
    await waitFor(async () => (await sent(stack)) === 401, { what: '401 sent', timeoutMs: 30_000 });
    const u = usage(stack);
    assert.equal(u.events, 401);
    assert.ok(u.requests < 200, `${u.requests} requests for 401 notifications`);
    const byTx = new Map<string, number>();
    for (const d of stack.novu.deliveries())
      byTx.set(d.transactionId ?? '', (byTx.get(d.transactionId ?? '') ?? 0) + 1);
    assert.equal(byTx.size, 401, 'every notification under its own transactionId');
    assert.ok(
      [...byTx.values()].every((n) => n === 1),
      'each delivered once',
    );
  });
});
