// Ownership between intake hosts (supervisor/ownership.ts), on a real Redis: a lone host owns everything; a second
// host that joins gets its share once the first hands it over; a host that stops renewing loses its enterprises to
// the others after the TTL, under larger tokens, and finds them gone when it renews again.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { ownerOf } from '../../src/ownership/placement.js';
import { Ownership } from '../../supervisor/ownership.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_REDIS_URL } from '../support/services.js';

const wanted = Array.from({ length: 30 }, (_, i) => `e${i + 1}`);
const log = createLogger({ level: 'silent' });

describe('ownership between intake hosts', () => {
  const prefix = uniquePrefix('ntf-ownership');
  const redis = new Redis(TEST_REDIS_URL);
  after(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });
  const host = (id: string) => new Ownership({ redis, prefix, hostId: id, log, ttlMs: 1000 });

  it('hands a joining host its share; takes a silent host’s enterprises after the TTL with larger tokens', async () => {
    const a = host('a');
    const b = host('b');
    const first = await a.tick(wanted);
    assert.equal(first.owned.size, 30, 'alone, a owns every enterprise');
    assert.deepEqual(first.handOver, []);

    // b joins: it is placed some enterprises, still held by a
    const join = await b.tick(wanted);
    const bShare = wanted.filter((e) => ownerOf(e, ['a', 'b']) === 'b');
    assert.ok(bShare.length > 5 && bShare.length < 25, `b's share is ${bShare.length}`);
    assert.equal(join.owned.size, 0);
    assert.deepEqual([...join.waiting.keys()].sort(), [...bShare].sort());
    assert.ok([...join.waiting.values()].every((h) => h === 'a'));

    // a sees b, keeps its own share and hands b's over; once released, b takes them
    const rebalance = await a.tick(wanted);
    assert.deepEqual([...rebalance.handOver].sort(), [...bShare].sort());
    assert.equal(rebalance.owned.size, 30 - bShare.length);
    await a.release(rebalance.handOver);
    const taken = await b.tick(wanted);
    assert.deepEqual([...taken.owned.keys()].sort(), [...bShare].sort());

    // a goes silent: after its TTL, b takes a's enterprises under new, larger tokens
    const aTokens = new Map(a.owned);
    await sleep(1200);
    assert.equal(a.valid, false, 'a can tell on its own clock that its leases lapsed');
    const takeover = await b.tick(wanted); // b still sees a as a member until a's entry expires
    const later = takeover.owned.size === 30 ? takeover : (await sleep(200), await b.tick(wanted));
    assert.equal(later.owned.size, 30, 'b owns everything once a is gone');
    for (const [e, t] of aTokens) assert.ok((later.owned.get(e) ?? 0) > t, `${e}: a larger token than a's`);

    // a wakes up: placement gives it its share back, but b holds them: nothing is a's until b hands them over
    const woke = await a.tick(wanted);
    assert.equal(woke.owned.size, 0, 'a owns nothing on waking');
    assert.ok(woke.waiting.size > 0 && [...woke.waiting.values()].every((h) => h === 'b'));
  });

  it('keeps its leases through a failed renewal until they would lapse, then owns nothing', async () => {
    const own = new Redis(TEST_REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await new Promise((r) => own.once('ready', r));
    const solo = new Ownership({ redis: own, prefix, hostId: 'solo', log, ttlMs: 1000 });
    assert.equal((await solo.tick(['x', 'y'])).owned.size, 2);
    own.disconnect(); // Redis unreachable from here on
    assert.equal((await solo.tick(['x', 'y'])).owned.size, 2, 'a failed renewal keeps what is still valid');
    await sleep(1100);
    assert.equal(solo.valid, false);
    assert.equal((await solo.tick(['x', 'y'])).owned.size, 0, 'lapsed: owns nothing');
    await own.connect();
    assert.equal((await solo.tick(['x', 'y'])).owned.size, 2, 'renewing works again: it takes them back');
    own.disconnect();
  });
});
