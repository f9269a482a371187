// Time through the whole daemon: a scheduled row is sent on time; an every-second rule fires once per second with
// no duplicates while two daemons share Redis and the database; after 5 s of downtime `catch_up` delivers each
// missed fire once and `skip` records them as missed; an invalid rule gets a reason and affects nothing else.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { startDaemon, testSignals, type Daemon } from '../../supervisor/daemon.js';
import { insertRow, rowById } from '../support/rows.js';
import { captureLogger, startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

async function addRule(
  db: pg.Pool,
  rule: { enterprise: string; cron: string; timezone?: string; policy?: string; workflow?: string },
): Promise<string> {
  const res = await db.query<{ id: string }>(
    `insert into notify.notification_rule
            (enterprise_id, name, cron, timezone, workflow_id, recipients, payload, missed_run_policy)
     values ($1, 'test rule', $2, $3, $4, '{rule-user}', '{"from":"rule"}', $5) returning id::text`,
    [rule.enterprise, rule.cron, rule.timezone ?? 'UTC', rule.workflow ?? 'digest', rule.policy ?? 'skip'],
  );
  return (res.rows[0] as { id: string }).id;
}

async function firesOf(
  db: pg.Pool,
  ruleId: string,
): Promise<{ fire_at: Date; outcome: string; notification_id: string | null }[]> {
  return (
    await db.query(
      'select fire_at, outcome, notification_id::text from notify.rule_fire where rule_id = $1 order by fire_at',
      [ruleId],
    )
  ).rows;
}

describe('daemon: scheduled notifications and cron rules', () => {
  let stack: Stack;
  before(async () => {
    // a generous grace: on a loaded machine a fire may run a second late, and it must still count as on time
    stack = await startStack({
      enterprises: ['acme'],
      env: { CRON_SYNC_INTERVAL_MS: '300', CRON_MISFIRE_GRACE_MS: '10000' },
    });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
  });
  after(async () => {
    await stack.stop();
  });

  it('delivers a row due in 2 s between 2 s and 2.5 s after it was inserted', async () => {
    const inserted = Date.now();
    const id = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(inserted + 2000) });
    const delivery = await waitFor(() => stack.novu.deliveriesFor(`notifyd-acme-${id}-1`)[0], {
      what: 'delivery',
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    const after = delivery.at - inserted;
    assert.ok(after >= 2000 && after <= 2500, `delivered ${after} ms after insert`);
    await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', { what: 'row sent' });
  });

  it('fires an every-second rule once per second, with no duplicates, while two daemons run', async () => {
    const second: Daemon | undefined = await startDaemon(stack.config, {
      log: captureLogger([], 'error'),
      signals: testSignals(),
      exit: () => undefined,
      poolThreads: 1,
    });
    try {
      const ruleId = await addRule(stack.pool, { enterprise: 'acme', cron: '* * * * * *' });
      await waitFor(async () => (await firesOf(stack.pool, ruleId)).length >= 6, {
        what: '6 fires',
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      await stack.pool.query('update notify.notification_rule set enabled = false where id = $1', [ruleId]);
      await new Promise((r) => setTimeout(r, 1500));
      const fires = await firesOf(stack.pool, ruleId);
      const times = fires.map((f) => f.fire_at.getTime());
      assert.equal(new Set(times).size, times.length);
      for (let i = 1; i < times.length; i += 1)
        assert.equal((times[i] as number) - (times[i - 1] as number), 1000, `gap before fire ${i}`);
      assert.ok(
        fires.every((f) => f.outcome === 'fired'),
        JSON.stringify(fires.map((f) => f.outcome)),
      );
      const rows = (
        await stack.pool.query<{ id: string; fire_at: Date }>(
          `select id::text, fire_at from notify.ent_notification where rule_id = $1`,
          [ruleId],
        )
      ).rows;
      assert.equal(rows.length, fires.length);
      for (const row of rows) {
        await waitFor(() => stack.novu.deliveriesFor(`notifyd-acme-${row.id}-1`).length === 1, {
          what: `fire ${row.fire_at.toISOString()} delivered`,
          timeoutMs: 10_000,
        });
      }
      await new Promise((r) => setTimeout(r, 500));
      for (const row of rows) assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${row.id}-1`).length, 1);
      const delivered = stack.novu
        .deliveries()
        .filter((d) => rows.some((r) => d.transactionId === `notifyd-acme-${r.id}-1`));
      assert.ok(delivered.every((d) => d.workflow === 'digest' && JSON.stringify(d.payload) === '{"from":"rule"}'));
    } finally {
      await second?.shutdown('test over');
    }
  });

  it('marks a rule with an invalid cron or time zone invalid with a reason, and keeps the others firing', async () => {
    const badCron = await addRule(stack.pool, { enterprise: 'acme', cron: '61 * * * *' });
    const badZone = await addRule(stack.pool, { enterprise: 'acme', cron: '* * * * * *', timezone: 'Europe/Atlantis' });
    const good = await addRule(stack.pool, { enterprise: 'acme', cron: '* * * * * *' });
    await waitFor(async () => (await firesOf(stack.pool, good)).length >= 2, {
      what: 'good rule fired',
      timeoutMs: 15_000,
    });
    const reasons = (
      await stack.pool.query<{ id: string; invalid_reason: string | null }>(
        'select id::text, invalid_reason from notify.notification_rule where id = any($1::bigint[]) order by id',
        [[badCron, badZone]],
      )
    ).rows;
    assert.match(reasons[0]?.invalid_reason ?? '', /invalid cron/);
    assert.match(reasons[1]?.invalid_reason ?? '', /invalid timezone: "Europe\/Atlantis"/);
    assert.equal((await firesOf(stack.pool, badCron)).length + (await firesOf(stack.pool, badZone)).length, 0);
    // fixing it makes it valid again
    await stack.pool.query(`update notify.notification_rule set timezone = 'Europe/Berlin' where id = $1`, [badZone]);
    await waitFor(async () => (await firesOf(stack.pool, badZone)).length >= 1, {
      what: 'fixed rule fired',
      timeoutMs: 15_000,
    });
    const fixed = (
      await stack.pool.query<{ invalid_reason: string | null }>(
        'select invalid_reason from notify.notification_rule where id = $1',
        [badZone],
      )
    ).rows[0];
    assert.equal(fixed?.invalid_reason, null);
    await stack.pool.query('update notify.notification_rule set enabled = false where id = any($1::bigint[])', [
      [good, badZone],
    ]);
  });
});

describe('daemon: missed cron fires across a downtime', () => {
  let stack: Stack;
  before(async () => {
    // a short grace, so that fires during a 5 s downtime count as missed
    stack = await startStack({
      enterprises: ['acme'],
      env: { CRON_SYNC_INTERVAL_MS: '300', CRON_MISFIRE_GRACE_MS: '1000' },
    });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
  });
  after(async () => {
    await stack.stop();
  });

  it('after 5 s of downtime, catch_up delivers each missed fire once and skip records them as missed', async () => {
    const catchUp = await addRule(stack.pool, { enterprise: 'acme', cron: '* * * * * *', policy: 'catch_up' });
    const skip = await addRule(stack.pool, { enterprise: 'acme', cron: '* * * * * *', policy: 'skip' });
    await waitFor(
      async () => (await firesOf(stack.pool, catchUp)).length >= 2 && (await firesOf(stack.pool, skip)).length >= 2,
      { what: 'both fired', timeoutMs: 20_000 },
    );
    await stack.daemon?.shutdown('downtime');
    const down = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    const up = Date.now();
    const daemon = await stack.start();
    await waitFor(() => daemon.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed again',
      timeoutMs: 20_000,
    });
    await new Promise((r) => setTimeout(r, 1500));
    await stack.pool.query('update notify.notification_rule set enabled = false where id = any($1::bigint[])', [
      [catchUp, skip],
    ]);
    // Fires while nothing ran: after the stop, and more than CRON_MISFIRE_GRACE_MS (1 s) before the restart — a fire
    // closer to the restart is still on time when the new daemon accounts for it, and is rightly `fired`.
    const grace = 1000;
    const inDowntime = (f: { fire_at: Date }) => f.fire_at.getTime() > down && f.fire_at.getTime() < up - grace;

    const cu = (await firesOf(stack.pool, catchUp)).filter(inDowntime);
    assert.ok(cu.length >= 3, `only ${cu.length} fires counted in the downtime`);
    assert.ok(
      cu.every((f) => f.outcome === 'caught_up'),
      JSON.stringify(cu.map((f) => f.outcome)),
    );
    for (const f of cu) {
      await waitFor(() => stack.novu.deliveriesFor(`notifyd-acme-${f.notification_id}-1`).length === 1, {
        what: `caught-up fire ${f.fire_at.toISOString()} delivered`,
        timeoutMs: 15_000,
      });
    }
    const all = await firesOf(stack.pool, catchUp);
    assert.equal(new Set(all.map((f) => f.fire_at.getTime())).size, all.length);

    const sk = (await firesOf(stack.pool, skip)).filter(inDowntime);
    assert.ok(sk.length >= 3);
    assert.ok(
      sk.every((f) => f.outcome === 'missed' && f.notification_id === null),
      JSON.stringify(sk),
    );
    const skipRows = await stack.pool.query(
      'select count(*)::int as n from notify.ent_notification where rule_id = $1 and fire_at > $2 and fire_at < $3',
      [skip, new Date(down), new Date(up - grace)],
    );
    assert.equal(skipRows.rows[0].n, 0);
  });
});
