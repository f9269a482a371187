// Fenced leases in Redis (src/ownership/leases.ts): one holder at a time, renewals keep the token, a lease that ran
// out goes to the next taker with a larger token, release touches only the holder's own, and tokens keep growing
// after Redis lost the table.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { after, describe, it } from 'node:test';
import { LeaseTable } from '../../src/ownership/leases.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_REDIS_URL } from '../support/services.js';

describe('lease table', () => {
  const prefix = uniquePrefix('ntf-leases');
  const redis = new Redis(TEST_REDIS_URL);
  const table = new LeaseTable(redis, prefix, 'owners');
  after(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });

  it('gives a free name to the first holder; the second is told who holds it; renewing keeps the token', async () => {
    const a = await table.hold('host-a', ['e1', 'e2'], 5000);
    const t1 = a.get('e1');
    assert.ok(t1?.held === true && t1.token > 0);
    const b = await table.hold('host-b', ['e1'], 5000);
    assert.deepEqual(b.get('e1'), { held: false, holder: 'host-a' });
    const again = await table.hold('host-a', ['e1'], 5000);
    assert.deepEqual(again.get('e1'), t1, 'a renewal keeps the token');
    const listed = await table.list();
    assert.deepEqual(
      listed.map((l) => [l.name, l.holder]),
      [
        ['e1', 'host-a'],
        ['e2', 'host-a'],
      ],
    );
    assert.ok(listed.every((l) => l.expiresInMs > 0 && l.expiresInMs <= 5000));
  });

  it('hands a lapsed lease to the next taker with a larger token; the old holder cannot renew it', async () => {
    const first = (await table.hold('host-a', ['short'], 200)).get('short');
    assert.ok(first?.held === true);
    await sleep(300);
    const taken = (await table.hold('host-b', ['short'], 5000)).get('short');
    assert.ok(taken?.held === true && taken.token > first.token, JSON.stringify({ first, taken }));
    assert.deepEqual((await table.hold('host-a', ['short'], 5000)).get('short'), { held: false, holder: 'host-b' });
  });

  it('releases only what the caller holds', async () => {
    await table.hold('host-a', ['r1'], 5000);
    await table.hold('host-b', ['r2'], 5000);
    assert.equal(await table.release('host-a', ['r1', 'r2']), 1);
    const names = (await table.list()).map((l) => l.name);
    assert.ok(!names.includes('r1') && names.includes('r2'));
  });

  it('keeps handing out larger tokens after Redis lost the table and its counter', async () => {
    const before = (await table.hold('host-a', ['lost'], 5000)).get('lost');
    assert.ok(before?.held === true);
    await redis.del(`${prefix}:owners`, `${prefix}:owners:fence`);
    const after = (await table.hold('host-c', ['lost'], 5000)).get('lost');
    assert.ok(after?.held === true && after.token > before.token, JSON.stringify({ before, after }));
  });

  it('refuses a holder id with the separator it stores', async () => {
    await assert.rejects(table.hold('bad|id', ['x'], 1000), /may not contain/);
  });
});
