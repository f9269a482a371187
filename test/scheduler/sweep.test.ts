// The sweep on real PostgreSQL and Redis: it enqueues due pending rows that have no job and processing rows whose
// lease expired, replaces a finished job only while the row is still pending at the same version, stays out of
// rows that are not due or belong to enterprises it does not serve.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ensureJob, sweep, type SweepDeps } from '../../actors/scheduler/sweep.js';
import { getRow } from '../../src/db/notifications.js';
import { QUEUE_NAME, jobIdFor } from '../../src/queue/jobs.js';
import { NotificationProducer } from '../../src/queue/producer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { insertRow } from '../support/rows.js';
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
    deps = { db: db.pool, producer, priorities: () => ({ realtime: 10, scheduled: 5, cron: 1 }), batchSize: 100, graceMs: 0, scope: { enterpriseIds: ['e1'] } };
  });
  after(async () => {
    await producer.close();
    await deletePrefix(prefix);
    await db.drop();
  });

  it('enqueues due pending rows without a job and processing rows with an expired lease, and nothing else', async () => {
    const due = await insertRow(db.pool, { enterprise_id: 'e1' });
    const later = await insertRow(db.pool, { enterprise_id: 'e1', scheduled_for: new Date(Date.now() + 3_600_000) });
    const foreign = await insertRow(db.pool, { enterprise_id: 'e2' });
    const stuck = await insertRow(db.pool, { enterprise_id: 'e1' });
    await db.pool.query(`update notify.ent_notification set status = 'processing', lease_owner = 'job:gone', lease_expires_at = now() - interval '1 second', writer = 'notifyd!' where id = $1`, [stuck]);
    const result = await sweep(deps);
    assert.deepEqual({ missed: result.missed, expired: result.expired, repaired: result.repaired }, { missed: 1, expired: 1, repaired: 0 });
    assert.equal(await producer.queue.getJobState(jobIdFor(due, '1')), 'prioritized');
    const stuckRow = await getRow(db.pool, stuck);
    assert.equal(await producer.queue.getJobState(jobIdFor(stuck, stuckRow?.version ?? '')), 'prioritized');
    for (const id of [later, foreign]) assert.equal(await producer.queue.getJobState(jobIdFor(id, '1')), 'unknown');
    const again = await sweep(deps);
    assert.equal(again.missed + again.expired + again.repaired, 0, 'a second sweep finds the jobs present');
  });

  it('replaces a finished job only while the row is still pending at the version it read', async () => {
    const stale = await insertRow(db.pool, { enterprise_id: 'e1' });
    const racing = await insertRow(db.pool, { enterprise_id: 'e1' });
    for (const id of [stale, racing]) await producer.enqueue({ enterpriseId: 'e1', notificationId: id, version: '1', action: 'deliver', origin: 'realtime', priority: 10, delayMs: 0 });
    // a worker that completes jobs without touching the rows: as if a job had run while its row was not yet due
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker(QUEUE_NAME, async () => 'noop', { connection, prefix });
    try {
      await waitFor(async () => (await producer.queue.getJobState(jobIdFor(racing, '1'))) === 'completed' && (await producer.queue.getJobState(jobIdFor(stale, '1'))) === 'completed', { what: 'jobs completed' });
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const racingRow = await getRow(db.pool, racing);
    assert.ok(racingRow);
    // the row was read as pending, then got sent before the check: its finished job must stay
    await db.pool.query(`update notify.ent_notification set status = 'sent', writer = 'notifyd!' where id = $1`, [racing]);
    assert.equal(await ensureJob(deps, racingRow), 'present');
    assert.equal(await producer.queue.getJobState(jobIdFor(racing, '1')), 'completed');
    const staleRow = await getRow(db.pool, stale);
    assert.ok(staleRow);
    assert.equal(await ensureJob(deps, staleRow), 'repaired');
    assert.equal(await producer.queue.getJobState(jobIdFor(stale, '1')), 'prioritized');
  });

  it('leaves a row whose lease ran out while its job still waits in the queue to that job', async () => {
    const id = await insertRow(db.pool, { enterprise_id: 'e1' });
    const jobId = await producer.enqueue({ enterpriseId: 'e1', notificationId: id, version: '1', action: 'deliver', origin: 'realtime', priority: 10, delayMs: 60_000 });
    await db.pool.query(`update notify.ent_notification set status = 'processing', lease_owner = $2, lease_expires_at = now() - interval '1 second', writer = 'notifyd!' where id = $1`, [id, `job:${jobId}`]);
    await sweep(deps);
    const row = await getRow(db.pool, id);
    assert.equal(await producer.queue.getJobState(jobIdFor(id, row?.version ?? '')), 'unknown', 'a second job was enqueued');
    assert.equal(await producer.queue.getJobState(jobId), 'delayed');
  });

  it('pages past a backlog of rows that already have jobs to find the one that has none', async () => {
    const withJobs: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const id = await insertRow(db.pool, { enterprise_id: 'e1' });
      await producer.enqueue({ enterpriseId: 'e1', notificationId: id, version: '1', action: 'deliver', origin: 'realtime', priority: 10, delayMs: 60_000 });
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
