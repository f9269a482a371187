// Values a thread host shares with all its actors (ThreadHost.share → sharedValue in the thread): present before
// the first actor starts, replaced by newer shares, and given again to a restarted thread before its actors start.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ThreadHost } from '../../src/runtime/thread-host.js';
import { fixture, nextEvent } from '../fixtures/runtime/helpers.js';

describe('values shared with every actor of a thread', () => {
  const host = new ThreadHost({
    id: 'shared',
    heartbeatMs: 100,
    actors: [
      { id: 'a', kind: 'echo', module: fixture('echo') },
      { id: 'killer', kind: 'killer', module: fixture('thread-killer') },
    ],
  });
  after(() => host.stop(5_000));

  it('reach actors before they start, follow newer shares, and survive a thread restart', async () => {
    host.share('k', { v: 1 });
    await host.start();
    type Seen = { now: unknown; atStart: unknown };
    assert.deepEqual(await host.ask<Seen>('a', { type: 'shared', key: 'k' }), { now: { v: 1 }, atStart: { v: 1 } });
    host.share('k', { v: 2 });
    // the share and the ask travel on different ports: poll until the thread has applied it
    let seen: Seen | undefined;
    for (let i = 0; i < 100 && (seen?.now as { v: number } | undefined)?.v !== 2; i++) {
      seen = await host.ask<Seen>('a', { type: 'shared', key: 'k' });
      if ((seen.now as { v: number }).v !== 2) await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(seen, { now: { v: 2 }, atStart: { v: 1 } });
    const restarted = nextEvent(host, 'thread-exit');
    host.tell('killer', { type: 'process-exit', code: 3 });
    await restarted;
    await host.start();
    const after = await host.ask<Seen>('a', { type: 'shared', key: 'k' });
    assert.deepEqual(after, { now: { v: 2 }, atStart: { v: 2 } }, 'the restarted thread had the last value first');
  });
});
