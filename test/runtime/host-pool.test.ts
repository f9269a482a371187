// Dynamic enterprise actors over a pool of host threads: least-loaded placement, bounded start concurrency,
// removal at run time, a dead host thread restarted with exactly its own actors, the registry as /health
// will read it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, NotifydError } from '../../src/errors.js';
import { HostPool } from '../../src/runtime/host-pool.js';
import { StatusRegistry } from '../../src/runtime/status-registry.js';
import type { ActorStatus } from '../../src/runtime/types.js';
import { fixture, nextEvent, waitFor } from '../fixtures/runtime/helpers.js';

const echo = fixture('echo');
const enterprise = (i: number) => ({ id: `enterprise:ent${i}`, kind: 'enterprise', module: echo, args: {} });

describe('host pool', () => {
  const registry = new StatusRegistry();
  const pool = new HostPool({
    id: 'realtime',
    size: 3,
    registry,
    host: { heartbeatMs: 100, data: { shared: 'config' } },
    intensity: 5,
    periodMs: 10_000,
  });
  before(async () => {
    await pool.start();
  });
  after(async () => {
    await pool.stop(5_000);
  });

  it('places actors on the least-loaded host and starts many with bounded concurrency', async () => {
    const starting = new Set<string>();
    let peak = 0;
    const off = registry.subscribe(({ status }) => {
      if (status.status === 'starting') starting.add(status.id);
      else starting.delete(status.id);
      peak = Math.max(peak, starting.size);
    });
    const results = await pool.spawnMany(
      Array.from({ length: 30 }, (_, i) => ({ ...enterprise(i), args: { startDelayMs: 20 } })),
      4,
    );
    off();
    assert.ok(results.every((r) => r.status === 'fulfilled'));
    assert.ok(peak >= 2 && peak <= 4, `at most 4 actors starting at once (peak ${peak})`);
    assert.deepEqual(
      pool.hosts.map((h) => h.size),
      [10, 10, 10],
    );
    assert.deepEqual(
      pool.hosts.map((h) => h.id),
      ['realtime-1', 'realtime-2', 'realtime-3'],
    );
    const info = await pool.ask<{ id: string; thread: number; data: unknown }>('enterprise:ent7', { type: 'info' });
    assert.equal(info.thread, pool.hostOf('enterprise:ent7')!.thread);
    assert.deepEqual(info.data, { shared: 'config' }, 'host data reaches actors as ctx.data');
    const threads = new Set(pool.hosts.map((h) => h.thread));
    assert.equal(threads.size, 3, 'three distinct threads');
  });

  it('exposes one ActorStatus per actor and host, shaped for /health', () => {
    const ents = registry.snapshot((s) => s.kind === 'enterprise');
    assert.equal(ents.length, 30);
    const s = ents[0]!;
    assert.deepEqual(Object.keys(s).sort(), [
      'health',
      'host',
      'id',
      'kind',
      'last_error',
      'restarts',
      'since',
      'status',
      'thread',
    ]);
    assert.equal(s.status, 'running');
    assert.ok(!Number.isNaN(Date.parse(s.since)));
    assert.deepEqual(
      registry.summary((x) => x.kind === 'host'),
      { total: 3, ok: 3, degraded: 0, down: 0, byKind: { host: { total: 3, ok: 3, degraded: 0, down: 0 } } },
    );
  });

  it('removes an actor at run time; the next one goes to the host with room', async () => {
    const host = pool.hostOf('enterprise:ent4')!;
    await pool.stopActor('enterprise:ent4');
    assert.equal(pool.hostOf('enterprise:ent4'), undefined);
    assert.equal(registry.get('enterprise:ent4'), undefined);
    await assert.rejects(
      pool.ask('enterprise:ent4', { type: 'info' }),
      (e: unknown) => e instanceof NotifydError && e.code === ErrorCodes.ACTOR_NOT_FOUND,
    );
    await pool.spawn(enterprise(100));
    assert.equal(pool.hostOf('enterprise:ent100'), host);
    await assert.rejects(
      pool.spawn(enterprise(100)),
      (e: unknown) => e instanceof NotifydError && e.code === ErrorCodes.SUPERVISOR_CHILD_EXISTS,
    );
  });

  it('a dead host thread is restarted with exactly its own actors; the other hosts are untouched', async () => {
    await pool.spawn({ id: 'killer', kind: 'killer', module: fixture('thread-killer') });
    const victim = pool.hostOf('killer')!;
    const others = pool.hosts.filter((h) => h !== victim);
    const before = new Map(registry.snapshot((s) => s.kind === 'enterprise').map((s) => [s.id, s]));
    const back = nextEvent(victim, 'ready');
    victim.tell('killer', { type: 'process-exit', code: 1 });
    await back;
    const mine = victim.actors().filter((s) => s.kind === 'enterprise');
    assert.equal(mine.length, 10);
    for (const s of mine) {
      assert.deepEqual(await pool.ask(s.id, { type: 'echo', value: 1 }), { id: s.id, value: 1 });
      const now = registry.get(s.id) as ActorStatus;
      assert.equal(now.thread, victim.thread);
      assert.equal(now.restarts, before.get(s.id)!.restarts + 1);
    }
    for (const h of others) {
      for (const s of h.actors()) {
        assert.equal(
          registry.get(s.id)!.restarts,
          before.get(s.id)?.restarts ?? 0,
          `${s.id} on ${h.id} was not restarted`,
        );
        assert.equal(registry.get(s.id)!.thread, h.thread);
      }
    }
    await waitFor(() => registry.get(`host:${victim.id}`)?.status === 'running', 'host entry running');
    assert.equal(registry.get(`host:${victim.id}`)?.restarts, 1);
  });
});
