// The catch-up on real PostgreSQL: it pages by (updated_at, id) with the exact timestamp, so 2,000 rows of one
// enterprise written in one statement — many sharing a millisecond — are each read once, in a handful of pages,
// and the watermark moves to when the catch-up began on the database's clock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { catchUp } from '../../actors/enterprise/catchup.js';
import { getWatermark } from '../../src/db/watermarks.js';
import type { EnqueueRequest } from '../../src/queue/producer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertMany } from '../support/rows.js';

describe('catch-up', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('reads 2,000 rows inserted in one statement once each, in pages, and moves the watermark', async () => {
    const ids = await insertMany(db.pool, 'e1', 2000);
    const sameMs = await db.pool.query<{ n: number }>(
      `select max(c)::int as n
         from (select count(*) as c from notify.ent_notification group by date_trunc('milliseconds', updated_at)) x`,
    );
    // many rows share each millisecond: a cursor rounded to the millisecond re-reads (or, past a page, loops on) them
    assert.ok(
      (sameMs.rows[0]?.n ?? 0) > 20,
      `the test needs rows sharing a millisecond (had at most ${sameMs.rows[0]?.n})`,
    );
    const seen: EnqueueRequest[] = [];
    const producer = {
      enqueueMany: async (reqs: readonly EnqueueRequest[]) => {
        seen.push(...reqs);
      },
    };
    const before = (await db.pool.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]?.now as Date;
    const result = await catchUp({
      db: db.pool,
      producer,
      enterpriseId: 'e1',
      priorities: { realtime: 10, scheduled: 5, cron: 1 },
      overlapMs: 60_000,
    });
    assert.equal(result.enqueued, 2000);
    assert.equal(result.pages, 4 + 1);
    assert.deepEqual(new Set(seen.map((r) => r.notificationId)), new Set(ids));
    assert.equal(seen.length, 2000, 'no row read twice');
    const mark = await getWatermark(db.pool, 'e1');
    assert.ok(mark !== null && mark.getTime() >= before.getTime() - 1);
  });
});
