// Batched claims and sent marks: concurrent requests share statements, results come back in request order, a row
// requested twice in one batch is claimed once, and every write stays fenced on its lease owner.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Batcher } from '../../src/db/batcher.js';
import { claimMany, markSentMany } from '../../src/db/notifications.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertRow, rowById } from '../support/rows.js';

describe('batched writes', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  /** the end of the current event-loop turn: what a Batcher gathered in it has been sent */
  const turn = () => new Promise((r) => setImmediate(r));

  it('groups requests that arrive while a statement runs, in order, and rejects a failed batch whole', async () => {
    const calls: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      calls.push(items);
      await new Promise((r) => setTimeout(r, 20));
      if (items.includes(-1)) throw new Error('boom');
      return items.map((i) => i * 10);
    });
    const first = batcher.submit(1);
    await turn(); // 1 runs alone; the four that arrive meanwhile go together next
    const results = await Promise.all([first, ...[2, 3, 4, 5].map((i) => batcher.submit(i))]);
    assert.deepEqual(results, [10, 20, 30, 40, 50]);
    assert.deepEqual(calls, [[1], [2, 3, 4, 5]]);
    const running = batcher.submit(0);
    await turn(); // 0 runs alone; the next three wait and go together
    const failing = [batcher.submit(7), batcher.submit(-1), batcher.submit(8)];
    const settled = await Promise.allSettled([running, ...failing]);
    assert.deepEqual(
      settled.map((r) => r.status),
      ['fulfilled', 'rejected', 'rejected', 'rejected'],
    );
    assert.deepEqual(calls.at(-1), [7, -1, 8]);
  });

  it('with two calls allowed in flight, requests of two turns go side by side, the rest together', async () => {
    const calls: number[][] = [];
    let inFlight = 0;
    let most = 0;
    const batcher = new Batcher<number, number>(
      async (items) => {
        calls.push(items);
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight -= 1;
        return items;
      },
      100,
      2,
    );
    const done = [batcher.submit(1)];
    await turn();
    done.push(batcher.submit(2));
    await turn();
    done.push(...[3, 4, 5].map((i) => batcher.submit(i)));
    await Promise.all(done);
    assert.deepEqual(calls, [[1], [2], [3, 4, 5]]);
    assert.equal(most, 2);
  });

  it('sends the requests of one event-loop turn in one call, though more calls could start at once', async () => {
    const calls: number[][] = [];
    const batcher = new Batcher<number, number>(
      async (items) => {
        calls.push(items);
        return items;
      },
      3,
      4,
    );
    // as the jobs one claim (or one Novu reply) resumes ask together: five requests, four calls allowed in flight
    assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map((i) => batcher.submit(i))), [1, 2, 3, 4, 5]);
    // a full batch goes at once; the rest at the end of the turn
    assert.deepEqual(calls, [
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('claims many rows in one statement, once per row, with the same answers as single claims', async () => {
    const a = await insertRow(db.pool, { enterprise_id: 'e1' });
    const b = await insertRow(db.pool, { enterprise_id: 'e1' });
    const later = await insertRow(db.pool, { enterprise_id: 'e1', scheduled_for: new Date(Date.now() + 60_000) });
    const foreign = await insertRow(db.pool, { enterprise_id: 'e2' });
    const res = await claimMany(db.pool, [
      { id: a, enterpriseId: 'e1', owner: 'job:x', leaseMs: 30_000 },
      { id: a, enterpriseId: 'e1', owner: 'job:y', leaseMs: 30_000 },
      { id: b, enterpriseId: 'e1', owner: 'job:b', leaseMs: 30_000 },
      { id: later, enterpriseId: 'e1', owner: 'job:l', leaseMs: 30_000 },
      { id: foreign, enterpriseId: 'e1', owner: 'job:f', leaseMs: 30_000 },
      { id: '999999', enterpriseId: 'e1', owner: 'job:n', leaseMs: 30_000 },
    ]);
    const kinds = res.map((r) => (r.kind === 'skipped' ? `skipped:${r.reason}` : r.kind));
    assert.equal(kinds.filter((k) => k === 'claimed').length, 2, kinds.join(','));
    assert.ok(kinds[0] === 'claimed' || kinds[1] === 'claimed');
    assert.ok(kinds[0] === 'skipped:leased' || kinds[1] === 'skipped:leased');
    assert.deepEqual(kinds.slice(2), ['claimed', 'not_due', 'skipped:enterprise_mismatch', 'skipped:not_found']);
    assert.equal((await rowById(db.pool, a))['attempts'], 1);

    const winner = kinds[0] === 'claimed' ? 'job:x' : 'job:y';
    const sent = await markSentMany(db.pool, [
      { id: a, owner: winner === 'job:x' ? 'job:y' : 'job:x', transactionId: 'tx-wrong' },
      { id: a, owner: winner, transactionId: 'tx-a' },
      { id: b, owner: 'job:b', transactionId: 'tx-b' },
    ]);
    assert.deepEqual(sent, [false, true, true]);
    assert.equal((await rowById(db.pool, a))['transaction_id'], 'tx-a');
    assert.equal((await rowById(db.pool, b))['status'], 'sent');
  });
});
