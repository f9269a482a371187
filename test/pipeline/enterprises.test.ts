// Enterprises served from notify.enterprise (DAEMON_ENTERPRISE_IDS unset): one added at run time gets an actor and
// its rows are delivered; one disabled at run time stops at once — its queued and delayed jobs, its cron rule's
// fires, its new rows: nothing more of it is delivered, its rows stay pending — and once enabled again its pending
// rows are delivered, each once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon: enterprises added, disabled and enabled again at run time', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      enterprises: [],
      tenants: ['acme', 'globex'],
      enterpriseRows: [{ id: 'acme' }],
      env: { CRON_SYNC_INTERVAL_MS: '500' },
    });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'acme subscribed',
      timeoutMs: 20_000,
    });
  });
  after(async () => {
    await stack.stop();
  });

  const acmeDeliveries = () => stack.novu.deliveries().filter((d) => d.tenantId === 'acme').length;

  it('starts an actor for a new enterprise row', async () => {
    await stack.pool.query(`insert into notify.enterprise (id) values ('globex')`);
    await waitFor(() => stack.daemon?.report().enterprise_status?.['globex'] === 'subscribed', {
      what: 'globex subscribed',
      timeoutMs: 20_000,
    });
    const id = await insertRow(stack.pool, { enterprise_id: 'globex' });
    await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', { what: 'globex row sent' });
    assert.equal(stack.novu.deliveriesFor(`notifyd-globex-${id}-1`)[0]?.tenantId, 'globex');
  });

  it(
    'delivers nothing more of a disabled enterprise — queued, delayed, cron or new — ' +
      'and everything once it is back',
    async () => {
      const rule = (
        await stack.pool.query<{
          id: string;
        }>(`insert into notify.notification_rule (enterprise_id, cron, workflow_id, recipients)
      values ('acme', '* * * * * *', 'digest', '{rule-user}') returning id::text`)
      ).rows[0]?.id as string;
      await waitFor(
        async () =>
          (
            await stack.pool.query(`select 1 from notify.ent_notification where rule_id = $1 and status = 'sent'`, [
              rule,
            ])
          ).rowCount! >= 2,
        { what: 'the rule delivering', timeoutMs: 20_000 },
      );
      const delayed = [];
      for (let i = 0; i < 5; i += 1)
        delayed.push(
          await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 3000) }),
        );

      await stack.pool.query(`update notify.enterprise set enabled = false where id = 'acme'`);
      const disabledAt = Date.now();
      await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'disabled', {
        what: 'acme shown disabled',
        timeoutMs: 20_000,
      });
      assert.equal(
        stack.daemon?.report().actors.some((a) => a.id === 'enterprise:acme'),
        false,
      );
      const fresh = await insertRow(stack.pool, { enterprise_id: 'acme' });
      // give in-flight work a second to finish, then nothing of acme may be delivered past the delayed rows' time
      await new Promise((r) => setTimeout(r, 1000));
      const settledCount = acmeDeliveries();
      await new Promise((r) => setTimeout(r, Math.max(0, disabledAt + 6000 - Date.now())));
      assert.equal(acmeDeliveries(), settledCount, 'deliveries of a disabled enterprise went on');
      for (const id of [...delayed, fresh])
        assert.equal((await rowById(stack.pool, id))['status'], 'pending', `row ${id}`);
      const lateFires = await stack.pool.query(
        `select count(*)::int as n from notify.ent_notification where rule_id = $1 and created_at > $2`,
        [rule, new Date(disabledAt + 500)],
      );
      assert.equal(lateFires.rows[0].n, 0, 'the rule of a disabled enterprise fired');

      const globex = await insertRow(stack.pool, { enterprise_id: 'globex' });
      await waitFor(async () => (await rowById(stack.pool, globex))['status'] === 'sent', {
        what: 'globex unaffected',
      });

      await stack.pool.query(`update notify.notification_rule set enabled = false where id = $1`, [rule]);
      await stack.pool.query(`update notify.enterprise set enabled = true where id = 'acme'`);
      for (const id of [...delayed, fresh]) {
        await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
          what: `acme row ${id} sent after re-enabling`,
          timeoutMs: 30_000,
        });
        assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${id}-1`).length, 1);
      }
    },
  );
});
