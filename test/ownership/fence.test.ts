// The watermark's fence (migration 0007, src/db/watermarks.ts): a write carrying an older fencing token than the
// last writer's changes nothing and says so; the current holder's writes go through.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { advanceWatermark, getWatermark, setWatermark } from '../../src/db/watermarks.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

describe('watermark fencing', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ migrate: true });
  });
  after(() => db.drop());

  it('refuses a stale holder’s write and keeps the newer holder’s watermark', async () => {
    assert.equal(await setWatermark(db.pool, 'acme', new Date('2026-01-01T00:00:00Z'), 100), true);
    assert.equal(await setWatermark(db.pool, 'acme', new Date('2026-01-02T00:00:00Z'), 200), true);
    assert.equal(await setWatermark(db.pool, 'acme', new Date('2026-01-03T00:00:00Z'), 100), false, 'stale token');
    assert.equal(await advanceWatermark(db.pool, 'acme', 0, 100), false, 'stale token');
    assert.equal(await advanceWatermark(db.pool, 'acme', 0, 0), false, 'no token after a fenced write');
    assert.equal((await getWatermark(db.pool, 'acme'))?.toISOString(), '2026-01-02T00:00:00.000Z');
    assert.equal(await advanceWatermark(db.pool, 'acme', 0, 200), true, 'the holder goes on');
    assert.ok(((await getWatermark(db.pool, 'acme'))?.getTime() ?? 0) > Date.parse('2026-06-01'));
  });
});
