// An enterprise taken out of a daemon's configuration — dropped from DAEMON_ENTERPRISE_IDS, or switched off with
// ENT_<id>_SUBSCRIPTION_ENABLED=false — and the daemon restarted: its jobs still waiting in Redis (delayed rows, due
// while it is out) are not delivered, its rows stay pending, and when it is served again they are delivered, once.
// The queue outlives the restart; only the served registry (who serves what, now) decides.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { startDaemon, testSignals, type Daemon } from '../../supervisor/daemon.js';
import { insertRow, rowById } from '../support/rows.js';
import { captureLogger, startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

for (const way of <{ name: string; env: Record<string, string> }[]>[
  { name: 'dropped from DAEMON_ENTERPRISE_IDS', env: { DAEMON_ENTERPRISE_IDS: 'globex' } },
  { name: 'switched off with ENT_acme_SUBSCRIPTION_ENABLED=false', env: { ENT_acme_SUBSCRIPTION_ENABLED: 'false' } },
]) {
  describe(`daemon: an enterprise ${way.name}`, () => {
    let stack: Stack;
    let other: Daemon | undefined;
    before(async () => {
      stack = await startStack({ enterprises: ['acme', 'globex'] });
      await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
        what: 'acme subscribed',
        timeoutMs: 20_000,
      });
    });
    after(async () => {
      await other?.shutdown('test over');
      await stack.stop();
    });

    const restartWith = async (env: Record<string, string>) => {
      await (other ?? stack.daemon)?.shutdown('reconfigure');
      stack.daemon = undefined;
      other = await startDaemon(loadConfig({ ...stack.env, ...env }), {
        log: captureLogger([], 'error'),
        signals: testSignals(),
        exit: () => undefined,
        poolThreads: 1,
        enterpriseRefreshMs: 1000,
      });
      if (other === undefined) throw new Error('daemon did not start');
      return other;
    };

    it('delivers none of its waiting jobs while it is out, and each once when it is back', async () => {
      const due = Date.now() + 4000;
      const delayed: string[] = [];
      for (let i = 0; i < 5; i += 1)
        delayed.push(await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(due) }));
      await waitFor(async () => (await stack.pool.query('select 1')).rowCount === 1, { what: 'db' });
      await new Promise((r) => setTimeout(r, 500)); // the live path has queued the delayed jobs

      const without = await restartWith(way.env);
      await waitFor(() => without.report().enterprise_status?.['globex'] === 'subscribed', {
        what: 'globex subscribed',
        timeoutMs: 20_000,
      });
      assert.notEqual(without.report().enterprise_status?.['acme'], 'subscribed');
      await new Promise((r) => setTimeout(r, Math.max(0, due + 3000 - Date.now())));
      for (const id of delayed) {
        assert.equal((await rowById(stack.pool, id))['status'], 'pending', `row ${id} of an unserved enterprise`);
        assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${id}-1`).length, 0);
      }
      const globex = await insertRow(stack.pool, { enterprise_id: 'globex' });
      await waitFor(async () => (await rowById(stack.pool, globex))['status'] === 'sent', { what: 'globex served' });

      const back = await restartWith({});
      await waitFor(() => back.report().enterprise_status?.['acme'] === 'subscribed', {
        what: 'acme subscribed again',
        timeoutMs: 20_000,
      });
      for (const id of delayed) {
        await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
          what: `row ${id} sent once served`,
          timeoutMs: 30_000,
        });
        assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${id}-1`).length, 1);
      }
    });
  });
}
