// The processing engine on real Redis, PostgreSQL and Piscina threads, in DELIVERY_MODE=log: rows are claimed and
// recorded, malformed rows fail with a reason while good rows keep flowing, and jobs for someone else's row do nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ProcessingEngine } from '../../actors/processing/engine.js';
import { createLogger } from '../../src/log/logger.js';
import { NotificationProducer } from '../../src/queue/producer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { insertRow, rowById } from '../support/rows.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { waitFor } from '../support/wait.js';

describe('processing engine (DELIVERY_MODE=log)', () => {
  let db: TestDatabase;
  let prefix: string;
  let producer: NotificationProducer;
  let engine: ProcessingEngine;

  before(async () => {
    db = await createTestDatabase();
    prefix = uniquePrefix();
    producer = await NotificationProducer.connect({ redisUrl: TEST_REDIS_URL, prefix, attempts: 3 });
    engine = new ProcessingEngine({
      redisUrl: TEST_REDIS_URL, prefix, concurrency: 4, poolThreads: 1,
      log: createLogger({ level: 'silent' }),
      pool: { databaseUrl: db.url, deliveryMode: 'log', novuSecretKey: undefined, novuApiUrl: 'http://127.0.0.1:1', novuTimeoutMs: 1000, leaseMs: 30_000, retryHoldMs: 100, maxDurationMs: 60_000, dbPoolSize: 2 },
    });
    await engine.start();
  });
  after(async () => {
    await engine.stop(5000);
    await producer.close();
    await deletePrefix(prefix);
    await db.drop();
  });

  const enqueue = (enterpriseId: string, id: string, version = '1') =>
    producer.enqueue({ enterpriseId, notificationId: id, version, action: 'deliver', origin: 'realtime', priority: 10, delayMs: 0 });

  it('records good rows as sent and fails each malformed row with its reason', async () => {
    const good = await insertRow(db.pool, { enterprise_id: 'e1' });
    const cases: [Parameters<typeof insertRow>[1], RegExp][] = [
      [{ enterprise_id: 'e1', workflow_id: '' }, /workflow_id: empty/],
      [{ enterprise_id: 'e1', recipients: [] }, /at least one subscriber/],
      [{ enterprise_id: 'e1', recipients: Array.from({ length: 101 }, (_, i) => `u${i}`) }, /101 subscriber ids, at most 100/],
      [{ enterprise_id: 'e1', recipients: ['ok', 'has space'] }, /position 2/],
      [{ enterprise_id: 'e1', payload: { blob: 'x'.repeat(600 * 1024) } }, /bytes, Novu accepts at most 524288/],
      [{ enterprise_id: 'e1', payload: [1, 2, 3] }, /must be a JSON object, got an array/],
      [{ enterprise_id: 'e1', payload: 'text' }, /must be a JSON object, got string/],
    ];
    const bad = await Promise.all(cases.map(([row]) => insertRow(db.pool, row)));
    const good2 = await insertRow(db.pool, { enterprise_id: 'e1' });
    for (const id of [good, ...bad, good2]) await enqueue('e1', id);

    for (const id of [good, good2]) {
      const row = await waitFor(async () => { const r = await rowById(db.pool, id); return r['status'] === 'sent' ? r : undefined; }, { what: `row ${id} sent` });
      assert.equal(row['transaction_id'], `notifyd-e1-${id}-1`);
      assert.equal(row['attempts'], 1);
      assert.equal(row['writer'], 'notifyd');
      assert.equal(row['lease_owner'], null);
    }
    for (const [i, id] of bad.entries()) {
      const row = await waitFor(async () => { const r = await rowById(db.pool, id); return r['status'] === 'failed' ? r : undefined; }, { what: `row ${id} failed` });
      assert.match(String(row['last_error']), (cases[i] as [unknown, RegExp])[1]);
    }
  });

  it('never delivers a row for a job of another enterprise', async () => {
    const id = await insertRow(db.pool, { enterprise_id: 'victim' });
    await enqueue('attacker', id);
    const marker = await insertRow(db.pool, { enterprise_id: 'attacker' });
    await enqueue('attacker', marker);
    await waitFor(async () => (await rowById(db.pool, marker))['status'] === 'sent', { what: 'marker sent' });
    const row = await rowById(db.pool, id);
    assert.equal(row['status'], 'pending');
    assert.equal(row['attempts'], 0);
  });

  it('processes a job that fired before its row is due only when the row is due', async () => {
    const dueAt = new Date(Date.now() + 1500);
    const id = await insertRow(db.pool, { enterprise_id: 'e1', scheduled_for: dueAt });
    await enqueue('e1', id); // no delay: fires early on purpose
    const row = await waitFor(async () => { const r = await rowById(db.pool, id); return r['status'] === 'sent' ? r : undefined; }, { what: 'scheduled row sent' });
    const sentAt = (await db.pool.query<{ sent_at: Date }>('select sent_at from notify.ent_notification where id = $1', [id])).rows[0]?.sent_at;
    assert.ok(sentAt !== undefined && sentAt.getTime() >= dueAt.getTime(), `sent at ${sentAt?.toISOString()} before due ${dueAt.toISOString()}`);
    assert.equal(row['attempts'], 1);
  });

  it('does nothing for a cancelled or deleted row', async () => {
    const cancelled = await insertRow(db.pool, { enterprise_id: 'e1' });
    await db.pool.query(`update notify.ent_notification set status = 'cancelled' where id = $1`, [cancelled]);
    const deleted = await insertRow(db.pool, { enterprise_id: 'e1' });
    await db.pool.query('delete from notify.ent_notification where id = $1', [deleted]);
    const marker = await insertRow(db.pool, { enterprise_id: 'e1' });
    await enqueue('e1', cancelled);
    await enqueue('e1', deleted);
    await enqueue('e1', marker);
    await waitFor(async () => (await rowById(db.pool, marker))['status'] === 'sent', { what: 'marker sent' });
    assert.equal((await rowById(db.pool, cancelled))['status'], 'cancelled');
  });

  it('fails a row whose attempts never complete (a worker-killing row) instead of retrying it forever', async () => {
    const id = await insertRow(db.pool, { enterprise_id: 'e1' });
    // as if 20 earlier attempts had each died with their worker
    await db.pool.query(`update notify.ent_notification set attempts = 20, first_attempt_at = now() - interval '5 minutes' where id = $1`, [id]);
    await enqueue('e1', id);
    const row = await waitFor(async () => { const r = await rowById(db.pool, id); return r['status'] === 'failed' ? r : undefined; }, { what: 'abandoned row failed' });
    assert.match(String(row['last_error']), /delivery abandoned after 20 attempts that never completed/);
    assert.equal(row['transaction_id'], `notifyd-e1-${id}-1`);
  });
});
