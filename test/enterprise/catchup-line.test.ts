// Catch-ups wait in line, not in the pool (actors/enterprise/resources.ts): when many enterprises subscribe at once
// and the database is slow, those waiting for a connection must not time out, rejoin and ask again. Here the
// watermark table is locked for 8 s, longer than the pool's 5 s connection timeout, while 40 enterprises subscribe:
// every one is subscribed once the lock goes, with one join each.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('catch-ups on a slow database', () => {
  let stack: Stack;
  let locker: pg.Client | undefined;
  after(async () => {
    await locker?.end().catch(() => undefined);
    await stack?.stop();
  });

  it('queue behind the two that run instead of failing on the pool timeout and rejoining', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `slow${String(i).padStart(2, '0')}`);
    stack = await startStack({ enterprises: ids, startDaemon: false, env: { SUBSCRIPTION_JOIN_TIMEOUT: '10000' } });
    locker = new pg.Client({ connectionString: stack.db.url });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table notify.subscription_watermark in access exclusive mode');
    const daemon = await stack.start();
    await new Promise((r) => setTimeout(r, 8000));
    await locker.query('commit');
    await waitFor(() => ids.every((id) => daemon.report().enterprise_status?.[id] === 'subscribed'), {
      what: 'all 40 subscribed',
      timeoutMs: 60_000,
    });
    const project = Object.values(stack.realtime.counters().projects)[0];
    assert.equal(project?.joins, 40, 'one join each: no catch-up failed and made its enterprise rejoin');
    const restarted = daemon.report().actors.filter((a) => a.kind === 'enterprise' && a.restarts > 0);
    assert.deepEqual(
      restarted.map((a) => a.id),
      [],
    );
  });
});
