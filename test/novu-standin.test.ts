// Conformance of the Novu stand-in, driven by the real `@novu/api` 3.19.1 SDK: response shapes the SDK
// accepts, Novu's error statuses, Idempotency-Key and transactionId rules, and the SDK's retries
// against the fault switches (5xx, 503, 429 + Retry-After, lost responses, connection resets).
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Novu } from '@novu/api';
import type { RetryConfig } from '@novu/api/lib/retries.js';
import { NovuError } from '@novu/api/models/errors/novuerror.js';
import {
  DEFAULT_NOVU_API_KEY,
  startNovuStandin,
  type NovuStandin,
  type NovuStandinOptions,
} from '../src/devstack/novu/index.js';

const FAST_RETRY: RetryConfig = {
  strategy: 'backoff',
  backoff: { initialInterval: 50, maxInterval: 500, exponent: 1.5, maxElapsedTime: 5000 },
  retryConnectionErrors: true,
};
const NO_RETRY = { retries: { strategy: 'none' } } as const;

async function standin(t: TestContext, options: NovuStandinOptions = {}): Promise<NovuStandin> {
  const novu = await startNovuStandin({ workflows: ['welcome'], tenants: ['ent1'], ...options });
  t.after(() => novu.close());
  return novu;
}

function client(
  novu: NovuStandin,
  extra: { secretKey?: string; retryConfig?: RetryConfig; timeoutMs?: number } = {},
): Novu {
  return new Novu({ secretKey: DEFAULT_NOVU_API_KEY, serverURL: novu.url, retryConfig: FAST_RETRY, ...extra });
}

/** The SDK error a call rejects with (every HTTP error extends NovuError). */
async function failure(p: Promise<unknown>): Promise<NovuError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof NovuError, `expected a NovuError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the SDK call to throw');
}

const bodyOf = (err: NovuError): Record<string, unknown> => JSON.parse(err.body) as Record<string, unknown>;
const statuses = (novu: NovuStandin): (number | null)[] => novu.requests().map((r) => r.status);

describe('novu stand-in with the real @novu/api SDK', () => {
  it(
    'answers a trigger with {acknowledged, processed, transactionId} ' +
      'and records one delivery with workflow, recipients, payload and tenant',
    async (t) => {
      const novu = await standin(t);
      const res = await client(novu).trigger(
        {
          workflowId: 'welcome',
          to: [{ subscriberId: 'sub-1', email: 'a@example.com' }, 'sub-2'],
          payload: { title: 'Hi', n: 1 },
          tenant: 'ent1',
          transactionId: 'tx-1',
        },
        'key-1',
      );
      assert.deepEqual(res.result, { acknowledged: true, status: 'processed', transactionId: 'tx-1' });
      assert.deepEqual(res.headers['idempotency-key'], ['key-1']);
      const [d, ...more] = novu.deliveries();
      assert.equal(more.length, 0);
      assert.equal(d?.kind, 'trigger');
      assert.equal(d?.workflow, 'welcome');
      assert.deepEqual(d?.to, [{ subscriberId: 'sub-1', email: 'a@example.com' }, 'sub-2']);
      assert.deepEqual(d?.payload, { title: 'Hi', n: 1 });
      assert.equal(d?.tenantId, 'ent1');
      assert.equal(d?.transactionId, 'tx-1');
      assert.equal(d?.idempotencyKey, 'key-1');
      const [req] = novu.requests();
      assert.equal(req?.method, 'POST');
      assert.equal(req?.path, '/v1/events/trigger');
      assert.equal(req?.headers['authorization'], `ApiKey ${DEFAULT_NOVU_API_KEY}`);
      assert.equal((req?.body as { name?: string }).name, 'welcome', 'the SDK renames workflowId to name');
      assert.equal(req?.responseHeaders['content-type'], 'application/json; charset=utf-8');
    },
  );

  it(
    'wraps every success in {data} with 201 for POST and 200 for DELETE, ' + 'and always answers application/json',
    async (t) => {
      const novu = await standin(t);
      const post = await fetch(`${novu.url}/v1/events/trigger`, {
        method: 'POST',
        body: JSON.stringify({ name: 'welcome', to: 'sub-1' }),
        headers: { authorization: `ApiKey ${DEFAULT_NOVU_API_KEY}`, 'content-type': 'application/json' },
      });
      assert.equal(post.status, 201);
      assert.match(post.headers.get('content-type') ?? '', /^application\/json/);
      const posted = (await post.json()) as { data: { transactionId: string } };
      assert.deepEqual(Object.keys(posted), ['data']);
      const del = await fetch(`${novu.url}/v1/events/trigger/${posted.data.transactionId}`, {
        method: 'DELETE',
        headers: { authorization: `ApiKey ${DEFAULT_NOVU_API_KEY}` },
      });
      assert.equal(del.status, 200);
      assert.deepEqual(await del.json(), { data: false });
      const missing = await fetch(`${novu.url}/v1/nowhere`, { method: 'POST' });
      assert.equal(missing.status, 404);
      assert.match(missing.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(Object.keys((await missing.json()) as object).sort(), [
        'error',
        'message',
        'path',
        'statusCode',
        'timestamp',
      ]);
    },
  );

  it(
    'answers a bulk trigger with one result per event in request order, ' + 'failures as status "error" items',
    async (t) => {
      const novu = await standin(t, { workflows: ['welcome', { id: 'paused', status: 'trigger_not_active' }] });
      const res = await client(novu).triggerBulk({
        events: [
          { workflowId: 'welcome', to: 'sub-1', payload: { i: 0 }, transactionId: 'b-0' },
          { workflowId: 'nope', to: 'sub-2', payload: { i: 1 } },
          { workflowId: 'welcome', to: 'sub-3', tenant: 'ghost' },
          { workflowId: 'paused', to: 'sub-4' },
          { workflowId: 'welcome', to: 'sub-5', payload: { i: 4 }, transactionId: 'b-4' },
        ],
      });
      assert.deepEqual(res.result, [
        { acknowledged: true, status: 'processed', transactionId: 'b-0' },
        { acknowledged: true, status: 'error', error: ['workflow_not_found'] },
        { acknowledged: true, status: 'no_tenant_found' },
        { acknowledged: true, status: 'trigger_not_active' },
        { acknowledged: true, status: 'processed', transactionId: 'b-4' },
      ]);
      assert.deepEqual(
        novu.deliveries().map((d) => [d.kind, d.transactionId, d.to]),
        [
          ['bulk', 'b-0', ['sub-1']],
          ['bulk', 'b-4', ['sub-5']],
        ],
      );
    },
  );

  it('answers a broadcast as processed and records it as a broadcast delivery', async (t) => {
    const novu = await standin(t);
    const res = await client(novu).triggerBroadcast({ name: 'welcome', payload: { all: true }, tenant: 'ent1' });
    assert.equal(res.result.status, 'processed');
    assert.ok(res.result.transactionId, 'a broadcast gets a generated transactionId');
    assert.deepEqual(
      novu.deliveries().map((d) => [d.kind, d.workflow, d.to, d.payload, d.transactionId]),
      [['broadcast', 'welcome', [], { all: true }, res.result.transactionId]],
    );
  });

  it(
    'cancels a delivery held by a delayed workflow (true, never delivered) ' +
      'but answers false for unknown or already delivered ids',
    async (t) => {
      const novu = await standin(t, { workflows: ['welcome', { id: 'digest', delayMs: 300 }] });
      const sdk = client(novu);
      await sdk.trigger({ workflowId: 'digest', to: 'sub-1', transactionId: 'held-a' });
      await sdk.trigger({ workflowId: 'digest', to: 'sub-1', transactionId: 'held-b' });
      await sdk.trigger({ workflowId: 'welcome', to: 'sub-1', transactionId: 'sent-now' });
      assert.equal(novu.held().length, 2);
      assert.equal((await sdk.cancel('held-a')).result, true);
      assert.equal((await sdk.cancel('held-a')).result, false, 'already cancelled');
      assert.equal((await sdk.cancel('never-seen')).result, false);
      assert.equal((await sdk.cancel('sent-now')).result, false, 'an immediate delivery cannot be recalled');
      await novu.waitForDeliveries(2, 3000);
      assert.equal((await sdk.cancel('held-b')).result, false, 'delivered after its delay');
      assert.deepEqual(
        novu
          .deliveries()
          .map((d) => d.transactionId)
          .sort(),
        ['held-b', 'sent-now'],
      );
      assert.deepEqual(
        novu.cancelled().map((d) => d.transactionId),
        ['held-a'],
      );
    },
  );

  it(
    'refuses a wrong API key with 401 "API Key not found" (not retried) ' + 'and names a missing or foreign scheme',
    async (t) => {
      const novu = await standin(t);
      const err = await failure(
        client(novu, { secretKey: 'wrong-key' }).trigger({ workflowId: 'welcome', to: 'sub-1' }),
      );
      assert.equal(err.statusCode, 401);
      assert.equal(bodyOf(err)['message'], 'API Key not found');
      assert.equal(err.message, 'API Key not found', 'the SDK parses it as an ErrorDto');
      assert.equal(novu.requests().length, 1);
      const call = async (authorization?: string): Promise<unknown> => {
        const r = await fetch(`${novu.url}/v1/events/trigger`, {
          method: 'POST',
          body: '{}',
          headers: authorization === undefined ? {} : { authorization },
        });
        assert.equal(r.status, 401);
        return ((await r.json()) as { message: unknown }).message;
      };
      assert.equal(await call(), 'Missing authorization header');
      assert.equal(await call('Basic abc'), 'Invalid authentication scheme: "Basic"');
      assert.equal(await call('ApiKey '), 'Unauthorized');
      assert.equal(novu.deliveries().length, 0);
    },
  );

  it(
    "answers an unknown workflow with 422 workflow_not_found in Novu's error shape " + 'and delivers nothing',
    async (t) => {
      const novu = await standin(t);
      const err = await failure(client(novu).trigger({ workflowId: 'unknown-wf', to: 'sub-1' }));
      assert.equal(err.statusCode, 422);
      const body = bodyOf(err);
      assert.equal(body['message'], 'workflow_not_found');
      assert.equal(body['error'], 'Unprocessable Entity');
      assert.equal(body['path'], '/v1/events/trigger');
      assert.equal(typeof body['timestamp'], 'string');
      // Novu's real 422 has no `errors` map, which the SDK's ValidationErrorDto requires: it surfaces as
      // ResponseValidationError. Callers must branch on statusCode, not on the error class.
      assert.equal(err.name, 'ResponseValidationError');
      assert.equal(novu.requests().length, 1, '422 is not retried');
      assert.equal(novu.deliveries().length, 0);
    },
  );

  it('acknowledges an unknown tenant as no_tenant_found without a transactionId and delivers nothing', async (t) => {
    const novu = await standin(t);
    const res = await client(novu).trigger({
      workflowId: 'welcome',
      to: 'sub-1',
      tenant: { identifier: 'ghost', name: 'Ghost' },
    });
    assert.deepEqual(res.result, { acknowledged: true, status: 'no_tenant_found' });
    assert.equal(novu.deliveries().length, 0);
  });

  it(
    'replays a repeated Idempotency-Key from the cache with Idempotency-Replay: true ' + 'and does not deliver twice',
    async (t) => {
      const novu = await standin(t);
      const sdk = client(novu);
      const body = { workflowId: 'welcome', to: 'sub-1', payload: { n: 1 } };
      const first = await sdk.trigger(body, 'idem-1');
      const second = await sdk.trigger(body, 'idem-1');
      assert.deepEqual(second.result, first.result, 'same generated transactionId: the first answer, replayed');
      assert.deepEqual(second.headers['idempotency-replay'], ['true']);
      assert.deepEqual(second.headers['idempotency-key'], ['idem-1']);
      assert.equal(first.headers['idempotency-replay'], undefined);
      assert.equal(novu.deliveries().length, 1);
      assert.deepEqual(
        novu.requests().map((r) => r.replay),
        [false, true],
      );
    },
  );

  it('refuses the same Idempotency-Key with a different body with 422', async (t) => {
    const novu = await standin(t);
    const sdk = client(novu);
    await sdk.trigger({ workflowId: 'welcome', to: 'sub-1', payload: { n: 1 } }, 'idem-2');
    const err = await failure(sdk.trigger({ workflowId: 'welcome', to: 'sub-1', payload: { n: 2 } }, 'idem-2'));
    assert.equal(err.statusCode, 422);
    assert.equal(bodyOf(err)['message'], 'Request with key "idem-2" is being reused for a different body');
    assert.match(err.headers.get('link') ?? '', /idempotency/);
    assert.equal(novu.deliveries().length, 1);
  });

  it('refuses an Idempotency-Key longer than 255 characters with 400', async (t) => {
    const novu = await standin(t);
    const err = await failure(client(novu).trigger({ workflowId: 'welcome', to: 'sub-1' }, 'k'.repeat(256)));
    assert.equal(err.statusCode, 400);
    assert.match(String(bodyOf(err)['message']), /exceeded the maximum allowed length of 255 characters/);
    assert.equal(novu.deliveries().length, 0);
  });

  it(
    'answers a concurrent request with the same key 409 + Retry-After: 1; ' +
      'the SDK waits and ends with one delivery',
    async (t) => {
      const novu = await standin(t);
      novu.faults.latency(300, { count: 1, phase: 'processing' });
      const sdk = client(novu, {
        retryConfig: { ...FAST_RETRY, backoff: { ...FAST_RETRY.backoff!, maxInterval: 2000 } } as RetryConfig,
      });
      const body = { workflowId: 'welcome', to: 'sub-1', payload: { n: 1 } };
      const [a, b] = await Promise.all([sdk.trigger(body, 'idem-3'), sdk.trigger(body, 'idem-3')]);
      assert.deepEqual(a.result, b.result);
      assert.equal(novu.deliveries().length, 1);
      const reqs = novu.requests();
      const conflict = reqs.find((r) => r.status === 409);
      assert.ok(conflict, `statuses ${JSON.stringify(statuses(novu))}`);
      assert.equal(conflict.responseHeaders['retry-after'], '1');
      const retry = reqs.find((r) => r.seq > conflict.seq);
      assert.ok(retry?.replay, 'the retry is answered from the cache');
      const gap = retry.receivedAt - (conflict.respondedAt ?? 0);
      assert.ok(gap >= 900 && gap < 2500, `retry after ${gap} ms, Retry-After was 1 s`);
    },
  );

  it('answers a repeated transactionId as processed with the same id but does not deliver it again', async (t) => {
    const novu = await standin(t);
    const sdk = client(novu);
    const a = await sdk.trigger({ workflowId: 'welcome', to: 'sub-1', payload: { v: 1 }, transactionId: 'dup-1' });
    const b = await sdk.trigger({ workflowId: 'welcome', to: 'sub-1', payload: { v: 2 }, transactionId: 'dup-1' });
    assert.deepEqual(b.result, a.result);
    assert.deepEqual(b.result, { acknowledged: true, status: 'processed', transactionId: 'dup-1' });
    assert.deepEqual(
      novu.deliveriesFor('dup-1').map((d) => d.payload),
      [{ v: 1 }],
    );
    assert.deepEqual(
      novu.ignored().map((i) => [i.transactionId, i.reason]),
      [['dup-1', 'duplicate-transaction']],
    );
  });

  it('makes the SDK wait Retry-After on a 429 before retrying', async (t) => {
    const novu = await standin(t);
    novu.faults.rateLimitBurst(1, 1);
    const sdk = client(novu, {
      retryConfig: { ...FAST_RETRY, backoff: { ...FAST_RETRY.backoff!, maxInterval: 3000 } } as RetryConfig,
    });
    const res = await sdk.trigger({ workflowId: 'welcome', to: 'sub-1' });
    assert.equal(res.result.status, 'processed');
    const [limited, retried] = novu.requests();
    assert.equal(limited?.status, 429);
    assert.equal(limited?.responseHeaders['retry-after'], '1');
    assert.equal(retried?.status, 201);
    assert.equal(retried?.idempotencyKey, limited?.idempotencyKey);
    const gap = (retried?.receivedAt ?? 0) - (limited?.respondedAt ?? 0);
    assert.ok(gap >= 900 && gap < 2500, `retry after ${gap} ms, Retry-After was 1 s`);
    assert.equal(novu.deliveries().length, 1);
  });

  it(
    'rate-limits with a token bucket: rps×5 +10 % burst, bulk costs 100, ' +
      'RateLimit-* headers, 429 "API rate limit exceeded"',
    async (t) => {
      const clock = 2_000_000; // pinned: a real clock would refill a token every 50 ms
      const novu = await standin(t, { rateLimit: { rps: 20 }, now: () => clock });
      const sdk = client(novu);
      const bulk = await sdk.triggerBulk({ events: [{ workflowId: 'welcome', to: 'sub-1' }] }, undefined, NO_RETRY);
      assert.deepEqual(bulk.headers['ratelimit-limit'], ['100']);
      assert.deepEqual(bulk.headers['ratelimit-remaining'], ['10'], 'burst 110 minus 100 for a bulk call');
      assert.match(
        bulk.headers['ratelimit-policy']?.join(',') ?? '',
        /^100;w=5;burst=110;comment="token bucket";category="trigger";cost="bulk"/,
      );
      for (let i = 0; i < 10; i++) await sdk.trigger({ workflowId: 'welcome', to: 'sub-1' }, undefined, NO_RETRY);
      const err = await failure(sdk.trigger({ workflowId: 'welcome', to: 'sub-1' }, undefined, NO_RETRY));
      assert.equal(err.statusCode, 429);
      assert.equal(bodyOf(err)['message'], 'API rate limit exceeded');
      const retryAfter = Number(err.headers.get('retry-after'));
      assert.ok(retryAfter >= 0 && retryAfter <= 5, `Retry-After ${retryAfter}`);
      assert.equal(err.headers.get('ratelimit-remaining'), '0');
      assert.equal(
        (await failure(sdk.triggerBulk({ events: [{ workflowId: 'welcome', to: 'x' }] }, undefined, NO_RETRY)))
          .statusCode,
        429,
      );
      assert.equal(novu.deliveries().length, 11);
    },
  );

  it('refills a token every window/(rps×window) ms once the bucket cannot pay; forgets it 2 windows on', async (t) => {
    // Novu's token-bucket Lua script (evaluate-token-bucket-rate-limit.usecase.ts): rps 1 → 5 tokens, 1 per 1000 ms.
    let clock = 1_000_000;
    const novu = await standin(t, { rateLimit: { rps: 1 }, now: () => clock });
    const sdk = client(novu);
    const send = () => sdk.trigger({ workflowId: 'welcome', to: 'sub-1' }, undefined, NO_RETRY);
    const remaining = async () => (await send()).headers['ratelimit-remaining']?.[0];
    for (const left of ['4', '3', '2', '1', '0']) assert.equal(await remaining(), left);
    const empty = await failure(send());
    assert.equal(empty.statusCode, 429);
    assert.deepEqual([empty.headers.get('retry-after'), empty.headers.get('ratelimit-reset')], ['1', '1']);
    clock += 500;
    const blocked = await failure(send());
    assert.equal(blocked.headers.get('ratelimit-remaining'), '0', 'blocked until the reset without asking the bucket');
    clock += 500;
    assert.equal(await remaining(), '0', 'one token came back after 1000 ms');
    clock += 3000;
    assert.equal(await remaining(), '2', 'three more after 3 s, taken when the bucket could not pay');
    clock += 5000;
    assert.equal(await remaining(), '1', 'no refill while the bucket can pay');
    clock += 11_000;
    assert.equal(await remaining(), '4', 'a new bucket 2 windows after the last refill');
  });

  it(
    'replays a cached error with its original status by default, ' +
      "or as 503 as Novu's interceptor source does, and forgets keys after the TTL",
    async (t) => {
      const original = await standin(t, { idempotency: { ttlMs: 100 } });
      const sdk = client(original);
      const body = { workflowId: 'unknown-wf', to: 'sub-1' };
      assert.equal((await failure(sdk.trigger(body, 'idem-e'))).statusCode, 422);
      const replayed = await failure(sdk.trigger(body, 'idem-e'));
      assert.equal(replayed.statusCode, 422);
      assert.equal(replayed.headers.get('idempotency-replay'), 'true');
      original.addWorkflow('unknown-wf');
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(
        (await sdk.trigger(body, 'idem-e')).result.status,
        'processed',
        'the key expired, so the request ran again',
      );

      const quirky = await standin(t, { idempotency: { errorReplay: 'service-unavailable' } });
      const q = client(quirky);
      assert.equal((await failure(q.trigger(body, 'idem-q'))).statusCode, 422);
      const unavailable = await failure(q.trigger(body, 'idem-q', NO_RETRY));
      assert.equal(unavailable.statusCode, 503);
      assert.equal(unavailable.headers.get('idempotency-replay'), 'true');
    },
  );

  it('retries a 5xx raised before processing with the same Idempotency-Key and delivers once', async (t) => {
    const novu = await standin(t);
    novu.faults.failNext(1);
    const res = await client(novu).trigger({ workflowId: 'welcome', to: 'sub-1' }, 'idem-5xx');
    assert.equal(res.result.status, 'processed');
    assert.deepEqual(statuses(novu), [500, 201]);
    assert.deepEqual(
      novu.requests().map((r) => r.idempotencyKey),
      ['idem-5xx', 'idem-5xx'],
    );
    assert.equal(novu.deliveries().length, 1);
  });

  it(
    'retries a 5xx raised after processing with the same key; ' + 'the retry is a replay and delivers nothing new',
    async (t) => {
      const novu = await standin(t);
      novu.faults.failNext(1, { status: 502, afterProcessing: true });
      const res = await client(novu).trigger({ workflowId: 'welcome', to: 'sub-1' });
      assert.equal(res.result.status, 'processed');
      assert.deepEqual(statuses(novu), [502, 201]);
      assert.deepEqual(
        novu.requests().map((r) => r.replay),
        [false, true],
      );
      assert.deepEqual(
        novu.deliveries().map((d) => d.transactionId),
        [res.result.transactionId],
      );
    },
  );

  it('retries a 503 without a body; a failure fraction of 1 fails every request', async (t) => {
    const novu = await standin(t);
    novu.faults.unavailableNext(2);
    const res = await client(novu).trigger({ workflowId: 'welcome', to: 'sub-1' });
    assert.equal(res.result.status, 'processed');
    assert.deepEqual(statuses(novu), [503, 503, 201]);
    assert.equal(novu.requests()[0]?.responseHeaders['content-length'], '0');
    assert.equal(novu.deliveries().length, 1);
    novu.faults.failFraction(1, 504);
    assert.equal(
      (await failure(client(novu).trigger({ workflowId: 'welcome', to: 'sub-1' }, undefined, NO_RETRY))).statusCode,
      504,
    );
    novu.faults.failFraction(0);
    assert.equal((await client(novu).trigger({ workflowId: 'welcome', to: 'sub-1' })).result.status, 'processed');
  });

  it(
    'does not deliver twice when a response is lost to the client timeout ' + 'and the SDK retries with the same key',
    async (t) => {
      const novu = await standin(t);
      novu.faults.latency(700, { count: 1 });
      const res = await client(novu, { timeoutMs: 200 }).trigger({ workflowId: 'welcome', to: 'sub-1' }, 'idem-lost');
      assert.equal(res.result.status, 'processed');
      assert.deepEqual(res.headers['idempotency-replay'], ['true']);
      await new Promise((r) => setTimeout(r, 600));
      const [lost, retried] = novu.requests();
      assert.equal(lost?.outcome, 'client-gone', 'the first attempt was processed but its answer never arrived');
      assert.equal(retried?.replay, true);
      assert.deepEqual(
        novu.deliveries().map((d) => d.transactionId),
        [res.result.transactionId],
      );
    },
  );

  it('without idempotency, a lost response is still delivered once when the caller sets a transactionId', async (t) => {
    const novu = await standin(t, { idempotency: false });
    novu.faults.latency(700, { count: 1 });
    const res = await client(novu, { timeoutMs: 200 }).trigger({
      workflowId: 'welcome',
      to: 'sub-1',
      transactionId: 'tx-lost',
    });
    assert.equal(res.result.transactionId, 'tx-lost');
    assert.equal(novu.deliveries().length, 1);
    assert.deepEqual(
      novu.ignored().map((i) => i.transactionId),
      ['tx-lost'],
    );
  });

  it('retries a connection reset; a reset after processing is answered from the idempotency cache', async (t) => {
    const novu = await standin(t);
    const sdk = client(novu);
    novu.faults.resetNext(1);
    const a = await sdk.trigger({ workflowId: 'welcome', to: 'sub-1' });
    novu.faults.resetNext(1, { afterProcessing: true });
    const b = await sdk.trigger({ workflowId: 'welcome', to: 'sub-2' });
    assert.deepEqual(
      novu.requests().map((r) => [r.outcome, r.replay]),
      [
        ['reset', false],
        ['responded', false],
        ['reset', false],
        ['responded', true],
      ],
    );
    assert.deepEqual(
      novu.deliveries().map((d) => d.transactionId),
      [a.result.transactionId, b.result.transactionId],
    );
  });

  it('refuses a bulk of 0 or 101 events with 400', async (t) => {
    const novu = await standin(t);
    const sdk = client(novu);
    const empty = await failure(sdk.triggerBulk({ events: [] }));
    assert.equal(empty.statusCode, 400);
    assert.deepEqual(bodyOf(empty)['message'], ['events should not be empty']);
    const events = Array.from({ length: 101 }, (_, i) => ({ workflowId: 'welcome', to: `sub-${i}` }));
    const tooMany = await failure(sdk.triggerBulk({ events }));
    assert.equal(tooMany.statusCode, 400);
    assert.deepEqual(bodyOf(tooMany)['message'], ['events must contain no more than 100 elements']);
    assert.equal((await sdk.triggerBulk({ events: events.slice(0, 100) })).result.length, 100);
    assert.equal(novu.deliveries().length, 100);
  });

  it("refuses an event payload over 512 KB with 413 and Novu's message, in a trigger and in a bulk", async (t) => {
    const novu = await standin(t);
    const sdk = client(novu);
    const big = { blob: 'x'.repeat(524_288) };
    const err = await failure(sdk.trigger({ workflowId: 'welcome', to: 'sub-1', payload: big }));
    assert.equal(err.statusCode, 413);
    assert.match(
      err.message,
      new RegExp(
        /^Payload size \(\d+ bytes\) exceeds maximum allowed size of 524288 bytes \(512KB\)\. /.source +
          /Note: Attachments are excluded from this limit\.$/.source,
      ),
    );
    const bulkErr = await failure(
      sdk.triggerBulk({
        events: [
          { workflowId: 'welcome', to: 'a' },
          { workflowId: 'welcome', to: 'b', payload: big },
        ],
      }),
    );
    assert.equal(bulkErr.statusCode, 413);
    assert.match(
      bulkErr.message,
      new RegExp(
        /^Event at index 1 \(workflow: "welcome"\) has payload size \(\d+ bytes\) /.source +
          /exceeds maximum allowed size of 524288 bytes/.source,
      ),
    );
    const ok = await sdk.trigger({ workflowId: 'welcome', to: 'sub-1', payload: { blob: 'x'.repeat(500_000) } });
    assert.equal(ok.result.status, 'processed');
    assert.equal(novu.deliveries().length, 1);
  });

  it('refuses more than 100 recipients in one trigger with 400', async (t) => {
    const novu = await standin(t);
    const sdk = client(novu);
    const to = Array.from({ length: 101 }, (_, i) => `sub-${i}`);
    const err = await failure(sdk.trigger({ workflowId: 'welcome', to }));
    assert.equal(err.statusCode, 400);
    assert.equal((await sdk.trigger({ workflowId: 'welcome', to: to.slice(0, 100) })).result.status, 'processed');
    assert.equal(novu.deliveries()[0]?.to.length, 100);
  });

  it(
    'forgets records and state on reset() but keeps its configuration; ' + 'close() is idempotent and bounded',
    async () => {
      const novu = await startNovuStandin({ workflows: ['welcome'] });
      const sdk = client(novu);
      await sdk.trigger({ workflowId: 'welcome', to: 'sub-1', transactionId: 'r-1' }, 'idem-r');
      novu.faults.failNext(5);
      novu.reset();
      assert.equal(novu.deliveries().length + novu.requests().length, 0);
      const again = await sdk.trigger({ workflowId: 'welcome', to: 'sub-1', transactionId: 'r-1' }, 'idem-r');
      assert.equal(again.headers['idempotency-replay'], undefined, 'idempotency cache was cleared');
      assert.deepEqual(statuses(novu), [201], 'faults were cleared');
      assert.equal(novu.deliveries().length, 1, 'the transaction ledger was cleared');
      novu.faults.latency(10_000);
      const hanging = sdk.trigger({ workflowId: 'welcome', to: 'sub-2' }, undefined, NO_RETRY).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await Promise.all([novu.close(), novu.close()]);
      await novu.close();
      assert.ok(Date.now() - started < 2500, 'close() is bounded');
      await hanging;
    },
  );
});
