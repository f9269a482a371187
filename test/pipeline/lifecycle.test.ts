// UPDATE and DELETE through the whole daemon: cancel before the time → never sent; reschedule → sent only at the
// new time; re-arm a failed row → sent again with a new delivery key; delete → never sent; notifyd's own writes
// make no work; malformed rows fail with a reason while good rows keep flowing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { jobIdFor, QUEUE_NAME } from '../../src/queue/jobs.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

function fieldPairs(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i] as string, fields[i + 1] as string]);
  return out;
}

const settled = (stack: Stack, id: string, status = 'sent', timeoutMs = 15_000) =>
  waitFor(
    async () => {
      const r = await rowById(stack.pool, id);
      return r['status'] === status ? r : undefined;
    },
    { what: `row ${id} ${status}`, timeoutMs },
  );

describe('daemon: the notification lifecycle', () => {
  let stack: Stack;
  before(async () => {
    // few attempts per arming: a row re-armed many times must not run out of them (attempts restart per arming)
    stack = await startStack({ enterprises: ['acme'], env: { DELIVERY_MAX_ATTEMPTS: '3' } });
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
  });
  after(async () => {
    await stack.stop();
  });

  it('never sends a scheduled notification cancelled before its time, nor a deleted one', async () => {
    const cancelled = await insertRow(stack.pool, {
      enterprise_id: 'acme',
      scheduled_for: new Date(Date.now() + 1500),
    });
    const deleted = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 1500) });
    const control = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 1500) });
    await new Promise((r) => setTimeout(r, 300));
    await stack.pool.query(`update notify.ent_notification set status = 'cancelled' where id = $1`, [cancelled]);
    await stack.pool.query('delete from notify.ent_notification where id = $1', [deleted]);
    await settled(stack, control);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await rowById(stack.pool, cancelled))['status'], 'cancelled');
    assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${cancelled}-1`).length, 0);
    assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${deleted}-1`).length, 0);
  });

  it(
    'drops the waiting job of a row deleted or cancelled before its time ' + '(the DELETE and UPDATE events do)',
    async () => {
      const due = Date.now() + 5000;
      const deleted = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(due) });
      const cancelled = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(due) });
      for (const id of [deleted, cancelled])
        await waitFor(async () => (await stack.jobState(jobIdFor(id, '1'))) === 'delayed', {
          what: `job of ${id} delayed`,
        });
      await stack.pool.query('delete from notify.ent_notification where id = $1', [deleted]);
      await stack.pool.query(`update notify.ent_notification set status = 'cancelled' where id = $1`, [cancelled]);
      // long before the rows would have been due, their delayed jobs are gone from Redis
      for (const id of [deleted, cancelled]) {
        await waitFor(async () => (await stack.jobState(jobIdFor(id, '1'))) === 'unknown', {
          what: `job of ${id} removed`,
          timeoutMs: 3000,
        });
      }
      assert.ok(Date.now() < due, 'the check ran before the rows were due');
    },
  );

  it('sends a rescheduled notification at the new time only', async () => {
    const first = Date.now() + 1000;
    const id = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(first) });
    await new Promise((r) => setTimeout(r, 200));
    const later = Date.now() + 3000;
    await stack.pool.query('update notify.ent_notification set scheduled_for = $2 where id = $1', [
      id,
      new Date(later),
    ]);
    const row = await settled(stack, id, 'sent', 10_000);
    const sentAt = (row['sent_at'] as Date).getTime();
    assert.ok(sentAt >= later, `sent ${later - sentAt} ms before the new time`);
    assert.ok(sentAt < later + 1500, `sent ${sentAt - later} ms after the new time`);
    assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${id}-1`).length, 1);
  });

  it('evaluates 20 reschedules within 100 ms once (DEBOUNCE_MS), and sends at the final time', async () => {
    const id = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 1500) });
    await waitFor(async () => (await stack.jobState(jobIdFor(id, '1'))) !== 'unknown', { what: 'the insert job' });
    const started = Date.now();
    let final = 0;
    for (let i = 1; i <= 20; i++) {
      final = started + 2000 + i * 10;
      await stack.pool.query('update notify.ent_notification set scheduled_for = $2 where id = $1', [
        id,
        new Date(final),
      ]);
    }
    const burstMs = Date.now() - started;
    const row = await settled(stack, id, 'sent', 10_000);
    const sentAt = (row['sent_at'] as Date).getTime();
    assert.ok(sentAt >= final, `sent ${final - sentAt} ms before the final time`);
    assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${id}-1`).length, 1);
    // one evaluation: the last version got a job, none of the 19 between did, and the insert's job was dropped
    const states = await Promise.all(Array.from({ length: 20 }, (_, i) => stack.jobState(jobIdFor(id, String(i + 2)))));
    assert.notEqual(states[19], 'unknown', 'the last version has its job');
    assert.deepEqual(
      states.slice(0, 19).filter((s) => s !== 'unknown'),
      [],
      `the 20 updates took ${burstMs} ms; versions in between got jobs: ${JSON.stringify(states)}`,
    );
    assert.equal(await stack.jobState(jobIdFor(id, '1')), 'unknown', 'the insert job was dropped');
    // and only that one job was ever made for the burst (BullMQ's event stream records every add)
    const redis = new Redis(TEST_REDIS_URL);
    const events = await redis.xrange(`${stack.prefix}:${QUEUE_NAME}:events`, '-', '+');
    redis.disconnect();
    const added = events
      .map(([, fields]) => Object.fromEntries(fieldPairs(fields)))
      .filter((e) => e['event'] === 'added' && String(e['jobId']).startsWith(`ntf-${id}-update-`));
    assert.equal(added.length, 1, `jobs added for the burst: ${added.map((e) => e['jobId']).join(', ')}`);
  });

  it('delivers a row re-armed 10 times 10 more times, each under a new delivery key', async () => {
    const id = await insertRow(stack.pool, { enterprise_id: 'acme' });
    const keys = [String((await settled(stack, id))['transaction_id'])];
    for (let i = 0; i < 10; i += 1) {
      await stack.pool.query(`update notify.ent_notification set status = 'pending' where id = $1`, [id]);
      const row = await waitFor(
        async () => {
          const r = await rowById(stack.pool, id);
          return r['status'] === 'sent' && !keys.includes(String(r['transaction_id']))
            ? r
            : r['status'] === 'failed'
              ? r
              : undefined;
        },
        { what: `re-arm ${i + 1} sent`, timeoutMs: 15_000 },
      );
      assert.equal(row['status'], 'sent', `re-arm ${i + 1}: ${String(row['last_error'])}`);
      assert.equal(row['attempts'], 1);
      keys.push(String(row['transaction_id']));
    }
    assert.equal(new Set(keys).size, 11);
    for (const key of keys) assert.equal(stack.novu.deliveriesFor(key).length, 1, key);
  });

  it('re-arms a failed notification set back to pending, under a new delivery key', async () => {
    const id = await insertRow(stack.pool, { enterprise_id: 'acme', recipients: [] });
    const failed = await settled(stack, id, 'failed');
    assert.match(String(failed['last_error']), /at least one subscriber/);
    await stack.pool.query(
      `update notify.ent_notification set recipients = '{fixed-user}', status = 'pending' where id = $1`,
      [id],
    );
    const sent = await settled(stack, id);
    const tx = `notifyd-acme-${id}-${sent['armed_version'] as string}`;
    assert.notEqual(sent['armed_version'], '1');
    assert.equal(sent['transaction_id'], tx);
    assert.equal(stack.novu.deliveriesFor(tx).length, 1);
  });

  it('withdraws a cancelled notification from Novu when it was already triggered', async () => {
    stack.novu.addWorkflow({ id: 'delayed-digest', delayMs: 60_000 });
    const id = await insertRow(stack.pool, { enterprise_id: 'acme', workflow_id: 'delayed-digest' });
    await settled(stack, id);
    await stack.pool.query(`update notify.ent_notification set status = 'cancelled' where id = $1`, [id]);
    await waitFor(() => stack.novu.cancelled().some((c) => JSON.stringify(c).includes(`notifyd-acme-${id}-1`)), {
      what: 'cancel reached Novu',
    });
  });

  it('fails malformed rows with a reason while good rows keep flowing', async () => {
    const bad = await insertRow(stack.pool, { enterprise_id: 'acme', payload: { blob: 'x'.repeat(600 * 1024) } });
    const goods = await Promise.all([1, 2, 3].map(() => insertRow(stack.pool, { enterprise_id: 'acme' })));
    assert.match(String((await settled(stack, bad, 'failed'))['last_error']), /Novu accepts at most 524288/);
    for (const id of goods) await settled(stack, id);
  });

  it('makes no work from its own status writes: one job per delivered row', async () => {
    const id = await insertRow(stack.pool, { enterprise_id: 'acme' });
    await settled(stack, id);
    await new Promise((r) => setTimeout(r, 500));
    const requests = stack.novu.requests().filter((r) => r.idempotencyKey === `notifyd-acme-${id}-1`);
    assert.equal(requests.length, 1);
    const row = await rowById(stack.pool, id);
    assert.equal(row['attempts'], 1);
  });
});
