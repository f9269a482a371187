// SIGTERM under load, as an orchestrator sends it: `node dist/supervisor.js` stops in order and exits 0 within
// its deadline; after a restart every one of 2,000 notifications is sent exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDaemonProcess } from '../../src/devstack/daemon-process.js';
import { insertMany, statusCounts } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon process: SIGTERM during load', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ enterprises: ['acme', 'globex'], startDaemon: false, env: { DAEMON_LOG_LEVEL: 'info', WORKER_CONCURRENCY: '8' } });
  });
  after(async () => { await stack.stop(); });

  it('drains in order on SIGTERM, exits 0, and after a restart every notification is sent exactly once', async () => {
    stack.novu.faults.latency(15, { count: 1_000_000 });
    const first = startDaemonProcess(stack.env);
    await first.waitForLine((l) => l.includes('"event":"daemon_started"'));
    await waitFor(() => first.lines.filter((l) => l.includes('"event":"subscription_subscribed"')).length >= 2, { what: 'both subscribed', timeoutMs: 20_000 });
    const ids = [...await insertMany(stack.pool, 'acme', 1000), ...await insertMany(stack.pool, 'globex', 1000)];
    assert.equal(ids.length, 2000);
    await waitFor(() => stack.novu.deliveries().length >= 300, { what: '300 deliveries', timeoutMs: 30_000 });
    const signalledAt = Date.now();
    first.signal('SIGTERM');
    const code = await first.exited;
    const stopMs = Date.now() - signalledAt;
    assert.equal(code, 0, `exit code ${code}\n${first.stderr.join('')}`);
    assert.ok(stopMs < 25_000, `took ${stopMs} ms to stop`);
    const midway = await statusCounts(stack.pool);
    assert.equal(midway['processing'] ?? 0, 0, 'a row was left processing: in-flight work was not drained');
    assert.ok((midway['sent'] ?? 0) < 2000, 'the load finished before SIGTERM; the test proves nothing');
    const order = first.lines.filter((l) => /"event":"(subscription_stopped|processing_stopped)"/.test(l)).map((l) => (JSON.parse(l) as { event: string }).event);
    assert.equal(order.at(-1), 'processing_stopped', `processing must stop last (intake first): ${order.join(', ')}`);

    const second = startDaemonProcess(stack.env);
    try {
      await waitFor(async () => (await statusCounts(stack.pool))['sent'] === 2000, { what: 'all 2,000 sent after restart', timeoutMs: 90_000, intervalMs: 250 });
    } finally {
      second.signal('SIGTERM');
      assert.equal(await second.exited, 0);
    }
    const perTx = new Map<string, number>();
    for (const d of stack.novu.deliveries()) perTx.set(d.transactionId ?? '', (perTx.get(d.transactionId ?? '') ?? 0) + 1);
    const duplicates = [...perTx.values()].filter((n) => n > 1).length;
    assert.equal(duplicates, 0, `${duplicates} notifications delivered more than once`);
    assert.equal(perTx.size, 2000);
    for (const id of ids.slice(0, 5)) assert.ok(perTx.has(`notifyd-acme-${id}-1`) || perTx.has(`notifyd-globex-${id}-1`));
  });
});
