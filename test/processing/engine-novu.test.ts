// The processing engine delivering through the real @novu/api SDK to the Novu stand-in: exactly one delivery
// per notification with the right tenant and keys, permanent errors fail at once with the reason, transient ones
// retry (bounded) without ever delivering twice, and a 429 pauses the queue for its Retry-After.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { startEngineRig, type EngineRig } from '../support/engine.js';
import { insertRow, rowById, setDelivery } from '../support/rows.js';
import { waitFor } from '../support/wait.js';

describe('processing engine delivering to Novu', () => {
  let rig: EngineRig;
  before(async () => {
    rig = await startEngineRig({
      serve: ['e1', 'e2', 'e-unknown'],
      novu: { workflows: ['welcome', 'digest'], tenants: ['e1', 'e2'] },
      pool: { novuTimeoutMs: 400 },
    });
  });
  afterEach(() => rig.novu.faults.clear());
  after(async () => {
    await rig.close();
  });

  const deliver = async (row: Parameters<typeof insertRow>[1]) => {
    const id = await insertRow(rig.db.pool, row);
    await rig.enqueue(row.enterprise_id, id);
    return id;
  };
  const settled = (id: string) =>
    waitFor(
      async () => {
        const r = await rowById(rig.db.pool, id);
        return r['status'] === 'sent' || r['status'] === 'failed' ? r : undefined;
      },
      { what: `row ${id} settled`, timeoutMs: 20_000 },
    );

  it('delivers once with workflow, recipients, payload, tenant and the deterministic transaction id', async () => {
    const id = await deliver({
      enterprise_id: 'e2',
      workflow_id: 'welcome',
      recipients: ['a', 'b'],
      payload: { order: 42, nested: { x: [1, 2] } },
    });
    const row = await settled(id);
    assert.equal(row['status'], 'sent');
    const tx = `notifyd-e2-${id}-1`;
    assert.equal(row['transaction_id'], tx);
    const got = rig.novu.deliveriesFor(tx);
    assert.equal(got.length, 1);
    assert.equal(got[0]?.workflow, 'welcome');
    assert.deepEqual(got[0]?.to, ['a', 'b']);
    assert.deepEqual(got[0]?.payload, { order: 42, nested: { x: [1, 2] } });
    assert.equal(got[0]?.tenantId, 'e2');
    assert.equal(got[0]?.idempotencyKey, tx);
  });

  it("fails at once with Novu's reason for an unknown workflow or tenant", async () => {
    const wf = await deliver({ enterprise_id: 'e1', workflow_id: 'no-such-workflow' });
    const tenant = await deliver({ enterprise_id: 'e-unknown', workflow_id: 'welcome' });
    const a = await settled(wf);
    const b = await settled(tenant);
    assert.equal(a['status'], 'failed');
    assert.match(String(a['last_error']), /novu 422: workflow_not_found/);
    assert.equal(a['attempts'], 1);
    assert.equal(b['status'], 'failed');
    assert.match(String(b['last_error']), /no_tenant_found/);
  });

  it('retries a 5xx and a lost response with the same keys and delivers exactly once', async () => {
    rig.novu.faults.failNext(1, 502);
    const a = await deliver({ enterprise_id: 'e1' });
    assert.equal((await settled(a))['status'], 'sent');
    rig.novu.faults.latency(1500, { count: 1 }); // processed, but the answer comes after the 400 ms timeout
    const b = await deliver({ enterprise_id: 'e1' });
    const rowB = await settled(b);
    assert.equal(rowB['status'], 'sent');
    assert.equal(rowB['attempts'], 2);
    for (const id of [a, b])
      assert.equal(rig.novu.deliveriesFor(`notifyd-e1-${id}-1`).length, 1, `row ${id} delivered more than once`);
  });

  it('marks a notification failed with a visible reason once its attempts are exhausted', async () => {
    rig.novu.faults.failNext(10, 500);
    const id = await deliver({ enterprise_id: 'e1' });
    const row = await settled(id);
    assert.equal(row['status'], 'failed');
    assert.match(String(row['last_error']), /retries exhausted after 3 attempts: novu 500/);
    assert.equal(rig.novu.deliveriesFor(`notifyd-e1-${id}-1`).length, 0);
  });

  it("honours a 429's Retry-After before trying again, without using up attempts", async () => {
    rig.novu.faults.rateLimitBurst(1, 1);
    const started = Date.now();
    const id = await deliver({ enterprise_id: 'e1' });
    const row = await settled(id);
    assert.equal(row['status'], 'sent');
    const requests = rig.novu.requests().filter((r) => r.idempotencyKey === `notifyd-e1-${id}-1`);
    assert.equal(requests.length, 2);
    const gap = (requests[1]?.receivedAt ?? 0) - (requests[0]?.receivedAt ?? 0);
    assert.ok(gap >= 900 && gap <= 3000, `retried after ${gap} ms, Retry-After was 1 s`);
    assert.ok(Date.now() - started < 10_000);
  });

  it(
    'bounds retries in total time as well: ' +
      'a notification failing for longer than the limit is failed, even on 429s',
    async () => {
      const id = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
      // its first attempt was 59 s ago, the limit is 60 s: Novu rate limits it past the limit
      await setDelivery(rig.db.pool, id, { attempts: 1, firstAttemptSecondsAgo: 59 });
      rig.novu.faults.rateLimitBurst(5, 2);
      await rig.enqueue('e1', id, '1', { origin: 'sweep' });
      const row = await settled(id);
      assert.equal(row['status'], 'failed');
      assert.match(
        String(row['last_error']),
        /delivery gave up after \d+ s of failures \(DELIVERY_MAX_DURATION_MS\): novu 429/,
      );
    },
  );
});
