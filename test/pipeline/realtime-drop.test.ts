// Realtime failure paths through the daemon: a dropped or restarted Realtime shows `reconnecting` in /health and
// then `subscribed` again, and rows inserted while it was away (Realtime never replays them) are delivered by the
// catch-up; a channel that joins but never gets "Subscribed to PostgreSQL" is not trusted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon: Realtime drops and zombies', () => {
  let stack: Stack;
  const statusOf = async (ent: string) => {
    const res = await fetch(`${stack.daemon?.health.url}/health`);
    return ((await res.json()) as { enterprise_status: Record<string, string> }).enterprise_status?.[ent];
  };
  before(async () => {
    // no sweep to speak of: what is delivered after an outage is the catch-up's doing alone
    stack = await startStack({ enterprises: ['acme', 'globex'], env: { SWEEP_INTERVAL_MS: '3600000' } });
    await waitFor(
      async () => (await statusOf('acme')) === 'subscribed' && (await statusOf('globex')) === 'subscribed',
      { what: 'subscribed', timeoutMs: 20_000 },
    );
  });
  after(async () => {
    await stack.stop();
  });

  it(
    'shows reconnecting during a Realtime outage, then subscribed, ' + 'and delivers what was inserted meanwhile',
    async () => {
      const seen = new Set<string>();
      const restarting = stack.realtime.restart({ downtimeMs: 3000 });
      await waitFor(
        async () => {
          const s = await statusOf('acme');
          if (s !== undefined) seen.add(s);
          return s === 'reconnecting';
        },
        { what: 'reconnecting in /health', timeoutMs: 10_000, intervalMs: 25 },
      );
      const during = await Promise.all(
        [1, 2, 3, 4, 5].map((i) => insertRow(stack.pool, { enterprise_id: i % 2 === 0 ? 'acme' : 'globex' })),
      );
      await restarting;
      await waitFor(
        async () => (await statusOf('acme')) === 'subscribed' && (await statusOf('globex')) === 'subscribed',
        { what: 'subscribed again', timeoutMs: 20_000 },
      );
      for (const id of during) {
        await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
          what: `row ${id} sent after reconnect`,
          timeoutMs: 15_000,
        });
      }
      for (const [i, id] of during.entries()) {
        const ent = (i + 1) % 2 === 0 ? 'acme' : 'globex';
        assert.equal(stack.novu.deliveriesFor(`notifyd-${ent}-${id}-1`).length, 1);
      }
      const acme = stack.daemon?.report().actors.find((a) => a.id === 'enterprise:acme');
      assert.equal(acme?.status, 'subscribed');
    },
  );

  it('does not report a zombie channel (joined, no "Subscribed to PostgreSQL") as subscribed', async () => {
    stack.realtime.failPostgresSubscription(true);
    stack.realtime.dropAllSockets();
    await waitFor(async () => (await statusOf('acme')) === 'reconnecting', {
      what: 'reconnecting',
      timeoutMs: 10_000,
      intervalMs: 25,
    });
    const states = new Set<string>();
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      states.add((await statusOf('acme')) ?? '');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(!states.has('subscribed'), `reported ${[...states].join(', ')} while every join was a zombie`);
    const id = await insertRow(stack.pool, { enterprise_id: 'acme' });
    stack.realtime.failPostgresSubscription(false);
    await waitFor(async () => (await statusOf('acme')) === 'subscribed', {
      what: 'subscribed after the zombie',
      timeoutMs: 20_000,
    });
    await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
      what: 'row sent',
      timeoutMs: 15_000,
    });
  });
});
