// Large payloads under a pool thread's payload budget: the byte budget serves waiters in order and never holds more
// than its capacity; a claim carries small payloads inline and defers large ones; processNotification reads a
// deferred payload whole, and no more deferred payloads are held at once than the budget fits.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { claimMany, CLAIM_INLINE_PAYLOAD_BYTES, loadPayload } from '../../src/db/notifications.js';
import type { NovuTrigger } from '../../src/delivery/novu-bulk.js';
import type { TriggerRequest } from '../../src/delivery/novu-client.js';
import { ByteBudget, payloadBudgetFor } from '../../src/delivery/payload-budget.js';
import { processNotification, type ProcessDeps } from '../../src/delivery/process.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertRow, rowById } from '../support/rows.js';

/** A payload of about `bytes` of JSON that pglz cannot compress (random hex), so its stored size is about that. */
function bigPayload(bytes: number, n: number): Record<string, unknown> {
  return { n, blob: randomBytes(Math.ceil(bytes / 2)).toString('hex') };
}

describe('the byte budget', () => {
  it('grants in order of asking and never holds more than its capacity', async () => {
    const budget = new ByteBudget(100);
    const order: string[] = [];
    const a = await budget.acquire(60);
    const b = budget.acquire(60).then((r) => (order.push('b'), r));
    const c = budget.acquire(10).then((r) => (order.push('c'), r)); // fits now, but b asked first
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'nothing granted while the first 60 are held');
    assert.equal(budget.inUse, 60);
    a();
    a(); // giving back twice gives back once
    const [rb, rc] = await Promise.all([b, c]);
    assert.deepEqual(order, ['b', 'c']);
    assert.equal(budget.inUse, 70);
    rb();
    rc();
    assert.equal(budget.inUse, 0);
  });

  it('lets a payload larger than the whole budget go once it is alone', async () => {
    const budget = new ByteBudget(100);
    const small = await budget.acquire(30);
    let granted = false;
    const huge = budget.acquire(1000).then((r) => ((granted = true), r));
    await new Promise((r) => setImmediate(r));
    assert.equal(granted, false);
    small();
    (await huge)();
    assert.equal(granted, true);
    assert.equal(budget.inUse, 0);
  });

  it('is a 32nd of the thread heap, at least 1 MiB', () => {
    assert.equal(payloadBudgetFor(256), 8 * 1024 * 1024);
    assert.equal(payloadBudgetFor(16), 1024 * 1024);
  });
});

function jobFor(enterpriseId: string, notificationId: string) {
  return {
    enterpriseId,
    notificationId,
    version: '1',
    action: 'deliver' as const,
    origin: 'realtime' as const,
    enqueuedAt: Date.now(),
  };
}

/** A Novu that accepts every trigger, after `seen` has looked at it (and taken its time). */
function acceptingNovu(seen: (req: TriggerRequest) => Promise<void> | void = () => undefined): NovuTrigger {
  return {
    async trigger(req: TriggerRequest) {
      await seen(req);
      return { kind: 'sent', transactionId: req.transactionId, replayed: false };
    },
    cancel: async () => ({ ok: true, cancelled: false, call: { operation: 'cancel', status: 200, ms: 0 } }),
  };
}

describe('deferred payloads', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('a claim carries a small payload inline and defers a large one, which loadPayload reads', async () => {
    const small = await insertRow(db.pool, { enterprise_id: 'e1', payload: { hello: 'world' } });
    const large = await insertRow(db.pool, { enterprise_id: 'e1', payload: bigPayload(200_000, 1) });
    const res = await claimMany(db.pool, [
      { id: small, enterpriseId: 'e1', owner: 'job:s', leaseMs: 30_000 },
      { id: large, enterpriseId: 'e1', owner: 'job:l', leaseMs: 30_000 },
    ]);
    const [s, l] = res.map((r) => (r.kind === 'claimed' ? r.row : assert.fail(`not claimed: ${r.kind}`)));
    assert.deepEqual(s?.payload, { hello: 'world' });
    assert.equal(s?.payload_deferred, false);
    assert.equal(l?.payload, null);
    assert.equal(l?.payload_deferred, true);
    assert.ok((l?.payload_stored_bytes ?? 0) > CLAIM_INLINE_PAYLOAD_BYTES);
    const loaded = await loadPayload(db.pool, large);
    assert.equal((loaded?.payload as { n: number }).n, 1);
  });

  it('delivers deferred payloads whole, holding no more of them at once than the budget fits', async () => {
    const bytes = 150_000;
    const ids: string[] = [];
    for (let n = 1; n <= 6; n += 1) {
      ids.push(await insertRow(db.pool, { enterprise_id: 'e2', payload: bigPayload(bytes, n) }));
    }
    let inFlight = 0;
    let most = 0;
    const seen = new Map<string, number>();
    const novu = acceptingNovu(async (req) => {
      most = Math.max(most, ++inFlight);
      seen.set(req.notificationId, (req.payload['blob'] as string).length);
      await new Promise((r) => setTimeout(r, 40));
      inFlight -= 1;
    });
    // room for two of these payloads at a time (their stored size is about `bytes` each)
    const deps: ProcessDeps = {
      db: db.pool,
      novu,
      leaseMs: 30_000,
      retryHoldMs: 100,
      payloads: new ByteBudget(Math.floor(bytes * 2.5)),
    };
    const results = await Promise.all(
      ids.map((id, i) =>
        processNotification({ job: jobFor('e2', id), jobId: `job-${i}`, attemptsMade: 0, maxAttempts: 3 }, deps),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.kind),
      ids.map(() => 'sent'),
    );
    assert.equal(most, 2, `${most} deferred payloads were held at once`);
    for (const id of ids) {
      assert.equal(seen.get(id), bytes, `row ${id} reached Novu with its whole payload`);
      assert.equal((await rowById(db.pool, id))['status'], 'sent');
    }
    assert.equal(deps.payloads?.inUse, 0);
  });

  it('waits for the budget before reading, and skips a row deleted meanwhile without failing it', async () => {
    const id = await insertRow(db.pool, { enterprise_id: 'e3', payload: bigPayload(100_000, 1) });
    const payloads = new ByteBudget(1_000_000);
    const held = await payloads.acquire(1_000_000);
    let triggered = 0;
    const novu = acceptingNovu(() => {
      triggered += 1;
    });
    const running = processNotification(
      { job: jobFor('e3', id), jobId: 'job-d', attemptsMade: 0, maxAttempts: 3 },
      { db: db.pool, novu, leaseMs: 30_000, retryHoldMs: 100, payloads },
    );
    await new Promise((r) => setTimeout(r, 100));
    await db.pool.query('delete from notify.ent_notification where id = $1', [id]);
    held();
    assert.deepEqual(await running, { kind: 'skipped', reason: 'not_found' });
    assert.equal(triggered, 0);
    assert.equal(payloads.inUse, 0);
  });

  it('keeps the lease while a deferred payload waits for the budget', async () => {
    const id = await insertRow(db.pool, { enterprise_id: 'e4', payload: bigPayload(100_000, 1) });
    const payloads = new ByteBudget(1_000_000);
    const held = await payloads.acquire(1_000_000);
    const running = processNotification(
      { job: jobFor('e4', id), jobId: 'job-w', attemptsMade: 0, maxAttempts: 3 },
      { db: db.pool, novu: acceptingNovu(), leaseMs: 300, retryHoldMs: 100, payloads },
    );
    await new Promise((r) => setTimeout(r, 800)); // more than twice the 300 ms lease
    const { rows } = await db.pool.query<{ live: boolean }>(
      `select lease_expires_at > clock_timestamp() as live from notify.delivery where notification_id = $1`,
      [id],
    );
    held();
    assert.equal((await running).kind, 'sent');
    assert.equal(rows[0]?.live, true, 'the lease lapsed while the job waited for the payload budget');
  });

  it('fails a row that used up its attempts before reading its large payload', async () => {
    const id = await insertRow(db.pool, { enterprise_id: 'e5', payload: bigPayload(100_000, 1) });
    const payloads = new ByteBudget(1_000_000);
    const held = await payloads.acquire(1_000_000); // a read would wait for ever
    try {
      const result = await Promise.race([
        processNotification(
          // maxAttempts 0: the claim's first attempt is already over twice the attempts allowed, so it can only fail
          { job: jobFor('e5', id), jobId: 'job-x', attemptsMade: 0, maxAttempts: 0 },
          { db: db.pool, novu: acceptingNovu(), leaseMs: 30_000, retryHoldMs: 100, payloads },
        ),
        new Promise<'waited'>((r) => setTimeout(() => r('waited'), 2000)),
      ]);
      if (result === 'waited') assert.fail('it waited to read the payload of a row it could only fail');
      assert.equal(result.kind, 'failed');
      assert.equal((await rowById(db.pool, id))['status'], 'failed');
    } finally {
      held();
    }
  });
});
