// The intake members (src/ownership/members.ts): every live host with what it wants, a host that stops renewing
// drops out after its TTL, one that leaves drops out at once, and a wants list Redis lost is written again.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { after, describe, it } from 'node:test';
import { IntakeMembers } from '../../src/ownership/members.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_REDIS_URL } from '../support/services.js';

describe('intake members', () => {
  const prefix = uniquePrefix('ntf-members');
  const redis = new Redis(TEST_REDIS_URL);
  after(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });
  const asMap = (ms: { hostId: string; wants: ReadonlySet<string> }[]) =>
    Object.fromEntries(ms.map((m) => [m.hostId, [...m.wants].sort()]));

  it('lists live hosts with what they want; a silent one drops out after its TTL, a leaving one at once', async () => {
    const a = new IntakeMembers(redis, prefix);
    const b = new IntakeMembers(redis, prefix);
    await a.renew('a', ['e2', 'e1'], 5000);
    assert.deepEqual(asMap(await b.renew('b', ['e3'], 300)), { a: ['e1', 'e2'], b: ['e3'] });
    await sleep(400);
    assert.deepEqual(asMap(await a.renew('a', ['e1', 'e2'], 5000)), { a: ['e1', 'e2'] }, 'b expired');
    await b.renew('b', ['e3'], 5000);
    await b.leave('b');
    assert.deepEqual(asMap(await a.renew('a', ['e1', 'e2'], 5000)), { a: ['e1', 'e2'] }, 'b left');
  });

  it('sees a changed wants list, and writes its own again when Redis lost it', async () => {
    const a = new IntakeMembers(redis, prefix);
    const b = new IntakeMembers(redis, prefix);
    await a.renew('a2', ['x1'], 5000);
    assert.deepEqual(asMap(await b.renew('b2', [], 5000))['a2'], ['x1']);
    await a.renew('a2', ['x1', 'x2'], 5000);
    assert.deepEqual(asMap(await b.renew('b2', [], 5000))['a2'], ['x1', 'x2'], 'the new list is read');
    await redis.del(`${prefix}:intake:wants`);
    await a.renew('a2', ['x1', 'x2'], 5000); // unchanged digest, but the list is gone: written again
    const fresh = new IntakeMembers(redis, prefix);
    assert.deepEqual(asMap(await fresh.renew('c2', [], 5000))['a2'], ['x1', 'x2']);
  });
});
