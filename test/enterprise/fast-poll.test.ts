// The fast poll as its own sign (actors/enterprise/fast-poll.ts): rows it finds that the live path has not brought
// `lateMs` later keep the fallback going past its hold (Realtime is still skipping); rows the live path brings
// do not, and the hold runs out.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { RealtimeFallback } from '../../actors/enterprise/fast-poll.js';
import type { RowRef } from '../../src/db/schedule-sql.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertMany } from '../support/rows.js';

describe('fast poll', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  function fallback(enterpriseId: string, enqueued: RowRef[], changes: (string | undefined)[]) {
    return new RealtimeFallback({
      db: db.pool,
      enterpriseId,
      intervalMs: 50,
      holdMs: 1500,
      lateMs: 500,
      enqueue: async (rows) => {
        enqueued.push(...rows);
      },
      onError: (err) => assert.fail(String(err)),
      onChange: (r) => changes.push(r),
    });
  }

  /** Inserts a row every 150 ms for `ms`; `live` hears each as the live path would, or not at all. */
  async function trickle(enterpriseId: string, ms: number, live?: (id: string) => void): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const [id] = await insertMany(db.pool, enterpriseId, 1);
      if (id !== undefined) live?.(id);
      await sleep(150);
    }
  }

  it('holds on past its hold while it keeps finding rows the live path never brought', async () => {
    const enqueued: RowRef[] = [];
    const changes: (string | undefined)[] = [];
    const f = fallback('p1', enqueued, changes);
    f.degrade('a test sign', Date.now() - 60_000);
    await trickle('p1', 3000);
    assert.ok(f.stats.missed >= 10, `${f.stats.missed} rows judged missed`);
    assert.equal(f.reason, 'a test sign', 'still polling 3 s after the only outside sign (hold 1.5 s)');
    assert.deepEqual(changes, ['a test sign'], 'one switch: the poll renews the hold, it does not re-announce');
    await f.stop();
  });

  it('lets the hold run out when the live path brings what the poll finds', async () => {
    const enqueued: RowRef[] = [];
    const changes: (string | undefined)[] = [];
    const f = fallback('p2', enqueued, changes);
    f.degrade('a test sign', Date.now() - 60_000);
    await trickle('p2', 3000, (id) => f.noteLive(id, 1));
    assert.ok(enqueued.length > 0, 'the poll did read the rows');
    assert.equal(f.stats.missed, 0, 'every row came live');
    assert.equal(f.reason, undefined, 'the hold ran out: the live path serves alone again');
    assert.deepEqual(changes, ['a test sign', undefined]);
    await f.stop();
  });
});
