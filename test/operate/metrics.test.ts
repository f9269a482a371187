// GET /metrics on the real daemon: Prometheus text with notifyd's series summed over its threads — deliveries by
// outcome and origin, failures by reason class, commit→sent latency, Novu calls, Realtime events from two realtime
// host threads, subscriptions by state and per enterprise (capped), queue depth, cron and sweep series at zero before
// anything happened, process metrics — and a per-enterprise cap that counts what it leaves out.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRow, rowById } from '../support/rows.js';
import { parseMetrics, valueOf, type Sample } from '../support/prom.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon: /metrics', () => {
  let stack: Stack;
  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(`${stack.daemon?.health.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseMetrics(await res.text());
  };
  before(async () => {
    stack = await startStack({
      enterprises: ['acme', 'globex', 'initech'],
      env: { DAEMON_REALTIME_HOSTS: '2', METRICS_ENTERPRISE_LIMIT: '2' },
    });
    await waitFor(
      () =>
        Object.values(stack.daemon?.report().enterprise_status ?? {}).filter((s) => s === 'subscribed').length === 3,
      { what: 'subscribed', timeoutMs: 20_000 },
    );
  });
  after(async () => {
    await stack.stop();
  });

  it('starts every series at zero and reports subscriptions, capped per enterprise', async () => {
    const m = await scrape();
    assert.equal(valueOf(m, 'notifyd_cron_fires_total', { outcome: 'missed' }), 0);
    assert.equal(valueOf(m, 'notifyd_sweep_repairs_total', { kind: 'missed' }), 0);
    assert.equal(valueOf(m, 'notifyd_deliveries_total', { outcome: 'failed', origin: 'scheduled' }), 0);
    assert.equal(valueOf(m, 'notifyd_subscriptions', { state: 'subscribed' }), 3);
    assert.equal(m.filter((s) => s.name === 'notifyd_enterprise_subscribed').length, 2, 'METRICS_ENTERPRISE_LIMIT=2');
    assert.equal(valueOf(m, 'notifyd_enterprise_series_omitted'), 1);
    assert.equal(valueOf(m, 'notifyd_health_status', { status: 'healthy' }), 1);
    assert.equal(valueOf(m, 'notifyd_info', { role: 'all' }), 1);
    assert.ok((valueOf(m, 'process_cpu_seconds_total') ?? 0) > 0);
    assert.ok((valueOf(m, 'process_resident_memory_bytes') ?? 0) > 0);
  });

  it('counts deliveries, failures, latency, Novu calls and Realtime events from every thread', async () => {
    const before = await scrape();
    const sentBefore = valueOf(before, 'notifyd_deliveries_total', { outcome: 'sent', origin: 'realtime' }) ?? 0;
    const ids = [];
    for (const e of ['acme', 'globex', 'initech']) ids.push(await insertRow(stack.pool, { enterprise_id: e }));
    const bad = await insertRow(stack.pool, { enterprise_id: 'acme', recipients: [] });
    const later = await insertRow(stack.pool, { enterprise_id: 'globex', scheduled_for: new Date(Date.now() + 1000) });
    for (const id of [...ids, later])
      await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', { what: `row ${id} sent` });
    await waitFor(async () => (await rowById(stack.pool, bad))['status'] === 'failed', { what: 'bad row failed' });
    const m = await scrape();
    assert.equal(
      (valueOf(m, 'notifyd_deliveries_total', { outcome: 'sent', origin: 'realtime' }) ?? 0) - sentBefore,
      3,
    );
    assert.ok((valueOf(m, 'notifyd_deliveries_total', { outcome: 'sent', origin: 'scheduled' }) ?? 0) >= 1);
    assert.ok((valueOf(m, 'notifyd_deliveries_total', { outcome: 'failed', origin: 'realtime' }) ?? 0) >= 1);
    assert.ok((valueOf(m, 'notifyd_delivery_failures_total', { reason: 'invalid_recipients' }) ?? 0) >= 1);
    assert.ok((valueOf(m, 'notifyd_delivery_latency_seconds_count', { origin: 'realtime' }) ?? 0) >= 3);
    // four triggers: singles, or the three realtime rows resumed by one claim together in one bulk request
    const novuCalls = (operation: string) =>
      valueOf(m, 'notifyd_novu_request_duration_seconds_count', { operation, status_class: '2xx' }) ?? 0;
    assert.ok(novuCalls('trigger') + novuCalls('trigger_bulk') >= 2);
    // the three enterprises live on two realtime threads: the sum covers both
    assert.ok((valueOf(m, 'notifyd_realtime_events_total', { type: 'INSERT' }) ?? 0) >= 5);
    assert.notEqual(valueOf(m, 'notifyd_queue_jobs', { queue: 'notifications', state: 'completed' }), undefined);
    const le = m.filter(
      (s) => s.name === 'notifyd_delivery_latency_seconds_bucket' && s.labels['origin'] === 'realtime',
    );
    assert.ok(le.some((s) => s.labels['le'] === '+Inf' && s.value >= 3));
  });

  it('shows the age of the oldest due pending row of the enterprises it delivers, not of a paused one', async () => {
    const backdate = async (id: string, seconds: number) => {
      await stack.pool.query('alter table notify.ent_notification disable trigger ent_notification_stamp');
      await stack.pool.query(
        `update notify.ent_notification set updated_at = now() - make_interval(secs => $2) where id = $1`,
        [id, seconds],
      );
      await stack.pool.query('alter table notify.ent_notification enable trigger ent_notification_stamp');
    };
    await stack.pool.query(`insert into notify.enterprise_pause (enterprise_id) values ('initech')`);
    await backdate(await insertRow(stack.pool, { enterprise_id: 'initech' }), 300); // waits by design: not late
    stack.novu.faults.failNext(1000, 500); // Novu down: acme's row stays pending, retried
    const late = await insertRow(stack.pool, { enterprise_id: 'acme' });
    await backdate(late, 90);
    try {
      const m = await waitFor(
        async () => {
          const s = await scrape();
          return (valueOf(s, 'notifyd_oldest_due_pending_seconds') ?? 0) >= 85 ? s : undefined;
        },
        { what: 'the late row reported', timeoutMs: 15_000 },
      );
      assert.ok(
        (valueOf(m, 'notifyd_oldest_due_pending_seconds') ?? 0) < 200,
        "the paused enterprise's row was counted",
      );
    } finally {
      stack.novu.faults.clear();
      await stack.pool.query(`delete from notify.enterprise_pause where enterprise_id = 'initech'`);
    }
    await waitFor(async () => (await rowById(stack.pool, late))['status'] === 'sent', {
      what: 'the late row sent once Novu is back',
      timeoutMs: 30_000,
    });
  });
});
