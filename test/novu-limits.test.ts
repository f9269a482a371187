// Novu's plan limits and idempotency scopes in the stand-in, driven by the real `@novu/api` SDK: per-plan token
// buckets with Novu's headers, costs, environments with their own buckets and transactionIds, organization-wide
// idempotency keys, transactionId as the only (racy) dedup when idempotency is off, cached server errors replayed
// to every retry, and the usage counters a benchmark reads over HTTP.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Novu } from '@novu/api';
import type { RetryConfig } from '@novu/api/lib/retries.js';
import { NovuError } from '@novu/api/models/errors/novuerror.js';
import {
  DEFAULT_NOVU_API_KEY,
  startNovuStandin,
  type NovuCounters,
  type NovuStandin,
  type NovuStandinOptions,
} from '../src/devstack/novu/index.js';

const NO_RETRY = { retries: { strategy: 'none' } } as const;

async function standin(t: TestContext, options: NovuStandinOptions = {}): Promise<NovuStandin> {
  const novu = await startNovuStandin({ workflows: ['welcome'], tenants: ['ent1', 'ent2'], ...options });
  t.after(() => novu.close());
  return novu;
}

function sdk(novu: NovuStandin, secretKey = DEFAULT_NOVU_API_KEY, retryConfig?: RetryConfig): Novu {
  return new Novu({ secretKey, serverURL: novu.url, ...(retryConfig ? { retryConfig } : {}) });
}

async function failure(p: Promise<unknown>): Promise<NovuError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof NovuError, `expected a NovuError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the SDK call to throw');
}

const header = (res: { headers: Record<string, string[]> }, name: string) => res.headers[name]?.[0];

describe('novu stand-in plan limits with the real @novu/api SDK', () => {
  it(
    "gives each plan Novu's trigger limit, 10 % burst and service level in RateLimit-*; " + 'none when unlimited',
    async (t) => {
      const plans = [
        ['free', '300', '330', 'free'],
        ['pro', '1200', '1320', 'pro'],
        ['team', '3000', '3300', 'business'],
        ['enterprise', '30000', '33000', 'enterprise'],
      ] as const;
      for (const [profile, limit, burst, level] of plans) {
        const novu = await standin(t, { profile });
        const res = await sdk(novu).trigger({ workflowId: 'welcome', to: 'sub-1' }, undefined, NO_RETRY);
        assert.equal(header(res, 'ratelimit-limit'), limit, profile);
        assert.equal(header(res, 'ratelimit-remaining'), String(Number(burst) - 1), profile);
        assert.equal(
          header(res, 'ratelimit-policy'),
          `${limit};w=5;burst=${burst};comment="token bucket";category="trigger";cost="single";serviceLevel="${level}"`,
        );
      }
      const open = await standin(t);
      const res = await sdk(open).trigger({ workflowId: 'welcome', to: 'sub-1' }, undefined, NO_RETRY);
      assert.equal(header(res, 'ratelimit-limit'), undefined, 'unlimited: no limiter, as self-hosted Novu');
    },
  );

  it('charges 100 tokens a bulk or broadcast and 1 a trigger: three bulks per Free burst, then 429', async (t) => {
    const clock = 5_000_000;
    const novu = await standin(t, { profile: 'free', now: () => clock });
    const api = sdk(novu);
    const bulk = () => api.triggerBulk({ events: [{ workflowId: 'welcome', to: 'a' }] }, undefined, NO_RETRY);
    assert.equal(header(await bulk(), 'ratelimit-remaining'), '230');
    assert.equal(
      header(await api.triggerBroadcast({ name: 'welcome', payload: {} }, undefined, NO_RETRY), 'ratelimit-remaining'),
      '130',
    );
    assert.equal(header(await bulk(), 'ratelimit-remaining'), '30');
    const refused = await failure(bulk());
    assert.equal(refused.statusCode, 429);
    assert.equal((JSON.parse(refused.body) as { message: string }).message, 'API rate limit exceeded');
    // 70 tokens short at one token per 5000/300 ms: the reset is 1.17 s away.
    assert.deepEqual([refused.headers.get('retry-after'), refused.headers.get('ratelimit-remaining')], ['2', '0']);
    assert.match(refused.headers.get('ratelimit-policy') ?? '', /cost="bulk";serviceLevel="free"$/);
    const single = await api.trigger({ workflowId: 'welcome', to: 'b' }, undefined, NO_RETRY);
    assert.equal(header(single, 'ratelimit-remaining'), '29', 'a single trigger is not blocked by the bulk refusal');
  });

  it("makes the SDK wait the bucket's Retry-After and then succeed", async (t) => {
    const novu = await standin(t, { rateLimit: { rps: 1 } });
    const api = sdk(novu, DEFAULT_NOVU_API_KEY, {
      strategy: 'backoff',
      backoff: { initialInterval: 50, maxInterval: 3000, exponent: 1.5, maxElapsedTime: 10_000 },
      retryConnectionErrors: true,
    });
    for (let i = 0; i < 5; i++) await api.trigger({ workflowId: 'welcome', to: 'sub-1' });
    const res = await api.trigger({ workflowId: 'welcome', to: 'sub-1' });
    assert.equal(res.result.status, 'processed');
    const reqs = novu.requests();
    const limited = reqs.find((r) => r.status === 429);
    assert.ok(limited, 'one attempt was refused');
    assert.equal(limited.responseHeaders['retry-after'], '1');
    const retry = reqs.find((r) => r.seq > limited.seq && r.status === 201);
    assert.ok(retry !== undefined && retry.receivedAt - (limited.respondedAt ?? 0) >= 900, 'waited about a second');
    assert.equal(novu.deliveries().length, 6);
  });

  it('keeps a bucket and the transactionIds per environment, and idempotency keys per organization', async (t) => {
    const clock = 7_000_000;
    const novu = await standin(t, {
      rateLimit: { rps: 1 },
      now: () => clock,
      apiKeys: [],
      environments: [
        { id: 'dev', organization: 'acme', apiKeys: ['key-dev'] },
        { id: 'prod', organization: 'acme', apiKeys: ['key-prod'] },
        { id: 'other', organization: 'globex', apiKeys: ['key-other'] },
      ],
    });
    const [dev, prod, other] = [sdk(novu, 'key-dev'), sdk(novu, 'key-prod'), sdk(novu, 'key-other')];
    const body = { workflowId: 'welcome', to: 'sub-1', transactionId: 'tx-1' };
    const first = await dev.trigger(body, 'shared-key', NO_RETRY);
    const replayed = await prod.trigger(body, 'shared-key', NO_RETRY);
    assert.deepEqual(replayed.result, first.result);
    assert.equal(header(replayed, 'idempotency-replay'), 'true', 'another environment of the same organization');
    const elsewhere = await other.trigger(body, 'shared-key', NO_RETRY);
    assert.equal(header(elsewhere, 'idempotency-replay'), undefined, 'another organization has its own keys');
    const again = await prod.trigger(body, 'prod-key', NO_RETRY);
    assert.equal(again.result.status, 'processed');
    assert.deepEqual(
      novu.deliveries().map((d) => [d.environment, d.transactionId]),
      [
        ['dev', 'tx-1'],
        ['other', 'tx-1'],
        ['prod', 'tx-1'],
      ],
      'a transactionId is only a repeat in its environment',
    );
    for (let i = 0; i < 4; i++) await dev.trigger({ workflowId: 'welcome', to: 'sub-2' }, undefined, NO_RETRY);
    const refused = await failure(dev.trigger({ workflowId: 'welcome', to: 'sub-2' }, undefined, NO_RETRY));
    assert.equal(refused.statusCode, 429);
    assert.equal(
      (await prod.trigger({ workflowId: 'welcome', to: 'sub-2' }, undefined, NO_RETRY)).result.status,
      'processed',
      'prod has its own bucket',
    );
  });

  it(
    'without idempotency only the transactionId dedups, not atomically: ' + 'repeats within the race window pass',
    async (t) => {
      let clock = 9_000_000;
      const novu = await standin(t, { idempotency: false, transactionIdRaceMs: 200, now: () => clock });
      const api = sdk(novu);
      const body = { workflowId: 'welcome', to: 'sub-1', transactionId: 'tx-race' };
      await api.trigger(body, 'k-1', NO_RETRY);
      clock += 150;
      await api.trigger(body, 'k-1', NO_RETRY);
      clock += 100;
      const late = await api.trigger(body, 'k-1', NO_RETRY);
      assert.equal(late.result.transactionId, 'tx-race');
      assert.equal(header(late, 'idempotency-replay'), undefined, 'the key is not looked at');
      assert.equal(novu.deliveriesFor('tx-race').length, 2, 'the repeat 150 ms later was delivered again');
      assert.deepEqual(
        novu.ignored().map((i) => i.transactionId),
        ['tx-race'],
        'the one 250 ms later was caught',
      );
    },
  );

  it('with replayServerErrors a server error is cached under the key and every retry gets it back', async (t) => {
    const novu = await standin(t, { idempotency: { replayServerErrors: true } });
    novu.faults.failNext(1);
    const api = sdk(novu, DEFAULT_NOVU_API_KEY, {
      strategy: 'backoff',
      backoff: { initialInterval: 50, maxInterval: 100, exponent: 1.5, maxElapsedTime: 600 },
      retryConnectionErrors: true,
    });
    const err = await failure(api.trigger({ workflowId: 'welcome', to: 'sub-1' }, 'k-500'));
    assert.equal(err.statusCode, 500);
    const reqs = novu.requests();
    assert.ok(reqs.length >= 2, 'the SDK retried');
    assert.deepEqual(
      reqs.map((r) => [r.status, r.replay]),
      reqs.map((_, i) => [500, i > 0]),
    );
    assert.equal(novu.deliveries().length, 0);
    assert.equal((await api.trigger({ workflowId: 'welcome', to: 'sub-1' }, 'k-new')).result.status, 'processed');
  });

  it(
    'counts requests, tokens, events and 429s per environment and tenant, ' + 'also at GET /_standin/counters',
    async (t) => {
      const clock = 11_000_000;
      const novu = await standin(t, { workflows: ['welcome', { id: 'held', delayMs: 60_000 }], now: () => clock });
      const api = sdk(novu);
      await api.trigger({ workflowId: 'welcome', to: 'a', tenant: 'ent1' }, undefined, NO_RETRY);
      await api.trigger({ workflowId: 'held', to: 'b', tenant: 'ent1', transactionId: 'h-1' }, undefined, NO_RETRY);
      await api.triggerBulk(
        {
          events: [
            { workflowId: 'welcome', to: 'c', tenant: 'ent1' },
            { workflowId: 'welcome', to: 'd', tenant: 'ent2' },
          ],
        },
        undefined,
        NO_RETRY,
      );
      await api.cancel('h-1', undefined, NO_RETRY);
      const res = await fetch(`${novu.url}/_standin/counters`);
      assert.equal(res.status, 200);
      const c = (await res.json()) as NovuCounters;
      assert.deepEqual(c.environments, novu.counters().environments, 'the endpoint shows what counters() returns');
      assert.equal(c.service, 'novu');
      assert.equal(c.rateLimit, null);
      assert.deepEqual(c.environments['default'], {
        requests: 4,
        tokens: 103,
        events: 4,
        throttled: 0,
        byRoute: { trigger: 2, bulk: 1, cancel: 1 },
      });
      assert.deepEqual(c.tenants['ent1'], { requests: 3, tokens: 52, events: 3, throttled: 0 });
      assert.deepEqual(c.tenants['ent2'], { requests: 1, tokens: 50, events: 1, throttled: 0 });
      assert.ok(!JSON.stringify(c).includes(DEFAULT_NOVU_API_KEY), 'no API key in the counters');

      const limited = await standin(t, { rateLimit: { rps: 1 }, now: () => clock });
      const l = sdk(limited);
      const ent2 = { workflowId: 'welcome', to: 'a', tenant: 'ent2' };
      for (let i = 0; i < 5; i++) await l.trigger(ent2, undefined, NO_RETRY);
      await failure(l.trigger(ent2, undefined, NO_RETRY));
      assert.deepEqual(limited.counters().tenants['ent2'], { requests: 6, tokens: 5, events: 5, throttled: 1 });
      assert.equal(limited.counters().rateLimit?.rps, 1);
    },
  );
});
