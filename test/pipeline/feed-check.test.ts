// The live feed's check (actors/enterprise/feed-check.ts) through the real daemon: when the Realtime stand-in, over
// its messages/s limit, skips changes silently (as the server does: no close, no error), the check's one query per
// thread finds the pending rows whose events never came and starts the fast poll within seconds, with the sweep
// (the other sign) ten minutes away and late events impossible (skipped events never arrive). That it raises no
// sign while the feed keeps up is tested without a daemon (test/enterprise/feed-check.test.ts): through the shared
// PostgreSQL cluster's WAL, how prompt the feed is depends on what other tests write meanwhile.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { insertMany } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

async function sentCount(stack: Stack): Promise<number> {
  const res = await stack.pool.query<{ n: number }>(
    `select count(*)::int as n from notify.ent_notification where status = 'sent'`,
  );
  return res.rows[0]?.n ?? 0;
}

const actorError = (stack: Stack) => stack.daemon?.report().actors.find((a) => a.id === 'enterprise:acme')?.last_error;

describe('daemon: the live feed check', () => {
  let stack: Stack | undefined;
  after(() => stack?.stop());

  it('starts the fast poll when Realtime skips changes silently, and the skipped rows are delivered', async () => {
    stack = await startStack({
      enterprises: ['acme'],
      // 10 messages/s over a 2 s window: once it is full, later commits' changes are skipped
      realtimeLimits: { maxEventsPerSecond: 10, tickMs: 500, buckets: 4 },
      env: {
        REALTIME_POLL_MS: '200',
        REALTIME_LATE_MS: '1000',
        REALTIME_VERIFY_MS: '500',
        SWEEP_INTERVAL_MS: '600000',
      },
    });
    const s = stack;
    await waitFor(() => s.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
    // 20 commits of 10 rows, spread: the server reads its counter once per batch of decoded changes, so one big
    // commit after a quiet spell would pass whole
    for (let i = 0; i < 20; i += 1) {
      await insertMany(s.pool, 'acme', 10);
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(() => actorError(s)?.includes('did not come through Realtime') === true, {
      what: 'degraded by the feed check',
      timeoutMs: 15_000,
    });
    assert.match(actorError(s) ?? '', /rows changed over 1000 ms ago did not come through Realtime/);
    await waitFor(async () => (await sentCount(s)) === 200, { what: '200 sent', timeoutMs: 20_000 });
    const skipped = Object.values(s.realtime.counters().projects)[0]?.changesSkipped ?? 0;
    assert.ok(skipped > 0, 'the stand-in skipped changes');
    assert.equal(s.novu.deliveries().length, 200, 'each once');
  });
});
