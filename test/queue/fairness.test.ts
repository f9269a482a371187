// Fair ranks (src/queue/fairness.ts) on a real Redis: each enterprise's jobs rank 1, 2, 3 … within a class, another
// enterprise starts at 1, finished jobs stop counting, a new job never ranks below an older one still waiting,
// forgotten ones expire; and the BullMQ priorities they make keep classes apart and interleave enterprises.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, describe, it } from 'node:test';
import { fairPriority, FairRanks, RANK_SPAN } from '../../src/queue/fairness.js';
import { classOf } from '../../src/queue/jobs.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_REDIS_URL } from '../support/services.js';

describe('fair ranks', () => {
  const prefix = uniquePrefix('ntf-fair');
  const redis = new Redis(TEST_REDIS_URL);
  const fair = new FairRanks(redis, prefix);
  after(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });
  const req = (enterpriseId: string, jobId: string, priority = 10) => ({ enterpriseId, jobId, priority, delayMs: 0 });

  it('ranks each enterprise’s outstanding jobs 1, 2, 3 … per class, independently of the others', async () => {
    const ranks = await fair.rank([
      req('noisy', 'n1'),
      req('noisy', 'n2'),
      req('noisy', 'n3'),
      req('quiet', 'q1'),
      req('noisy', 'c1', 1),
    ]);
    assert.deepEqual(ranks, [1, 2, 3, 1, 1]);
    assert.deepEqual(await fair.rank([req('noisy', 'n2')]), [RANK_SPAN - 1], 'a repeated add ranks last');
    await fair.done([{ enterpriseId: 'noisy', priority: 10, jobId: 'n1' }]);
    assert.deepEqual(await fair.rank([req('noisy', 'n4')]), [3], 'a finished job no longer counts');
  });

  it('never ranks a new job below an older one of its enterprise still waiting: its rows stay in order', async () => {
    const jobs = ['b1', 'b2', 'b3', 'b4', 'b5'];
    assert.deepEqual(await fair.rank(jobs.map((j) => req('busy', j))), [1, 2, 3, 4, 5]);
    await fair.done(['b1', 'b2', 'b3'].map((jobId) => ({ enterpriseId: 'busy', priority: 10, jobId })));
    // 3 outstanding now, but b5 waits with rank 5: b6 ranks with it (equal ranks go in queue order), not before it
    assert.deepEqual(await fair.rank([req('busy', 'b6')]), [5]);
    await fair.done(['b4', 'b5', 'b6'].map((jobId) => ({ enterpriseId: 'busy', priority: 10, jobId })));
    assert.deepEqual(await fair.rank([req('busy', 'b7')]), [1], 'once its backlog is gone it starts over');
  });

  it('keeps both keys of an enterprise and class alive until the latest job of a batch expires', async () => {
    const day = 24 * 3600_000;
    await fair.rank([{ ...req('later', 'l1'), delayMs: day }, req('later', 'l2')]);
    const key = fair.key('later', 10);
    for (const k of [key, `${key}:rank`]) {
      const pttl = await redis.pttl(k);
      assert.ok(pttl > day, `${k} expires in ${pttl} ms, before its delayed job is due`);
    }
  });

  it('forgets outstanding jobs whose expiry passed (a worker that died without saying so)', async () => {
    const key = fair.key('lost', 10);
    await redis.zadd(key, Date.now() - 1000, 'ghost-1', Date.now() - 1000, 'ghost-2');
    assert.deepEqual(await fair.rank([req('lost', 'new')]), [1]);
  });

  it('makes BullMQ priorities that keep classes apart and put each enterprise’s first job ahead of a backlog', () => {
    const realtime = 10;
    const cron = 1;
    assert.ok(fairPriority(realtime, RANK_SPAN * 10) < fairPriority(cron, 1), 'a whole class ranks before the next');
    assert.ok(fairPriority(realtime, 1) < fairPriority(realtime, 5000), 'a quiet enterprise ahead of a backlog');
    assert.equal(classOf(fairPriority(realtime, 777)), realtime);
    assert.equal(classOf(fairPriority(100, RANK_SPAN - 1)), 100);
  });
});
