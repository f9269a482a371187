// The cron path through a Redis outage: an every-second rule keeps its fires exactly once — no fire time twice,
// none lost — when Redis (append-only) is killed for 3 s under it and comes back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPrivateRedis, type PrivateRedis } from '../chaos/infra.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon: cron rules through a Redis outage', () => {
  let redis: PrivateRedis;
  let stack: Stack;
  before(async () => {
    redis = await startPrivateRedis({ appendfsync: 'always' });
    stack = await startStack({
      enterprises: ['acme'],
      env: { REDIS_URL: redis.url, CRON_SYNC_INTERVAL_MS: '300', CRON_MISFIRE_GRACE_MS: '30000' },
    });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
  });
  after(async () => {
    await stack.stop();
    await redis.stop();
  });

  it('fires every second once, before, during and after the outage, and delivers each fire once', async () => {
    const {
      rows: [rule],
    } = await stack.pool.query<{ id: string }>(
      `insert into notify.notification_rule (enterprise_id, cron, workflow_id, recipients)
       values ('acme', '* * * * * *', 'tick', '{u}') returning id::text`,
    );
    const fires = async () =>
      (
        await stack.pool.query<{ fire_at: Date; outcome: string }>(
          'select fire_at, outcome from notify.rule_fire where rule_id = $1 order by fire_at',
          [rule?.id],
        )
      ).rows;
    await waitFor(async () => (await fires()).length >= 2, { what: 'first fires', timeoutMs: 20_000 });
    await redis.restart(3000);
    const back = Date.now();
    await waitFor(async () => (await fires()).some((f) => f.fire_at.getTime() > back + 2000), {
      what: 'fires after the outage',
      timeoutMs: 30_000,
    });
    await stack.pool.query('update notify.notification_rule set enabled = false where id = $1', [rule?.id]);
    const all = await fires();
    const times = all.map((f) => f.fire_at.getTime());
    for (let i = 1; i < times.length; i += 1)
      assert.equal((times[i] as number) - (times[i - 1] as number), 1000, `gap or repeat before fire ${i}`);
    assert.ok(
      all.every((f) => f.outcome === 'fired'),
      JSON.stringify(all.map((f) => f.outcome)),
    );
    const rows = (
      await stack.pool.query<{ id: string }>('select id::text from notify.ent_notification where rule_id = $1', [
        rule?.id,
      ])
    ).rows;
    assert.equal(rows.length, all.length);
    for (const r of rows) {
      await waitFor(() => stack.novu.deliveriesFor(`notifyd-acme-${r.id}-1`).length === 1, {
        what: `fire row ${r.id} delivered`,
        timeoutMs: 30_000,
      });
    }
  });
});
