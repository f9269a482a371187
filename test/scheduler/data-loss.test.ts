// Redis losing its data is noticed even when it happens before the scheduler's first sweep (actors/scheduler): the
// epoch is recorded when the scheduler first starts, so the first sweep after the loss finds another and repairs;
// and when it happens while the daemon is down, because the epoch reconciled is kept in PostgreSQL.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { jobIdFor } from '../../src/queue/jobs.js';
import { deletePrefix } from '../support/redis.js';
import { insertRow } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/** notifyd_redis_data_loss_total as the daemon's /metrics shows it. */
async function losses(stack: Stack): Promise<number> {
  const text = await (await fetch(`${stack.daemon?.health.url}/metrics`)).text();
  return Number(/^notifyd_redis_data_loss_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('scheduler: Redis data lost before the first sweep', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it('is noticed by the first sweep after it (a repair pass, counted in notifyd_redis_data_loss_total)', async () => {
    stack = await startStack({ enterprises: ['acme'], env: { SWEEP_INTERVAL_MS: '4000' } });
    await deletePrefix(stack.prefix); // every key of the deployment gone, the marker with them, before any sweep
    await waitFor(async () => (await losses(stack)) === 1, { what: 'the loss counted', timeoutMs: 20_000 });
    assert.equal(await losses(stack), 1);
  });
});

describe('scheduler: Redis data lost while the daemon was down', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it('is noticed by the restarted daemon, whose fresh marker does not hide it; the delayed job is back', async () => {
    stack = await startStack({ enterprises: ['acme'], env: { SWEEP_INTERVAL_MS: '1000' } });
    const id = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 600_000) });
    const job = jobIdFor(id, '1');
    await waitFor(async () => (await stack.jobState(job)) === 'delayed', {
      what: 'the delayed job',
      timeoutMs: 20_000,
    });
    await stack.daemon?.shutdown('restart');
    await deletePrefix(stack.prefix); // Redis restarted without persistence while notifyd was down
    // the restarted scheduler creates a fresh marker at start: only the epoch PostgreSQL recorded shows the loss (the
    // job itself also comes back through the new owner's full catch-up; the count is the scheduler's alone)
    await stack.start();
    await waitFor(async () => (await losses(stack)) === 1, { what: 'the loss counted', timeoutMs: 20_000 });
    assert.equal(await stack.jobState(job), 'delayed');
  });
});
