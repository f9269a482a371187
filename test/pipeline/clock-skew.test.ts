// One clock: the database's. The real daemon process runs with its clock 5 s ahead and then 5 s behind
// PostgreSQL's (libfaketime from Debian's packages): a scheduled row is still delivered at its time by the
// database's clock and its job is not re-run in a loop; an every-second cron rule fires on time with nothing
// recorded missed; the catch-up watermark never runs ahead of the database.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { DaemonProcess } from '../../src/devstack/daemon-process.js';
import { QUEUE_NAME, jobIdFor } from '../../src/queue/jobs.js';
import { startDaemonOnFreePort } from '../support/daemon-on-port.js';
import { insertRow } from '../support/rows.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/** libfaketime's multi-threaded build, preloaded into the daemon itself (so signals reach node, not a wrapper). */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

const dbNow = async (stack: Stack) =>
  (await stack.pool.query<{ ms: number }>('select (extract(epoch from clock_timestamp()) * 1000)::float8 as ms'))
    .rows[0]?.ms as number;

for (const skew of ['+5s', '-5s']) {
  describe(`daemon with its clock ${skew} off the database's`, () => {
    let stack: Stack;
    let daemon: DaemonProcess;
    let queue: Queue;
    let redis: Redis;
    let health: string;
    before(async () => {
      assert.ok(existsSync(LIBFAKETIME), `this test needs libfaketime (${LIBFAKETIME}): apt-get install libfaketime`);
      stack = await startStack({
        enterprises: ['acme'],
        startDaemon: false,
        env: { CRON_MISFIRE_GRACE_MS: '1500', CRON_SYNC_INTERVAL_MS: '500', DAEMON_LOG_LEVEL: 'warn' },
      });
      const started = await startDaemonOnFreePort({ ...stack.env, LD_PRELOAD: LIBFAKETIME, FAKETIME: skew });
      daemon = started.proc;
      health = `http://127.0.0.1:${started.port}/health`;
      await waitFor(
        async () => {
          const r = await fetch(health)
            .then((res) => res.json() as Promise<{ enterprise_status: Record<string, string> }>)
            .catch(() => undefined);
          return r?.enterprise_status?.['acme'] === 'subscribed';
        },
        { what: 'acme subscribed', timeoutMs: 30_000 },
      );
      redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
      queue = new Queue(QUEUE_NAME, { connection: redis, prefix: stack.prefix });
    });
    after(async () => {
      daemon.signal('SIGTERM');
      await daemon.exited;
      await queue.close();
      redis.disconnect();
      await stack.stop();
    });

    it('delivers a scheduled row at its time on the database clock, running its job only a few times', async () => {
      const due = (await dbNow(stack)) + 3000;
      const id = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(due) });
      const delivery = await waitFor(() => stack.novu.deliveriesFor(`notifyd-acme-${id}-1`)[0], {
        what: 'delivery',
        timeoutMs: 20_000,
        intervalMs: 10,
      });
      // the stand-in's clock is this machine's, which is the database's (same host)
      assert.ok(delivery.acceptedAt >= due, `delivered ${due - delivery.acceptedAt} ms early`);
      assert.ok(delivery.acceptedAt <= due + 1500, `delivered ${delivery.acceptedAt - due} ms late`);
      const job = await waitFor(
        async () => {
          const j = await queue.getJob(jobIdFor(id, '1'));
          return j !== undefined && (await j.isCompleted()) ? j : undefined;
        },
        { what: 'job completed' },
      );
      assert.ok(job.attemptsStarted <= 3, `the job ran ${job.attemptsStarted} times`);
    });

    it('fires an every-second rule on time, with no fire recorded as missed', async () => {
      const rule = (
        await stack.pool.query<{
          id: string;
        }>(`insert into notify.notification_rule (enterprise_id, cron, workflow_id, recipients)
        values ('acme', '* * * * * *', 'digest', '{rule-user}') returning id::text`)
      ).rows[0]?.id as string;
      await waitFor(
        async () =>
          (await stack.pool.query('select 1 from notify.rule_fire where rule_id = $1', [rule])).rowCount! >= 6,
        { what: '6 fires', timeoutMs: 20_000 },
      );
      await stack.pool.query('update notify.notification_rule set enabled = false where id = $1', [rule]);
      const fires = (
        await stack.pool.query<{ outcome: string; lateness: number }>(
          `select f.outcome, (extract(epoch from f.recorded_at - f.fire_at) * 1000)::float8 as lateness
           from notify.rule_fire f where f.rule_id = $1 order by f.fire_at`,
          [rule],
        )
      ).rows;
      assert.ok(
        fires.every((f) => f.outcome === 'fired'),
        JSON.stringify(fires),
      );
      for (const f of fires) {
        assert.ok(f.lateness >= -10, `a fire was recorded ${-f.lateness} ms before its time`);
        assert.ok(f.lateness <= 1500, `a fire was recorded ${f.lateness} ms after its time`);
      }
    });

    it('keeps the catch-up watermark on the database clock', async () => {
      await waitFor(
        async () =>
          (await stack.pool.query(`select 1 from notify.subscription_watermark where enterprise_id = 'acme'`))
            .rowCount === 1,
        { what: 'watermark' },
      );
      await new Promise((r) => setTimeout(r, 1500)); // a health tick or two advance it
      const ahead = (
        await stack.pool.query<{ ms: number }>(
          `select (extract(epoch from watermark - clock_timestamp()) * 1000)::float8 as ms
             from notify.subscription_watermark where enterprise_id = 'acme'`,
        )
      ).rows[0]?.ms as number;
      assert.ok(ahead <= 0, `the watermark is ${ahead} ms ahead of the database`);
    });
  });
}
