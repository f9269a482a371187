// Novu bulk triggers through the real @novu/api SDK and the stand-in: each event of a bulk answer gets its own
// outcome (one unknown workflow fails alone), an HTTP failure is every event's, the RateLimit-Policy header is read,
// and the batching front sends bulk only where it costs no budget.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_NOVU_API_KEY, startNovuStandin } from '../../src/devstack/novu/index.js';
import type { NovuStandin } from '../../src/devstack/novu/types.js';
import { BatchingNovu, BULK_LINGER_MS } from '../../src/delivery/novu-bulk.js';
import { NovuDelivery, parseRatePolicy, type TriggerRequest } from '../../src/delivery/novu-client.js';

const req = (n: number, workflowId = 'welcome'): TriggerRequest => ({
  enterpriseId: 'acme',
  notificationId: String(n),
  transactionId: `notifyd-acme-${n}-1`,
  workflowId,
  recipients: [`user-${n}`],
  payload: { n },
});

describe('Novu bulk triggers', () => {
  let novu: NovuStandin;
  let limited: NovuStandin;
  let team: NovuStandin;
  before(async () => {
    team = await startNovuStandin({
      tenants: ['acme'],
      workflows: 'any',
      apiKeys: [DEFAULT_NOVU_API_KEY],
      rateLimit: { rps: 600 },
    });
    novu = await startNovuStandin({ tenants: ['acme'], workflows: ['welcome'], apiKeys: [DEFAULT_NOVU_API_KEY] });
    limited = await startNovuStandin({
      tenants: ['acme'],
      workflows: 'any',
      apiKeys: [DEFAULT_NOVU_API_KEY],
      rateLimit: { rps: 60 },
    });
  });
  after(async () => {
    await novu.close();
    await limited.close();
    await team.close();
  });
  const client = (s: NovuStandin) =>
    new NovuDelivery({ secretKey: DEFAULT_NOVU_API_KEY, apiUrl: s.url, timeoutMs: 5000 });

  it('maps every event of a bulk answer on its own: an unknown workflow fails alone', async () => {
    const { outcomes, call } = await client(novu).triggerBulk([req(1), req(2, 'nope'), req(3)]);
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['sent', 'rejected', 'sent'],
    );
    assert.equal(call.operation, 'trigger_bulk');
    assert.equal(call.limited, false, 'no RateLimit headers from this server');
    assert.equal(novu.deliveries().length, 2);
  });

  it('gives every event of a refused bulk request the request’s outcome', async () => {
    novu.faults.failNext(1, 503);
    const { outcomes } = await client(novu).triggerBulk([req(11), req(12)]);
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['transient', 'transient'],
    );
  });

  it('reads the RateLimit-Policy a limited server sends', async () => {
    const r = await client(limited).trigger(req(21));
    assert.equal(r.call.limited, true);
    assert.deepEqual(r.call.policy, { limit: 300, windowS: 5, burst: 330 });
    assert.deepEqual(parseRatePolicy('300;w=5;burst=330;comment="token bucket"'), {
      limit: 300,
      windowS: 5,
      burst: 330,
    });
    assert.equal(parseRatePolicy('garbage'), undefined);
  });

  it('batches concurrent first attempts on an unlimited server, never retries, never on a limited one', async () => {
    const front = new BatchingNovu(client(novu));
    await front.trigger(req(31), { firstAttempt: true }); // learns that the server is unlimited
    novu.faults.latency(30);
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) => front.trigger(req(40 + i), { firstAttempt: true })),
    );
    assert.ok(burst.every((o) => o.kind === 'sent'));
    assert.ok(front.bulkRequests >= 1, 'concurrent first attempts met in a bulk request');
    const before = front.bulkRequests;
    await Promise.all(Array.from({ length: 5 }, (_, i) => front.trigger(req(60 + i), { firstAttempt: false })));
    assert.equal(front.bulkRequests, before, 'retries go alone');
    novu.faults.latency(0);
    const onLimited = new BatchingNovu(client(limited));
    await onLimited.trigger(req(70), { firstAttempt: true });
    await Promise.all(Array.from({ length: 10 }, (_, i) => onLimited.trigger(req(80 + i), { firstAttempt: true })));
    assert.equal(onLimited.bulkRequests, 0, 'a partial bulk would cost 100 tokens for 10 events');
  });

  it('sends a full batch of 100 in bulk on a limited server, spending no more tokens than singles would', async () => {
    const onLimited = new BatchingNovu(client(limited));
    await onLimited.trigger(req(100), { firstAttempt: true }); // learns that the server is limited
    const spent = () => Object.values(limited.counters().environments).reduce((a, e) => a + e.tokens, 0);
    const tokensBefore = spent();
    limited.faults.latency(50); // the first four go alone meanwhile; the next hundred wait together
    const burst = await Promise.all(
      Array.from({ length: 200 }, (_, i) => onLimited.trigger(req(200 + i), { firstAttempt: true })),
    );
    limited.faults.latency(0);
    assert.ok(
      burst.every((o) => o.kind === 'sent'),
      JSON.stringify(burst.find((o) => o.kind !== 'sent')),
    );
    assert.ok(onLimited.bulkRequests >= 1, 'a full batch went in one bulk request');
    const tokens = spent() - tokensBefore;
    assert.ok(tokens <= 200, `${tokens} tokens for 200 triggers`);
  });

  it('holds first attempts for full batches on a limited server at 600/s, for no extra tokens', async () => {
    const onLimited = new BatchingNovu(client(team));
    await onLimited.trigger(req(1000), { firstAttempt: true }); // learns that the server is limited
    const spent = () => Object.values(team.counters().environments).reduce((a, e) => a + e.tokens, 0);
    const tokensBefore = spent();
    // 600/s for 2 s, paced by the clock: a timer that fires late (a loaded machine) makes the next burst larger, up
    // to 60, so the rate stays over the 400/s a hold needs (30 every nominal 50 ms once offered less, and no batch
    // was held); no burst comes near 100, which would fill a batch without the hold. Without the hold each goes out
    // alone, the server answering faster than they come.
    const sent: Promise<{ kind: string }>[] = [];
    const t0 = performance.now();
    while (sent.length < 1200) {
      const behind = Math.ceil(((performance.now() - t0) / 1000) * 600) + 30 - sent.length;
      const burst = Math.min(60, 1200 - sent.length, Math.max(0, behind));
      for (let i = 0; i < burst; i += 1) sent.push(onLimited.trigger(req(2000 + sent.length), { firstAttempt: true }));
      await new Promise((r) => setTimeout(r, 50));
    }
    const outcomes = await Promise.all(sent);
    assert.ok(outcomes.every((o) => o.kind === 'sent'));
    assert.ok(onLimited.bulkRequests >= 3, `${onLimited.bulkRequests} bulk requests for 1,200 triggers`);
    const tokens = spent() - tokensBefore;
    assert.ok(tokens <= 1200, `${tokens} tokens for 1,200 triggers`);
  });

  it('never holds a trickle: one trigger at a time on a limited server goes at once', async () => {
    const onLimited = new BatchingNovu(client(team));
    await onLimited.trigger(req(5000), { firstAttempt: true });
    const t0 = Date.now();
    for (let i = 0; i < 20; i += 1) await onLimited.trigger(req(5001 + i), { firstAttempt: true });
    // held, each would wait BULK_LINGER_MS: 20 of them at least 5 s
    assert.ok(Date.now() - t0 < 20 * BULK_LINGER_MS, `${Date.now() - t0} ms for 20 triggers one after another`);
    assert.equal(onLimited.bulkRequests, 0);
  });
});
