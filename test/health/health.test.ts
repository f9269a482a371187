// /health from the registry's real statuses: healthy, degraded while anything is not fully up, unhealthy (503) when
// an essential part is down or shutdown began; /readyz follows readiness; no secret can appear (only statuses).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHealthServer } from '../../src/health/server.js';
import { StatusRegistry } from '../../src/runtime/status-registry.js';
import { assembleHealth } from '../../supervisor/health.js';

function tree(): StatusRegistry {
  const r = new StatusRegistry();
  for (const [id, kind] of [
    ['host:processing', 'host'],
    ['processing', 'processing'],
    ['scheduler', 'scheduler'],
    ['cron', 'cron'],
    ['enterprise:acme', 'enterprise'],
  ] as const) {
    r.set({ id, kind, status: kind === 'enterprise' ? 'subscribed' : 'running', health: 'ok', thread: 1 });
  }
  return r;
}

describe('/health', () => {
  it('reports an enterprise whose lease this host no longer holds not_owned, though its actor says subscribed', () => {
    const registry = tree();
    registry.set({ id: 'enterprise:umbrella', kind: 'enterprise', status: 'subscribed', health: 'ok', thread: 1 });
    // a host woken from a freeze: its renewal found acme taken over, before acme's actor has heard of it
    const h = assembleHealth({
      registry,
      startedAt: Date.now(),
      phase: () => 'running',
      disabledEnterprises: () => [],
      holds: (id) => id !== 'acme',
    });
    assert.deepEqual(h.enterprise_status, { acme: 'not_owned', umbrella: 'subscribed' });
    assert.equal(h.components.subscriptions?.active, 1);
  });

  it(
    'is healthy, then degraded, then unhealthy with 503 as parts go down, ' + 'and unhealthy once shutdown begins',
    async () => {
      const registry = tree();
      let phase: 'starting' | 'running' | 'stopping' = 'running';
      const report = () =>
        assembleHealth({
          registry,
          startedAt: Date.now() - 5000,
          phase: () => phase,
          disabledEnterprises: () => ['umbrella'],
        });
      const server = await startHealthServer({
        host: '127.0.0.1',
        port: 0,
        health: report,
        ready: () => phase === 'running',
      });
      try {
        const get = async (path: string) => {
          const res = await fetch(`${server.url}${path}`);
          return { code: res.status, body: (await res.json()) as Record<string, unknown> };
        };
        let h = await get('/health');
        assert.equal(h.code, 200);
        assert.equal(h.body['status'], 'healthy');
        assert.deepEqual(h.body['enterprise_status'], { acme: 'subscribed', umbrella: 'disabled' });
        assert.equal(h.body['uptime'], 5);

        registry.set({ id: 'enterprise:acme', status: 'reconnecting', health: 'degraded' });
        h = await get('/health');
        assert.equal(h.code, 200);
        assert.equal(h.body['status'], 'degraded');
        assert.deepEqual(h.body['components'], {
          subscriptions: { total: 1, active: 0, failed: 0 },
          cronManager: 'healthy',
          scheduledManager: 'healthy',
          queue: 'healthy',
        });

        registry.set({ id: 'processing', status: 'crashed', health: 'down', last_error: 'boom' });
        h = await get('/health');
        assert.equal(h.code, 503);
        assert.equal(h.body['status'], 'unhealthy');
        assert.equal((h.body['components'] as Record<string, unknown>)['queue'], 'unhealthy');
        assert.equal((await get('/readyz')).code, 200);

        registry.set({ id: 'processing', status: 'running', health: 'ok', last_error: null });
        phase = 'stopping';
        assert.equal((await get('/health')).code, 503);
        assert.equal((await get('/readyz')).code, 503);
        assert.equal((await get('/livez')).code, 200);
      } finally {
        await server.close();
        await server.close();
      }
    },
  );
});
