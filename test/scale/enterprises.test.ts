// 1,000 enterprises for real, under the Realtime stand-in's `pro` plan: the daemon subscribes every one, stays
// inside the plan's joins/s (paced through the shared Redis budget) and its channels-per-socket limit, and the
// whole process fits in 300 MB of RSS (worker threads' young generations capped, the main thread's too through
// the entry's re-exec with --max-semi-space-size, one realtime thread). The figures are printed for the README.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runScale } from '../bench/enterprises-scale.js';

describe('1,000 enterprises on one daemon (pro plan)', () => {
  it(
    'subscribes every one within the join limit, on 10 sockets, in at most 300 MB of RSS',
    { timeout: 180_000 },
    async () => {
      const r = await runScale({ enterprises: 1000, profile: 'pro', realtimeHosts: 1, timeoutMs: 120_000 });
      process.stdout.write(`# scale: ${JSON.stringify(r)}\n`);
      assert.equal(r.joins, 1000, 'one join per enterprise: none retried, none refused');
      assert.equal(r.joinsRefused, 0);
      assert.equal(r.connectionsRefused, 0);
      assert.ok(r.joinLimit !== null && r.peakJoinsPerSecond <= r.joinLimit, `peak ${r.peakJoinsPerSecond} joins/s`);
      assert.equal(r.sockets, 10, '100 channels per socket');
      assert.ok(r.peakRssMb <= 300, `daemon RSS peaked at ${r.peakRssMb} MB (settled ${r.rssMb} MB)`);
    },
  );
});
