// Redis losing its data is noticed even when it happens before the scheduler's first sweep (actors/scheduler): the
// epoch marker is set when the scheduler starts, so the first sweep after the loss finds it gone and repairs.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { deletePrefix } from '../support/redis.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('scheduler: Redis data lost before the first sweep', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it('is noticed by the first sweep after it (a repair pass, counted in notifyd_redis_data_loss_total)', async () => {
    stack = await startStack({ enterprises: ['acme'], env: { SWEEP_INTERVAL_MS: '4000' } });
    await deletePrefix(stack.prefix); // every key of the deployment gone, the marker with them, before any sweep
    const losses = async () => {
      const text = await (await fetch(`${stack.daemon?.health.url}/metrics`)).text();
      return Number(/^notifyd_redis_data_loss_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    };
    await waitFor(async () => (await losses()) === 1, { what: 'the loss counted', timeoutMs: 20_000 });
    assert.equal(await losses(), 1);
  });
});
