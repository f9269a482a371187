// A Novu 429's pause: Retry-After in seconds or as an HTTP date, RateLimit-Reset in seconds or as an epoch — and
// never longer than NOVU_MAX_RETRY_AFTER_MS, so one header cannot pause every tenant for hours (or decades). The
// engine test at the end shows a day-long Retry-After costing one second through the real SDK and stand-in.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { classifyError, retryAfterMs } from '../../src/delivery/novu-client.js';
import { startEngineRig, type EngineRig } from '../support/engine.js';
import { insertRow, rowById } from '../support/rows.js';
import { waitFor } from '../support/wait.js';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const limited = (headers: Record<string, string>) => ({
  statusCode: 429,
  headers,
  body: '{"message":"API rate limit exceeded"}',
});

describe('Retry-After and RateLimit-Reset', () => {
  it('reads both forms of Retry-After and both forms of RateLimit-Reset', () => {
    assert.equal(retryAfterMs({ 'retry-after': '7' }, NOW), 7000);
    assert.equal(retryAfterMs({ 'retry-after': new Date(NOW + 12_000).toUTCString() }, NOW), 12_000);
    assert.equal(retryAfterMs({ 'ratelimit-reset': '3' }, NOW), 3000);
    assert.equal(retryAfterMs({ 'ratelimit-reset': String(NOW / 1000 + 4) }, NOW), 4000, 'an epoch in seconds');
    assert.equal(retryAfterMs({ 'retry-after': '0' }, NOW), 0);
    assert.equal(retryAfterMs({}, NOW), undefined);
  });

  it('clamps a pause longer than the maximum, whatever form asked for it, and says by how much', () => {
    const now = Date.now();
    for (const headers of <Record<string, string>[]>[
      { 'retry-after': '86400' },
      { 'retry-after': new Date(now + 3 * 3_600_000).toUTCString() },
      { 'ratelimit-reset': String(Math.floor(now / 1000) + 10 * 365 * 86_400) },
      { 'ratelimit-reset': '7200' },
    ]) {
      const out = classifyError(limited(headers), 60_000);
      assert.ok(out.kind === 'rate_limited', JSON.stringify(headers));
      assert.equal(out.retryAfterMs, 60_000, JSON.stringify(headers));
      assert.ok((out.clampedFromMs ?? 0) > 3_000_000, JSON.stringify(headers));
    }
    const short = classifyError(limited({ 'retry-after': '2' }), 60_000);
    assert.ok(short.kind === 'rate_limited' && short.retryAfterMs === 2000 && short.clampedFromMs === undefined);
  });
});

describe('a day-long Retry-After through the engine', () => {
  let rig: EngineRig;
  before(async () => {
    rig = await startEngineRig({ serve: ['e1'], pool: { novuMaxRetryAfterMs: 1000 } });
  });
  after(async () => {
    await rig.close();
  });

  it('pauses for NOVU_MAX_RETRY_AFTER_MS, not a day', async () => {
    rig.novu.faults.rateLimitBurst(1, 86_400);
    const id = await insertRow(rig.db.pool, { enterprise_id: 'e1' });
    await rig.enqueue('e1', id);
    await waitFor(async () => (await rowById(rig.db.pool, id))['status'] === 'sent', {
      what: 'sent after the clamped pause',
      timeoutMs: 10_000,
    });
    const reqs = rig.novu.requests().filter((r) => r.idempotencyKey === `notifyd-e1-${id}-1`);
    assert.equal(reqs.length, 2);
    const gap = (reqs[1]?.receivedAt ?? 0) - (reqs[0]?.receivedAt ?? 0);
    assert.ok(gap >= 900 && gap < 5000, `retried after ${gap} ms`);
  });
});
