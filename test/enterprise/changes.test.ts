// The lifecycle rules for Realtime events: what each INSERT/UPDATE/DELETE does to the queue.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactChange, interpretChange, type ChangePayload } from '../../actors/enterprise/changes.js';

const P = { realtime: 10, scheduled: 5, cron: 1 };
const NOW = Date.parse('2026-11-28T12:00:00Z');
const base = {
  id: 7,
  enterprise_id: 'e1',
  status: 'pending',
  version: 1,
  writer: 'app',
  source: 'app',
  scheduled_for: null,
};
const ev = (
  eventType: ChangePayload['eventType'],
  n: Record<string, unknown>,
  o: Record<string, unknown> = {},
): ChangePayload => ({ eventType, new: n, old: o, commit_timestamp: '2026-11-28T11:59:59.900Z', errors: null });

describe('interpreting Realtime changes', () => {
  it('enqueues an inserted pending row at realtime priority with the insert job id', () => {
    const [a] = interpretChange('e1', ev('INSERT', base), P, NOW);
    assert.equal(a?.kind, 'enqueue');
    assert.deepEqual(a?.kind === 'enqueue' && a.request, {
      enterpriseId: 'e1',
      notificationId: '7',
      version: '1',
      action: 'deliver',
      origin: 'realtime',
      priority: 10,
      delayMs: 0,
      committedAt: Date.parse('2026-11-28T11:59:59.900Z'),
    });
  });

  it('delays a scheduled row until scheduled_for at scheduled priority, and rule rows get cron priority', () => {
    const [a] = interpretChange('e1', ev('INSERT', { ...base, scheduled_for: '2026-11-28T12:00:02+00:00' }), P, NOW);
    assert.ok(a?.kind === 'enqueue');
    assert.equal(a.request.delayMs, 2000);
    assert.equal(a.request.priority, 5);
    const [c] = interpretChange('e1', ev('INSERT', { ...base, source: 'rule' }), P, NOW);
    assert.ok(c?.kind === 'enqueue' && c.request.priority === 1);
  });

  it("ignores notifyd's own status writes", () => {
    const acts = interpretChange(
      'e1',
      ev('UPDATE', { ...base, status: 'processing', version: 2, writer: 'notifyd' }, base),
      P,
      NOW,
    );
    assert.deepEqual(acts, [{ kind: 'ignore', reason: 'own_write' }]);
  });

  it('drops the waiting job of a cancelled pending row and asks for a Novu cancel (the row may be in flight)', () => {
    const acts = interpretChange('e1', ev('UPDATE', { ...base, status: 'cancelled', version: 2 }, base), P, NOW);
    assert.deepEqual(acts[0], { kind: 'remove', jobId: 'ntf-7-insert-v1' });
    assert.ok(acts[1]?.kind === 'enqueue' && acts[1].request.action === 'cancel' && acts[1].request.version === '2');
    assert.equal(acts.length, 2);
  });

  it('does not ask Novu to cancel a row that failed before the application cancelled it', () => {
    const acts = interpretChange(
      'e1',
      ev('UPDATE', { ...base, status: 'cancelled', version: 3 }, { ...base, status: 'failed', version: 2 }),
      P,
      NOW,
    );
    assert.deepEqual(acts, [{ kind: 'remove', jobId: 'ntf-7-update-v2' }]);
  });

  it('delivers at once a row whose scheduled_for no Date can hold, so the claim fails it with the reason', () => {
    for (const v of ['infinity', '-infinity', '200000-01-01T00:00:00+00:00', 'garbage']) {
      const [a] = interpretChange('e1', ev('INSERT', { ...base, scheduled_for: v }), P, NOW);
      assert.ok(a?.kind === 'enqueue' && a.request.delayMs === 0 && a.request.priority === 10, v);
    }
  });

  it('asks for a Novu cancel when a row is cancelled after it was triggered', () => {
    const acts = interpretChange(
      'e1',
      ev('UPDATE', { ...base, status: 'cancelled', version: 4 }, { ...base, status: 'processing', version: 3 }),
      P,
      NOW,
    );
    assert.equal(acts.length, 2);
    assert.ok(acts[1]?.kind === 'enqueue' && acts[1].request.action === 'cancel' && acts[1].request.version === '4');
  });

  it('re-arms a failed row set back to pending with a new job', () => {
    const acts = interpretChange(
      'e1',
      ev('UPDATE', { ...base, status: 'pending', version: 5 }, { ...base, status: 'failed', version: 4 }),
      P,
      NOW,
    );
    assert.equal(acts.length, 1);
    assert.ok(acts[0]?.kind === 'enqueue' && acts[0].request.version === '5');
  });

  it('reschedules: a job at the new time and the old one dropped', () => {
    const acts = interpretChange(
      'e1',
      ev(
        'UPDATE',
        { ...base, version: 2, scheduled_for: '2026-11-28T12:01:00+00:00' },
        { ...base, scheduled_for: '2026-11-28T12:00:30+00:00' },
      ),
      P,
      NOW,
    );
    assert.deepEqual(acts[0], { kind: 'remove', jobId: 'ntf-7-insert-v1' });
    assert.ok(acts[1]?.kind === 'enqueue' && acts[1].request.delayMs === 60_000 && acts[1].request.version === '2');
  });

  it('makes no work when the application edits a pending row without rescheduling', () => {
    const acts = interpretChange(
      'e1',
      ev('UPDATE', { ...base, version: 2, payload: { a: 2 } }, { ...base, payload: { a: 1 } }),
      P,
      NOW,
    );
    assert.deepEqual(acts, [{ kind: 'ignore', reason: 'pending_row_edited' }]);
  });

  it('drops the waiting job of a deleted pending row', () => {
    assert.deepEqual(interpretChange('e1', ev('DELETE', {}, base), P, NOW), [
      { kind: 'remove', jobId: 'ntf-7-insert-v1' },
    ]);
  });

  it("never acts on another enterprise's row", () => {
    for (const e of [
      ev('INSERT', { ...base, enterprise_id: 'e2' }),
      ev('UPDATE', { ...base, enterprise_id: 'e2', status: 'cancelled' }, base),
      ev('DELETE', {}, { ...base, enterprise_id: 'e2' }),
    ]) {
      assert.deepEqual(interpretChange('e1', e, P, NOW), [{ kind: 'ignore', reason: 'other_enterprise' }]);
    }
  });

  it('falls back to a catch-up when an id cannot be trusted (beyond 2^53) or the event lost its fields', () => {
    assert.equal(interpretChange('e1', ev('INSERT', { ...base, id: 2 ** 53 + 2 }), P, NOW)[0]?.kind, 'catch_up');
    assert.equal(
      interpretChange(
        'e1',
        { ...ev('INSERT', { enterprise_id: 'e1' }), errors: ['Error 413: Payload Too Large'] },
        P,
        NOW,
      )[0]?.kind,
      'catch_up',
    );
  });
});

describe('buffering Realtime changes', () => {
  it('keeps only the routing columns of a change, so a large payload is never held', () => {
    const big = { ...base, payload: { blob: 'x'.repeat(400_000) }, recipients: ['a', 'b'] };
    const c = compactChange(ev('UPDATE', { ...big, version: 2 }, big));
    assert.ok(JSON.stringify(c).length < 1000);
    assert.deepEqual(
      interpretChange('e1', c, P, NOW),
      interpretChange('e1', ev('UPDATE', { ...big, version: 2 }, big), P, NOW),
    );
  });
});
