// The whole realtime path in one process tree: rows inserted by an application reach Novu exactly once with the
// right tenant, through the real supabase-js client, BullMQ on Redis, worker threads and Piscina — and nothing
// is delivered for enterprises that are disabled or not served.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon: realtime → queue → pool → Novu', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      enterprises: ['acme', 'globex', 'initech', 'umbrella'],
      tenants: ['hooli'],
      env: { ENT_umbrella_SUBSCRIPTION_ENABLED: 'false' },
    });
    await waitFor(
      () => {
        const s = stack.daemon?.report().enterprise_status ?? {};
        return s['acme'] === 'subscribed' && s['globex'] === 'subscribed' && s['initech'] === 'subscribed';
      },
      { what: 'three subscriptions', timeoutMs: 20_000 },
    );
  });
  after(async () => {
    await stack.stop();
  });

  it(
    'delivers every row of the served enterprises exactly once with the right tenant, ' + 'and nothing for the others',
    async () => {
      const served = ['acme', 'globex', 'initech'];
      const ids: Record<string, string[]> = {};
      for (const ent of [...served, 'umbrella', 'hooli']) {
        ids[ent] = [];
        for (let i = 0; i < 10; i += 1)
          ids[ent].push(
            await insertRow(stack.pool, { enterprise_id: ent, recipients: [`${ent}-user-${i}`], payload: { i } }),
          );
      }
      for (const ent of served) {
        for (const id of ids[ent] ?? []) {
          await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
            what: `${ent} row ${id} sent`,
            timeoutMs: 20_000,
          });
          const got = stack.novu.deliveriesFor(`notifyd-${ent}-${id}-1`);
          assert.equal(got.length, 1, `${ent} row ${id} delivered ${got.length} times`);
          assert.equal(got[0]?.tenantId, ent);
        }
      }
      // give the sweep (2 s) a chance to misbehave before asserting the others stayed untouched
      await new Promise((r) => setTimeout(r, 3000));
      for (const ent of ['umbrella', 'hooli']) {
        for (const id of ids[ent] ?? [])
          assert.equal((await rowById(stack.pool, id))['status'], 'pending', `${ent} row ${id} was touched`);
      }
      assert.equal(
        stack.novu.deliveries().filter((d) => d.tenantId === 'umbrella' || d.tenantId === 'hooli').length,
        0,
      );
      assert.equal(stack.novu.deliveries().length, 30);
    },
  );

  it('reports per-actor status in /health in the CONTRACT shape', async () => {
    const res = await fetch(`${stack.daemon?.health.url}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown> & {
      components: Record<string, unknown>;
      enterprise_status: Record<string, string>;
      actors: Record<string, unknown>[];
    };
    assert.equal(body['status'], 'healthy');
    assert.equal(typeof body['uptime'], 'number');
    assert.deepEqual(body.components['subscriptions'], { total: 3, active: 3, failed: 0 });
    assert.equal(body.components['queue'], 'healthy');
    assert.equal(body.components['scheduledManager'], 'healthy');
    assert.deepEqual(body.enterprise_status, {
      acme: 'subscribed',
      globex: 'subscribed',
      initech: 'subscribed',
      umbrella: 'disabled',
    });
    const acme = body.actors.find((a) => a['id'] === 'enterprise:acme');
    assert.ok(acme);
    for (const key of ['id', 'kind', 'thread', 'status', 'restarts', 'since', 'last_error'])
      assert.ok(key in acme, `actor entry lacks ${key}`);
    assert.equal(acme['kind'], 'enterprise');
    assert.ok(typeof acme['thread'] === 'number' && acme['thread'] > 0);
    assert.equal((await fetch(`${stack.daemon?.health.url}/livez`)).status, 200);
    assert.equal((await fetch(`${stack.daemon?.health.url}/readyz`)).status, 200);
  });
});
