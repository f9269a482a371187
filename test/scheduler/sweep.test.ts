// The sweep on real PostgreSQL and Redis: it enqueues due pending rows that have no live job (missed, or whose job
// finished while the row stayed pending: a dead worker's lease), replaces a finished job only while the row is still
// pending at the same version, stays out of rows that are not due or belong to enterprises it does not serve, and
// passes rows whose schedule PostgreSQL holds but no JavaScript Date can (they are enqueued, to be failed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ensureJob, sweep, type SweepDeps } from '../../actors/scheduler/sweep.js';
import { rowRef } from '../../src/db/notifications.js';
import { QUEUE_NAME, jobIdFor } from '../../src/queue/jobs.js';
import { NotificationProducer } from '../../src/queue/producer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { insertRow, setDelivery } from '../support/rows.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { waitFor } from '../support/wait.js';

describe('sweep', () => {
  let db: TestDatabase;
  let prefix: string;
  let producer: NotificationProducer;
  let deps: SweepDeps;
  before(async () => {
    db = await createTestDatabase();
    prefix = uniquePrefix();
    producer = await NotificationProducer.connect({ redisUrl: TEST_REDIS_URL, prefix, attempts: 1 });
    deps = {
      db: db.pool,
      producer,
      priorities: () => ({ realtime: 10, scheduled: 5, cron: 1 }),
      batchSize: 100,
      graceMs: 0,
      scope: { enterpriseIds: ['e1'] },
    };
  });
  after(async () => {
    await producer.close();
    await deletePrefix(prefix);
    await db.drop();
  });

  it('enqueues due pending rows without a live job, and nothing else', async () => {
    const due = await insertRow(db.pool, { enterprise_id: 'e1' });
    const later = await insertRow(db.pool, { enterprise_id: 'e1', scheduled_for: new Date(Date.now() + 3_600_000) });
    const foreign = await insertRow(db.pool, { enterprise_id: 'e2' });
    const stuck = await insertRow(db.pool, { enterprise_id: 'e1' });
    // its worker died
    await setDelivery(db.pool, stuck, { attempts: 1, leaseOwner: 'job:gone', leaseExpiresInSeconds: -1 });
    const result = await sweep(deps);
    assert.deepEqual(
      { missed: result.missed, repaired: result.repaired, errors: result.errors },
      { missed: 2, repaired: 0, errors: 0 },
    );
    for (const id of [due, stuck]) assert.equal(await producer.queue.getJobState(jobIdFor(id, '1')), 'prioritized');
    for (const id of [later, foreign]) assert.equal(await producer.queue.getJobState(jobIdFor(id, '1')), 'unknown');
    const again = await sweep(deps);
    assert.equal(again.missed + again.repaired, 0, 'a second sweep finds the jobs present');
  });

  it(
    'passes rows whose scheduled_for no JavaScript Date holds, ' + 'enqueueing them to be failed, and goes on',
    async () => {
      await db.pool.query(
        'alter table notify.ent_notification drop constraint if exists ent_notification_scheduled_for_check',
      );
      const bad: string[] = [];
      for (const v of ['-infinity', 'infinity', '200000-01-01 00:00:00+00']) {
        bad.push(
          (
            await db.pool.query<{ id: string }>(
              `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, scheduled_for)
        values ('e1', 'welcome', '{u1}', $1::timestamptz) returning id::text`,
              [v],
            )
          ).rows[0]?.id as string,
        );
      }
      const after = await insertRow(db.pool, { enterprise_id: 'e1' });
      const result = await sweep({ ...deps, batchSize: 2, maxPages: 10, cursor: { afterId: '0' } });
      assert.equal(result.errors, 0);
      assert.ok(result.complete, 'the pass reached the end');
      for (const id of [...bad, after]) {
        const job = await producer.queue.getJob(jobIdFor(id, '1'));
        assert.ok(job, `row ${id} has a job`);
        assert.equal(job.opts.delay ?? 0, 0, 'an unschedulable row is enqueued to run now (and be failed)');
      }
    },
  );

  it('replaces a finished job only while the row is still pending at the version it read', async () => {
    const stale = await insertRow(db.pool, { enterprise_id: 'e1' });
    const racing = await insertRow(db.pool, { enterprise_id: 'e1' });
    for (const id of [stale, racing])
      await producer.enqueue({
        enterpriseId: 'e1',
        notificationId: id,
        version: '1',
        action: 'deliver',
        origin: 'realtime',
        priority: 10,
        delayMs: 0,
      });
    // a worker that completes jobs without touching the rows: as if a job had run while its row was not yet due
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker(QUEUE_NAME, async () => 'noop', { connection, prefix });
    try {
      await waitFor(
        async () =>
          (await producer.queue.getJobState(jobIdFor(racing, '1'))) === 'completed' &&
          (await producer.queue.getJobState(jobIdFor(stale, '1'))) === 'completed',
        { what: 'jobs completed' },
      );
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const racingRow = await rowRef(db.pool, racing);
    assert.ok(racingRow);
    // the row was read as pending, then got sent before the check: its finished job must stay
    await db.pool.query(`update notify.ent_notification set status = 'sent', writer = 'notifyd!' where id = $1`, [
      racing,
    ]);
    assert.equal(await ensureJob(deps, racingRow), 'present');
    assert.equal(await producer.queue.getJobState(jobIdFor(racing, '1')), 'completed');
    const staleRow = await rowRef(db.pool, stale);
    assert.ok(staleRow);
    assert.equal(await ensureJob(deps, staleRow), 'repaired');
    assert.equal(await producer.queue.getJobState(jobIdFor(stale, '1')), 'prioritized');
  });

  it('leaves a row whose lease ran out while its job still waits in the queue to that job', async () => {
    const id = await insertRow(db.pool, { enterprise_id: 'e3' });
    const jobId = await producer.enqueue({
      enterpriseId: 'e3',
      notificationId: id,
      version: '1',
      action: 'deliver',
      origin: 'realtime',
      priority: 10,
      delayMs: 60_000,
    });
    await setDelivery(db.pool, id, { attempts: 1, leaseOwner: `job:${jobId}`, leaseExpiresInSeconds: -1 });
    const result = await sweep({ ...deps, scope: { enterpriseIds: ['e3'] } });
    assert.equal(result.scanned, 1);
    assert.equal(result.missed + result.repaired, 0);
    assert.equal(await producer.queue.getJobState(jobId), 'delayed');
  });

  it('pages past a backlog of rows that already have jobs to find the one that has none', async () => {
    const withJobs: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const id = await insertRow(db.pool, { enterprise_id: 'e1' });
      await producer.enqueue({
        enterpriseId: 'e1',
        notificationId: id,
        version: '1',
        action: 'deliver',
        origin: 'realtime',
        priority: 10,
        delayMs: 60_000,
      });
      withJobs.push(id);
    }
    const missed = await insertRow(db.pool, { enterprise_id: 'e1' });
    const cursor = { afterId: '0' };
    const result = await sweep({ ...deps, batchSize: 2, maxPages: 10, cursor });
    assert.ok(result.missed >= 1);
    assert.equal(await producer.queue.getJobState(jobIdFor(missed, '1')), 'prioritized');
    assert.equal(cursor.afterId, '0', 'a complete pass starts over next time');
  });
});
