// SIGTERM under load, as an orchestrator sends it: `node dist/supervisor.js` stops in order and exits 0 within
// its deadline, with every line it logged on its stdout (one `notification_sent` per row it sent, the stop lines of
// every thread, `shutdown_complete` last); after a restart every one of 2,000 notifications is sent exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDaemonProcess } from '../../src/devstack/daemon-process.js';
import { insertMany, statusCounts } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon process: SIGTERM during load', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      enterprises: ['acme', 'globex'],
      startDaemon: false,
      env: { DAEMON_LOG_LEVEL: 'info', WORKER_CONCURRENCY: '8' },
    });
  });
  after(async () => {
    await stack.stop();
  });

  it('drains in order on SIGTERM, exits 0, and after a restart every notification is sent exactly once', async () => {
    stack.novu.faults.latency(15, { count: 1_000_000 });
    const first = startDaemonProcess(stack.env);
    await first.waitForLine((l) => l.includes('"event":"daemon_started"'));
    await waitFor(() => first.lines.filter((l) => l.includes('"event":"subscription_subscribed"')).length >= 2, {
      what: 'both subscribed',
      timeoutMs: 20_000,
    });
    const ids = [...(await insertMany(stack.pool, 'acme', 1000)), ...(await insertMany(stack.pool, 'globex', 1000))];
    assert.equal(ids.length, 2000);
    await waitFor(() => stack.novu.deliveries().length >= 300, { what: '300 deliveries', timeoutMs: 30_000 });
    const signalledAt = Date.now();
    first.signal('SIGTERM');
    const code = await first.exited;
    const stopMs = Date.now() - signalledAt;
    assert.equal(code, 0, `exit code ${code}\n${first.stderr.join('')}`);
    assert.ok(stopMs < 25_000, `took ${stopMs} ms to stop`);
    const midway = await statusCounts(stack.pool);
    const leased = await stack.pool.query(
      `select count(*)::int as n from notify.delivery where outcome is null and lease_expires_at > now()`,
    );
    assert.equal(leased.rows[0].n, 0, 'a row was left leased: in-flight work was not drained');
    assert.ok((midway['sent'] ?? 0) < 2000, 'the load finished before SIGTERM; the test proves nothing');
    const events = first.lines.map((l) => (JSON.parse(l) as { event?: string }).event);
    const order = events.filter((e) => e === 'subscription_stopped' || e === 'processing_stopped');
    assert.equal(
      order.filter((e) => e === 'subscription_stopped').length,
      2,
      `both enterprises' stop lines: ${order.join(', ')}`,
    );
    assert.equal(order.at(-1), 'processing_stopped', `processing must stop last (intake first): ${order.join(', ')}`);
    // nothing logged before the exit was lost: a line per row it sent (from the pool's thread), and the last line
    assert.equal(
      events.filter((e) => e === 'notification_sent').length,
      midway['sent'] ?? 0,
      'notification_sent lines vs rows sent',
    );
    assert.equal(events.at(-1), 'shutdown_complete', `last line: ${first.lines.at(-1)}`);

    const second = startDaemonProcess(stack.env);
    try {
      await waitFor(async () => (await statusCounts(stack.pool))['sent'] === 2000, {
        what: 'all 2,000 sent after restart',
        timeoutMs: 90_000,
        intervalMs: 250,
      });
    } finally {
      second.signal('SIGTERM');
      assert.equal(await second.exited, 0);
    }
    const perTx = new Map<string, number>();
    for (const d of stack.novu.deliveries())
      perTx.set(d.transactionId ?? '', (perTx.get(d.transactionId ?? '') ?? 0) + 1);
    const duplicates = [...perTx.values()].filter((n) => n > 1).length;
    assert.equal(duplicates, 0, `${duplicates} notifications delivered more than once`);
    assert.equal(perTx.size, 2000);
    for (const id of ids.slice(0, 5))
      assert.ok(perTx.has(`notifyd-acme-${id}-1`) || perTx.has(`notifyd-globex-${id}-1`));
  });
});
