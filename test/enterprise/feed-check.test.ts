// The live feed's check (actors/enterprise/feed-check.ts) against a real PostgreSQL, with the live path's events
// played by the test: rows whose events come raise no sign however long they stay pending; rows whose events never
// come are reported after two looks, page after page, with when the oldest changed; an event that comes between the
// looks clears its row; rows changed before the subscription went live are the catch-up's and never judged. Checks
// are run by hand (tick), so nothing depends on how fast a loaded machine decodes the WAL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveFeedCheck } from '../../actors/enterprise/feed-check.js';
import { DbClock } from '../../src/db/clock.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertMany } from '../support/rows.js';

const LATE_MS = 200;

describe('live feed check', () => {
  let db: TestDatabase;
  let clock: DbClock;
  before(async () => {
    db = await createTestDatabase();
    clock = new DbClock(db.pool);
    await clock.start();
  });
  after(async () => {
    clock.stop();
    await db.drop();
  });

  /** A check watching one enterprise from `from` (db-clock ms), and what it reported. */
  function watching(enterprise: string, from: () => number | undefined, pageSize?: number) {
    const check = new LiveFeedCheck({
      db: db.pool,
      clock,
      intervalMs: 3_600_000,
      lateMs: LATE_MS,
      onError: () => {},
      ...(pageSize === undefined ? {} : { pageSize }),
    });
    const missed: number[] = [];
    const since: number[] = [];
    const unwatch = check.watch(enterprise, {
      judgedFrom: from,
      missed: (n, sinceMs) => {
        missed.push(n);
        since.push(sinceMs);
      },
    });
    return { check, missed, since, unwatch };
  }
  /** Checks every 100 ms for `ms`: rows become old enough to read, then to judge. */
  async function checksFor(check: LiveFeedCheck, ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 100) {
      await check.tick();
      await sleep(100);
    }
  }
  const versionOf = async (id: string) =>
    (await db.pool.query<{ v: string }>('select version::text as v from notify.ent_notification where id = $1', [id]))
      .rows[0]?.v;

  it('raises no sign for pending rows whose events came, however long they wait', async () => {
    const from = clock.now();
    await sleep(20);
    const { check, missed, unwatch } = watching('live', () => from);
    for (const id of await insertMany(db.pool, 'live', 20)) check.noteLive(id, await versionOf(id));
    await checksFor(check, 6 * LATE_MS);
    unwatch();
    assert.deepEqual(missed, []);
  });

  it('reports rows whose events never came, once each, after two looks', async () => {
    const from = clock.now();
    await sleep(20); // past the clock's sampling error: these rows are after the subscription went live
    const { check, missed, unwatch } = watching('skipped', () => from);
    await insertMany(db.pool, 'skipped', 7);
    await checksFor(check, 6 * LATE_MS);
    unwatch();
    assert.equal(
      missed.reduce((a, n) => a + n, 0),
      7,
    );
  });

  it('reads a burst larger than a page whole, and says when the oldest missed row changed', async () => {
    const from = clock.now();
    await sleep(20);
    // pages of 5, 23 rows written within the check's overlap: one page per check would read the first 5 again and
    // again
    const { check, missed, since, unwatch } = watching('burst', () => from, 5);
    await insertMany(db.pool, 'burst', 23);
    await checksFor(check, 6 * LATE_MS);
    unwatch();
    assert.equal(
      missed.reduce((a, n) => a + n, 0),
      23,
    );
    const { rows } = await db.pool.query<{ ms: number }>(
      `select (extract(epoch from min(updated_at)) * 1000)::float8 as ms from notify.ent_notification
        where enterprise_id = 'burst'`,
    );
    assert.equal(Math.min(...since), Math.floor(rows[0]?.ms ?? NaN));
  });

  it('clears a row whose event comes after the first look, within REALTIME_LATE_MS', async () => {
    const from = clock.now();
    await sleep(20);
    const { check, missed, unwatch } = watching('slow', () => from);
    const [id] = await insertMany(db.pool, 'slow', 1);
    await sleep(LATE_MS + 50); // old enough to be read
    await check.tick(); // the first look: no event yet
    check.noteLive(id, await versionOf(id as string)); // on its way, not lost
    await checksFor(check, 4 * LATE_MS);
    unwatch();
    assert.deepEqual(missed, []);
  });

  it('never judges rows changed before the subscription went live, nor while not watched', async () => {
    await insertMany(db.pool, 'late-join', 5);
    await sleep(50);
    const from = clock.now(); // subscribed after those five were written: they are the catch-up's
    const { check, missed, unwatch } = watching('late-join', () => from);
    await checksFor(check, 6 * LATE_MS);
    // an enterprise not judged meanwhile (polling already, or reconnecting): its rows are not held against it
    const paused = watching('paused', () => undefined);
    await insertMany(db.pool, 'paused', 3);
    await checksFor(paused.check, 6 * LATE_MS);
    unwatch();
    paused.unwatch();
    assert.deepEqual(missed, []);
    assert.deepEqual(paused.missed, []);
  });
});
