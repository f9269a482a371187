// The update debouncer (actors/enterprise/debounce.ts): a burst of UPDATEs of one pending row becomes one change
// with the first event's old and the last one's new; any other event of that row releases it first, in order.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { ChangePayload } from '../../actors/enterprise/changes.js';
import { UpdateDebouncer } from '../../actors/enterprise/debounce.js';

const update = (id: number, from: number, to: number, status = 'pending'): ChangePayload => ({
  eventType: 'UPDATE',
  new: { id, version: to, status, scheduled_for: `t${to}` },
  old: { id, version: from, status: 'pending', scheduled_for: `t${from}` },
});

describe('update debouncer', () => {
  it('merges a burst on one row into the first old and the last new, released once after the window', async () => {
    const out: ChangePayload[] = [];
    const d = new UpdateDebouncer(50, (c) => out.push(c));
    for (let v = 1; v <= 20; v++) assert.equal(d.offer(update(7, v, v + 1)), true);
    assert.equal(d.offer(update(8, 1, 2)), true, 'another row is held on its own');
    assert.equal(out.length, 0);
    await sleep(80);
    assert.equal(out.length, 2);
    const seven = (out as ChangePayload[]).find((c) => c.new['id'] === 7);
    assert.deepEqual([seven?.old['version'], seven?.new['version']], [1, 21]);
  });

  it('releases a held update before a later event of the same row, and passes what it never holds', () => {
    const out: ChangePayload[] = [];
    const d = new UpdateDebouncer(10_000, (c) => out.push(c));
    assert.equal(d.offer(update(1, 1, 2)), true);
    const cancel = update(1, 2, 3, 'cancelled');
    assert.equal(d.offer(cancel), false, 'a cancel is not held');
    assert.deepEqual(
      out.map((c) => c.new['version']),
      [2],
      'the held update went first; the caller applies the cancel next',
    );
    const own: ChangePayload = { ...update(2, 1, 2), new: { ...update(2, 1, 2).new, writer: 'notifyd' } };
    assert.equal(d.offer(own), false, "notifyd's own writes pass");
    const insert: ChangePayload = { eventType: 'INSERT', new: { id: 3, version: 1, status: 'pending' }, old: {} };
    assert.equal(d.offer(insert), false, 'inserts pass at once');
    d.clear();
  });

  it('holds nothing when off, and at most its bound of rows', () => {
    const out: ChangePayload[] = [];
    assert.equal(new UpdateDebouncer(0, (c) => out.push(c)).offer(update(1, 1, 2)), false);
    const small = new UpdateDebouncer(10_000, (c) => out.push(c), 2);
    assert.deepEqual(
      [1, 2, 3].map((id) => small.offer(update(id, 1, 2))),
      [true, true, false],
    );
    small.clear();
  });
});
