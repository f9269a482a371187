// The producer: deterministic job ids make every path add a notification's job once (single or bulk), every job
// carries an explicit mapped priority and capped delay, and adds fail fast — in milliseconds, not minutes — while
// Redis is down, so the calling actor keeps the work and retries.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_DELAY_MS, jobIdFor, toBullPriority } from '../../src/queue/jobs.js';
import { NotificationProducer, type EnqueueRequest } from '../../src/queue/producer.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { waitFor } from '../support/wait.js';

const req = (id: string, extra: Partial<EnqueueRequest> = {}): EnqueueRequest => ({
  enterpriseId: 'e1',
  notificationId: id,
  version: '1',
  action: 'deliver',
  origin: 'realtime',
  priority: 10,
  delayMs: 0,
  ...extra,
});

describe('notification producer', () => {
  let prefix: string;
  let producer: NotificationProducer;
  before(async () => {
    prefix = uniquePrefix();
    producer = await NotificationProducer.connect({ redisUrl: TEST_REDIS_URL, prefix, attempts: 3 });
  });
  after(async () => {
    await producer.close();
    await producer.close();
    await deletePrefix(prefix);
  });

  it('adds each notification version once, whether one by one or in bulk', async () => {
    await producer.enqueueMany([req('1'), req('2'), req('1'), req('3', { origin: 'catchup' })]);
    await producer.enqueue(req('2', { origin: 'sweep' }));
    await producer.enqueueMany([req('3', { origin: 'sweep' }), req('4')]);
    const counts = await producer.queue.getJobCounts('prioritized', 'waiting', 'delayed');
    assert.equal((counts['prioritized'] ?? 0) + (counts['waiting'] ?? 0) + (counts['delayed'] ?? 0), 4);
    const job = await producer.queue.getJob(jobIdFor('3', '1'));
    assert.equal(job?.data.origin, 'catchup', 'the first add wins; later ones are duplicates');
  });

  it('gives every job an explicit priority (larger = more urgent) and caps delays at 24 h', async () => {
    assert.equal(toBullPriority(100), 1, 'the most urgent class, first rank');
    assert.equal(toBullPriority(10), 90 * 20_000 + 1);
    assert.equal(toBullPriority(1), 99 * 20_000 + 1);
    assert.ok(toBullPriority(1, 1e9) < 2_097_152, "BullMQ's highest priority is never exceeded");
    await producer.enqueue(req('10', { priority: 5, delayMs: 10 * 365 * 24 * 3600 * 1000 }));
    const job = await producer.queue.getJob(jobIdFor('10', '1'));
    assert.equal(job?.opts.priority, 95 * 20_000 + 1);
    assert.equal(job?.opts.delay, MAX_DELAY_MS);
  });

  it('fails fast while Redis is down and works again when it is back', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const dir = mkdtempSync(join(tmpdir(), 'ntf-redis-'));
    const startRedis = () =>
      spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: 'ignore' },
      );
    let redis = startRedis();
    const own = await waitFor(
      () =>
        NotificationProducer.connect({ redisUrl: `redis://127.0.0.1:${port}`, prefix: 'p', attempts: 1 }).catch(
          () => undefined,
        ),
      { what: 'private redis up' },
    );
    try {
      await own.enqueue(req('1'));
      redis.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await assert.rejects(
        own.enqueue(req('2')),
        (err: Error & { code?: string }) => err.code === 'NTF_ERR_QUEUE_UNAVAILABLE',
      );
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms to fail`);
      redis = startRedis();
      await waitFor(
        () =>
          own.enqueue(req('3')).then(
            () => true,
            () => false,
          ),
        { what: 'enqueue after Redis is back', timeoutMs: 15_000, intervalMs: 200 },
      );
    } finally {
      redis.kill('SIGKILL');
      await own.close(1000);
    }
  });
});
