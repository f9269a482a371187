// The Redis epoch (src/queue/epoch.ts) against a real Redis and PostgreSQL: a loss stays visible to every scheduler,
// including one that starts after it and creates the fresh marker, until a repair records the new epoch, and each
// sweep scope owes its own repair.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisEpoch } from '../../src/queue/epoch.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_REDIS_URL } from '../support/services.js';

describe('Redis epoch', () => {
  let db: TestDatabase;
  let redis: Redis;
  const prefixes: string[] = [];
  before(async () => {
    db = await createTestDatabase();
    redis = new Redis(TEST_REDIS_URL);
  });
  after(async () => {
    for (const p of prefixes) await deletePrefix(p);
    redis.disconnect();
    await db.drop();
  });
  const fresh = (): string => {
    const p = uniquePrefix('ntf-epoch');
    prefixes.push(p);
    return p;
  };

  it('records the first epoch, then finds the same one while Redis keeps its data', async () => {
    const prefix = fresh();
    const epoch = new RedisEpoch(redis, db.pool, prefix, 'sweep:a');
    const first = await epoch.check();
    assert.equal(first.kind, 'first');
    assert.deepEqual(await epoch.check(), { kind: 'same', epoch: first.epoch });
    // another host (or a restarted scheduler) with the same scope sees the same epoch
    const other = new RedisEpoch(redis, db.pool, prefix, 'sweep:a');
    assert.deepEqual(await other.check(), { kind: 'same', epoch: first.epoch });
  });

  it('a scheduler started after the loss, which creates the new marker, still finds the loss', async () => {
    const prefix = fresh();
    const before = await new RedisEpoch(redis, db.pool, prefix, 'sweep:a').check();
    await redis.del(`${prefix}:redis-epoch`); // a FLUSHALL, as far as this prefix is concerned
    const restarted = new RedisEpoch(redis, db.pool, prefix, 'sweep:a');
    const seen = await restarted.check();
    assert.equal(seen.kind, 'lost');
    assert.notEqual(seen.epoch, before.epoch);
    // a third one (the sweep leader, on another host) finds the same loss: the fresh marker did not hide it
    const leader = new RedisEpoch(redis, db.pool, prefix, 'sweep:a');
    assert.deepEqual(await leader.check(), { kind: 'lost', epoch: seen.epoch, recorded: before.epoch });
    await leader.reconciled(seen.epoch);
    assert.deepEqual(await restarted.check(), { kind: 'same', epoch: seen.epoch });
  });

  it('each sweep scope owes its own repair: one scope reconciling does not clear another', async () => {
    const prefix = fresh();
    const a = new RedisEpoch(redis, db.pool, prefix, 'sweep:a');
    const b = new RedisEpoch(redis, db.pool, prefix, 'sweep:b');
    await a.check();
    await b.check();
    await redis.del(`${prefix}:redis-epoch`);
    const lost = await a.check();
    assert.equal(lost.kind, 'lost');
    await a.reconciled(lost.epoch);
    assert.equal((await a.check()).kind, 'same');
    assert.equal((await b.check()).kind, 'lost');
  });
});
