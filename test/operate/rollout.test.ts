// Per-enterprise rollout and pause, through the whole daemon. ENT_<id>_MODE=observe: the enterprise is subscribed
// and caught up, what would be delivered is counted, and no row is claimed or changed (nor a cron rule fired);
// switched to deliver (a restart with ENT_<id>_MODE=deliver), its pending rows are delivered, once each. A pause
// (notify.enterprise_pause, as `notifyd pause` writes it) stops claiming at once and shows `paused` in /health; on
// resume the enterprise catches up and its waiting rows are delivered — by that catch-up, not by a sweep.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { startDaemon, testSignals, type Daemon } from '../../supervisor/daemon.js';
import { parseMetrics, valueOf } from '../support/prom.js';
import { insertRow, rowById } from '../support/rows.js';
import { captureLogger, startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const observed = async (url: string) =>
  valueOf(parseMetrics(await (await fetch(`${url}/metrics`)).text()), 'notifyd_deliveries_total', {
    outcome: 'observed',
  }) ?? 0;

describe('daemon: an enterprise in observe mode, then switched to deliver', () => {
  let stack: Stack;
  let switched: Daemon | undefined;
  before(async () => {
    stack = await startStack({
      enterprises: ['acme', 'globex'],
      env: { ENT_acme_MODE: 'observe', CRON_SYNC_INTERVAL_MS: '500' },
    });
    await waitFor(
      () =>
        stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed' &&
        stack.daemon.report().enterprise_status?.['globex'] === 'subscribed',
      { what: 'both subscribed', timeoutMs: 20_000 },
    );
  });
  after(async () => {
    await switched?.shutdown('test over');
    await stack.stop();
  });

  it('subscribes and counts what it would deliver, changing no row; then delivers every pending row once', async () => {
    const url = stack.daemon?.health.url as string;
    const before = await observed(url);
    const rows = [
      await insertRow(stack.pool, { enterprise_id: 'acme' }),
      await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 1000) }),
    ];
    const snapshot = async (id: string) =>
      (await stack.pool.query('select status, version, updated_at from notify.ent_notification where id = $1', [id]))
        .rows[0];
    const untouched = await Promise.all(rows.map(snapshot));
    await stack.pool.query(
      `insert into notify.notification_rule (enterprise_id, cron, workflow_id, recipients)
       values ('acme', '* * * * * *', 'digest', '{r}')`,
    );
    const globex = await insertRow(stack.pool, { enterprise_id: 'globex' });
    await waitFor(async () => (await rowById(stack.pool, globex))['status'] === 'sent', { what: 'globex delivered' });
    await waitFor(async () => (await observed(url)) >= before + 2, {
      what: 'both acme rows observed',
      timeoutMs: 10_000,
    });
    await new Promise((r) => setTimeout(r, 2500)); // sweeps and cron fires come and go
    assert.deepEqual(await Promise.all(rows.map(snapshot)), untouched, 'an observed row was changed');
    const claimed = await stack.pool.query(
      'select count(*)::int as n from notify.delivery d join notify.ent_notification n on n.id = d.notification_id ' +
        'where n.enterprise_id = $1',
      ['acme'],
    );
    assert.equal(claimed.rows[0].n, 0, 'an observed row was claimed');
    const fired = await stack.pool.query(
      `select count(*)::int as n from notify.ent_notification where enterprise_id = 'acme' and source = 'rule'`,
    );
    assert.equal(fired.rows[0].n, 0, 'a rule of an observed enterprise fired');
    assert.equal(stack.novu.deliveries().filter((d) => d.tenantId === 'acme').length, 0);
    await stack.pool.query(`update notify.notification_rule set enabled = false where enterprise_id = 'acme'`);

    await stack.daemon?.shutdown('switch acme to deliver');
    stack.daemon = undefined;
    switched = await startDaemon(loadConfig({ ...stack.env, ENT_acme_MODE: 'deliver' }), {
      log: captureLogger([], 'error'),
      signals: testSignals(),
      exit: () => undefined,
      poolThreads: 1,
      enterpriseRefreshMs: 1000,
    });
    for (const id of rows) {
      await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
        what: `acme row ${id} delivered after the switch`,
        timeoutMs: 20_000,
      });
      assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${id}-1`).length, 1);
    }
  });
});

describe('daemon: pausing and resuming an enterprise', () => {
  let stack: Stack;
  before(async () => {
    // no sweep to speak of: what is delivered after the resume is the resume's catch-up
    stack = await startStack({ enterprises: ['acme', 'globex'], env: { SWEEP_INTERVAL_MS: '3600000' } });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
  });
  after(async () => {
    await stack.stop();
  });

  it('holds its rows while paused, shows it in /health, and delivers them on resume', async () => {
    await stack.pool.query(
      `insert into notify.enterprise_pause (enterprise_id, paused_by, reason) values ('acme', 'test', 'maintenance')`,
    );
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'paused', {
      what: 'acme paused in /health',
      timeoutMs: 10_000,
    });
    const held = [
      await insertRow(stack.pool, { enterprise_id: 'acme' }),
      await insertRow(stack.pool, { enterprise_id: 'acme' }),
    ];
    const globex = await insertRow(stack.pool, { enterprise_id: 'globex' });
    await waitFor(async () => (await rowById(stack.pool, globex))['status'] === 'sent', { what: 'globex delivered' });
    await new Promise((r) => setTimeout(r, 1500));
    for (const id of held) {
      assert.equal((await rowById(stack.pool, id))['status'], 'pending');
      assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${id}-1`).length, 0);
    }
    await stack.pool.query(`delete from notify.enterprise_pause where enterprise_id = 'acme'`);
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'acme subscribed again',
      timeoutMs: 10_000,
    });
    for (const id of held) {
      await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
        what: `row ${id} delivered on resume`,
        timeoutMs: 15_000,
      });
      assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${id}-1`).length, 1);
    }
  });
});
