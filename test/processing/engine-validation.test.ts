// The processing engine on real Redis, PostgreSQL and Piscina threads, against the Novu stand-in: malformed rows
// fail with a reason while good rows keep flowing — also rows no schedule or payload check at insert stopped (the
// table's constraints dropped here, as on a database that never ran migration 0004) — a job for someone else's
// row does nothing, an early job waits for its row, and a row that kills its worker ends failed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRow, rowById, setDelivery } from '../support/rows.js';
import { startEngineRig, type EngineRig } from '../support/engine.js';
import { waitFor } from '../support/wait.js';

describe('processing engine: validation and bad rows', () => {
  let rig: EngineRig;
  before(async () => {
    rig = await startEngineRig({ serve: ['e1', 'attacker'] });
    await rig.db.pool.query(`alter table notify.ent_notification
      drop constraint ent_notification_scheduled_for_check, drop constraint ent_notification_payload_size_check`);
  });
  after(async () => {
    await rig.close();
  });

  const settled = (id: string, status: 'sent' | 'failed') =>
    waitFor(
      async () => {
        const r = await rowById(rig.db.pool, id);
        return r['status'] === status ? r : undefined;
      },
      { what: `row ${id} ${status}`, timeoutMs: 20_000 },
    );

  it('sends good rows and fails each malformed row with its reason', async () => {
    const good = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
    const cases: [Parameters<typeof insertRow>[1], RegExp][] = [
      [{ enterprise_id: 'e1', workflow_id: '' }, /workflow_id: empty/],
      [{ enterprise_id: 'e1', recipients: [] }, /at least one subscriber/],
      [
        { enterprise_id: 'e1', recipients: Array.from({ length: 101 }, (_, i) => `u${i}`) },
        /101 subscriber ids, at most 100/,
      ],
      [{ enterprise_id: 'e1', recipients: ['ok', 'has space'] }, /position 2/],
      [{ enterprise_id: 'e1', payload: { blob: 'x'.repeat(600 * 1024) } }, /bytes, Novu accepts at most 524288/],
      [{ enterprise_id: 'e1', payload: [1, 2, 3] }, /must be a JSON object, got an array/],
      [{ enterprise_id: 'e1', payload: 'text' }, /must be a JSON object, got string/],
    ];
    const bad = [];
    for (const [row] of cases) bad.push(await insertRow(rig.db.pool, row));
    // 5,000 levels deep: built by PostgreSQL (JSON.stringify itself overflows the stack on it)
    bad.push(
      (
        await rig.db.pool.query<{
          id: string;
        }>(`insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload)
      values ('e1', 'welcome', '{u1}', (repeat('{"d":', 5000) || '1' || repeat('}', 5000))::jsonb) returning id::text`)
      ).rows[0]?.id as string,
    );
    cases.push([{ enterprise_id: 'e1' }, /nested deeper than 64 levels/]);
    const good2 = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
    for (const id of [good, ...bad, good2]) await rig.enqueue('e1', id);

    for (const id of [good, good2]) {
      const row = await settled(id, 'sent');
      assert.equal(row['transaction_id'], `notifyd-e1-${id}-1`);
      assert.equal(row['attempts'], 1);
      assert.equal(row['writer'], 'notifyd');
      assert.equal(row['lease_owner'], null);
    }
    for (const [i, id] of bad.entries()) {
      const row = await settled(id, 'failed');
      assert.match(String(row['last_error']), (cases[i] as [unknown, RegExp])[1]);
    }
  });

  it('fails a row whose scheduled_for is not a schedulable instant, whatever PostgreSQL holds', async () => {
    const values = ['-infinity', 'infinity', '200000-01-01 00:00:00+00', '0044-03-15 00:00:00+00 BC'];
    const ids: string[] = [];
    for (const v of values) {
      ids.push(
        (
          await rig.db.pool.query<{ id: string }>(
            `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, scheduled_for)
        values ('e1', 'welcome', '{u1}', $1::timestamptz) returning id::text`,
            [v],
          )
        ).rows[0]?.id as string,
      );
    }
    const good = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
    for (const id of [...ids, good]) await rig.enqueue('e1', id);
    for (const [i, id] of ids.entries()) {
      const row = await settled(id, 'failed');
      assert.match(
        String(row['last_error']),
        /invalid scheduled_for: .* is not an instant between the years 1 and 9999/,
        values[i],
      );
      assert.equal(row['attempts'], 1, `${values[i]} was claimed once, not retried`);
    }
    await settled(good, 'sent');
    assert.equal(
      rig.novu.deliveries().filter((d) => ids.some((id) => d.transactionId === `notifyd-e1-${id}-1`)).length,
      0,
    );
  });

  it('fails a payload stored larger than the claim reads without loading it', async () => {
    const id = (
      await rig.db.pool.query<{
        id: string;
      }>(`insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload)
      values ('e1', 'welcome', '{u1}',
              jsonb_build_object('blob', (select string_agg(md5(g::text), '') from generate_series(1, 100000) g)))
      returning id::text`)
    ).rows[0]?.id as string;
    await rig.enqueue('e1', id);
    const row = await settled(id, 'failed');
    assert.match(String(row['last_error']), /invalid payload: \d+ bytes stored, Novu accepts at most 524288/);
  });

  it('never delivers a row for a job of another enterprise', async () => {
    const id = await insertRow(rig.db.pool, { enterprise_id: 'victim' });
    await rig.enqueue('attacker', id);
    const marker = await insertRow(rig.db.pool, { enterprise_id: 'attacker' });
    await rig.enqueue('attacker', marker);
    await settled(marker, 'sent');
    const row = await rowById(rig.db.pool, id);
    assert.equal(row['status'], 'pending');
    assert.equal(row['attempts'], 0);
  });

  it('processes a job that fired before its row is due only when the row is due', async () => {
    const dueAt = new Date(Date.now() + 1500);
    const id = await insertRow(rig.db.pool, { enterprise_id: 'e1', scheduled_for: dueAt });
    await rig.enqueue('e1', id); // no delay: fires early on purpose
    const row = await settled(id, 'sent');
    const sentAt = (
      await rig.db.pool.query<{ sent_at: Date }>('select sent_at from notify.ent_notification where id = $1', [id])
    ).rows[0]?.sent_at;
    assert.ok(
      sentAt !== undefined && sentAt.getTime() >= dueAt.getTime(),
      `sent at ${sentAt?.toISOString()} before due ${dueAt.toISOString()}`,
    );
    assert.equal(row['attempts'], 1);
  });

  it('does nothing for a cancelled or deleted row', async () => {
    const cancelled = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
    await rig.db.pool.query(`update notify.ent_notification set status = 'cancelled' where id = $1`, [cancelled]);
    const deleted = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
    await rig.db.pool.query('delete from notify.ent_notification where id = $1', [deleted]);
    const marker = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
    for (const id of [cancelled, deleted, marker]) await rig.enqueue('e1', id);
    await settled(marker, 'sent');
    assert.equal((await rowById(rig.db.pool, cancelled))['status'], 'cancelled');
    for (const id of [cancelled, deleted]) assert.equal(rig.novu.deliveriesFor(`notifyd-e1-${id}-1`).length, 0);
  });

  it('fails a row whose attempts never complete (a worker-killing row) instead of retrying it forever', async () => {
    const id = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
    // 20 earlier attempts died with their worker
    await setDelivery(rig.db.pool, id, { attempts: 20, firstAttemptSecondsAgo: 300 });
    await rig.enqueue('e1', id);
    const row = await settled(id, 'failed');
    assert.match(String(row['last_error']), /delivery abandoned after 20 attempts that never completed/);
    assert.equal(row['transaction_id'], `notifyd-e1-${id}-1`);
  });
});
