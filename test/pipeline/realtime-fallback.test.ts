// When Realtime lags or drops changes, delivery goes on: an enterprise whose events arrive late against their
// commit (the stand-in decoding at a capped rate), or whose changes the sweep finds missing (the stand-in over its
// messages/s limit skips them, silently, as the server does), is also served by a fast poll of its pending rows,
// shows `degraded` with the reason in /health, and goes back to the live path alone once it is healthy again.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { insertMany } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

async function sentCount(stack: Stack, enterprise: string): Promise<number> {
  const res = await stack.pool.query<{ n: number }>(
    `select count(*)::int as n from notify.ent_notification where enterprise_id = $1 and status = 'sent'`,
    [enterprise],
  );
  return res.rows[0]?.n ?? 0;
}

/** The daemon's `notifyd_deliveries_total` for one origin, summed over outcomes (from GET /metrics). */
async function deliveries(stack: Stack, origin: string): Promise<number> {
  const text = await fetch(`${stack.daemon?.health.url ?? ''}/metrics`).then((r) => r.text());
  let n = 0;
  for (const m of text.matchAll(/^notifyd_deliveries_total\{([^}]*)\} (\S+)$/gm)) {
    if ((m[1] ?? '').includes(`origin="${origin}"`) && (m[1] ?? '').includes('outcome="sent"')) n += Number(m[2]);
  }
  return n;
}

function actorError(stack: Stack, enterprise: string): string | null | undefined {
  return stack.daemon?.report().actors.find((a) => a.id === `enterprise:${enterprise}`)?.last_error;
}

describe('daemon: Realtime lagging behind its commits', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it('polls the pending rows of the late enterprise: they are delivered without waiting for the feed', async () => {
    // 20 changes/s decoded: the 300th change of a bulk insert would reach notifyd 15 s after its commit
    stack = await startStack({
      enterprises: ['acme'],
      realtimeCapacity: 20,
      // the late events alone are the sign here: the feed check (which would also see them) is off
      env: { REALTIME_POLL_MS: '200', REALTIME_LATE_MS: '1000', SWEEP_INTERVAL_MS: '600000', REALTIME_VERIFY_MS: '0' },
    });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
    await insertMany(stack.pool, 'acme', 300);
    const degraded = await waitFor(() => actorError(stack, 'acme')?.includes('Realtime is missing changes') && true, {
      what: 'degraded with the reason',
      timeoutMs: 10_000,
    });
    assert.ok(degraded);
    assert.match(actorError(stack, 'acme') ?? '', /events arrive more than 1000 ms after their commit/);
    assert.equal(stack.daemon?.report().status, 'degraded');
    await waitFor(async () => (await sentCount(stack, 'acme')) === 300, { what: '300 sent', timeoutMs: 15_000 });
    const polled = await deliveries(stack, 'poll');
    assert.ok(polled >= 150, `${polled} of 300 delivered through the poll (the feed reached notifyd at 20/s)`);
    assert.equal(stack.novu.deliveries().length, 300, 'each once');
  });
});

describe('daemon: Realtime skipping changes over its messages/s limit', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it('polls once the sweep finds rows the live path missed, then serves live alone when it recovers', async () => {
    stack = await startStack({
      enterprises: ['acme'],
      // 10 messages/s over a 2 s window: most of 200 rows inserted at once are skipped, silently
      realtimeLimits: { maxEventsPerSecond: 10, tickMs: 500, buckets: 4 },
      // late events must not be the sign here (a loaded machine makes them late, and the poll they start would leave
      // the sweep nothing to find): only the sweep's
      env: {
        REALTIME_POLL_MS: '200',
        SWEEP_INTERVAL_MS: '1000',
        REALTIME_POLL_HOLD_MS: '10000', // long enough to span the second batch on a slow machine
        REALTIME_LATE_MS: '600000',
        REALTIME_VERIFY_MS: '0', // nor the feed check's (test/pipeline/feed-check.test.ts)
      },
    });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
    // 20 commits of 10 rows: once the window is full the server skips each later commit's changes
    for (let i = 0; i < 20; i++) {
      await insertMany(stack.pool, 'acme', 10);
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => actorError(stack, 'acme')?.includes('the sweep found rows the live path missed') && true, {
      what: 'degraded by the sweep',
      timeoutMs: 20_000,
    });
    // while polling, new rows go out through the poll even though the feed still drops them. The commits are spread
    // out: the server reads its messages/s counter once per batch of decoded changes, so 10 commits back to back
    // after a quiet spell can arrive in one batch that passes whole; spread, the first ones fill the window again
    // and the later ones are skipped
    const before = await deliveries(stack, 'poll');
    for (let i = 0; i < 10; i++) {
      await insertMany(stack.pool, 'acme', 10);
      await new Promise((r) => setTimeout(r, 150));
    }
    await waitFor(async () => (await sentCount(stack, 'acme')) === 300, { what: '300 sent', timeoutMs: 20_000 });
    assert.ok((await deliveries(stack, 'poll')) > before, 'the poll delivered some of the second batch');
    assert.equal(stack.novu.deliveries().length, 300, 'each once');
    // no more signs (no rows missed, no late events): the poll stops and the enterprise is healthy again
    await waitFor(() => actorError(stack, 'acme') === null, { what: 'the live path alone again', timeoutMs: 20_000 });
    assert.equal(stack.daemon?.report().enterprise_status?.['acme'], 'subscribed');
  });
});
