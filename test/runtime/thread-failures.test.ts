// Host threads that die (real worker threads): process.exit, a throw at the thread's top level, a heap past
// resourceLimits, a busy loop (missed heartbeats). Each time the supervisor replaces the thread and the host
// spawns all its actors again in the new one. An intentional stop is recorded as such, whatever the code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../src/errors.js';
import { StatusRegistry } from '../../src/runtime/status-registry.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { ThreadHost, type ThreadHostOptions } from '../../src/runtime/thread-host.js';
import type { ChildExit } from '../../src/runtime/types.js';
import { fixture, nextEvent, waitFor } from '../fixtures/runtime/helpers.js';

const killer = fixture('thread-killer');
const echo = fixture('echo');

type ThreadExit = ChildExit & { thread: number };

/** A host with a thread-killer actor and two echo actors, under a tolerant one_for_one supervisor. */
async function tree(id: string, extra: Partial<ThreadHostOptions> = {}, killerModule = killer) {
  const registry = new StatusRegistry();
  const host = new ThreadHost({
    id,
    registry,
    heartbeatMs: 100,
    missedHeartbeats: 5,
    ...extra,
    actors: [
      { id: `${id}:killer`, kind: 'killer', module: killerModule },
      { id: `${id}:e1`, kind: 'echo', module: echo },
      { id: `${id}:e2`, kind: 'echo', module: echo },
    ],
  });
  const sup = new Supervisor({
    id: `sup-${id}`,
    intensity: 10,
    periodMs: 10_000,
    children: [host.childSpec({ shutdownMs: 2_000 })],
  });
  await sup.start();
  return { registry, host, sup };
}

/** Waits for the thread to die and come back; checks every actor answers from the new thread. */
async function expectReplaced(t: Awaited<ReturnType<typeof tree>>, trigger: () => void): Promise<ThreadExit> {
  const { host, registry } = t;
  const oldThread = host.thread!;
  const exited = nextEvent<ThreadExit>(host, 'thread-exit');
  const back = nextEvent(host, 'ready');
  trigger();
  const exit = await exited;
  await back;
  assert.notEqual(host.thread, oldThread, 'a new thread runs the host');
  for (const id of [`${host.id}:e1`, `${host.id}:e2`]) {
    assert.deepEqual(await host.ask(id, { type: 'echo', value: 7 }), { id, value: 7 });
    const s = registry.get(id)!;
    assert.equal(s.thread, host.thread);
    assert.equal(s.restarts, 1, `${id} counts the thread restart`);
    assert.equal(s.status, 'running');
  }
  assert.deepEqual(await host.ask(`${host.id}:killer`, { type: 'ping' }), {
    pong: `${host.id}:killer`,
    thread: host.thread,
  });
  assert.equal(registry.get(`host:${host.id}`)?.restarts, 1);
  assert.equal(registry.get(`host:${host.id}`)?.status, 'running');
  await t.sup.stop({ deadlineMs: 5_000 });
  return exit;
}

describe('host thread failures', () => {
  it('a thread that calls process.exit is replaced and its actors come back', async () => {
    const t = await tree('exiter');
    const exit = await expectReplaced(t, () => t.host.tell('exiter:killer', { type: 'process-exit', code: 3 }));
    assert.equal(exit.reason, 'crash');
    assert.equal(exit.exitCode, 3);
    assert.equal((exit.error as { code?: string }).code, ErrorCodes.HOST_EXITED);
  });

  it('a thread that throws at top level (outside any actor) is replaced and its actors come back', async () => {
    // the module's top-level timer throws in the first thread only: not attributable to an actor
    const t = await tree('toplevel', {}, fixture('top-level-thrower'));
    const exit = await expectReplaced(t, () => undefined);
    assert.equal(exit.reason, 'crash');
    assert.match(exit.error?.message ?? '', /module top-level timer threw/);
    assert.match(t.registry.get('host:toplevel')?.last_error ?? '', /top-level timer threw/);
  });

  it('a thread that exceeds its heap (ERR_WORKER_OUT_OF_MEMORY) is replaced and its actors come back', async () => {
    const t = await tree('oom', {
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
      missedHeartbeats: 50,
    });
    const exit = await expectReplaced(t, () => t.host.tell('oom:killer', { type: 'leak' }));
    assert.equal(exit.reason, 'crash');
    assert.equal((exit.error as { code?: string }).code, 'ERR_WORKER_OUT_OF_MEMORY');
  });

  it('a thread that hangs in a busy loop misses its heartbeats, is terminated and replaced', async () => {
    const t = await tree('busy');
    const t0 = performance.now();
    const exit = await expectReplaced(t, () => t.host.tell('busy:killer', { type: 'busy-loop' }));
    assert.equal(exit.reason, 'crash');
    assert.equal((exit.error as { code?: string }).code, ErrorCodes.HOST_UNRESPONSIVE);
    assert.ok(performance.now() - t0 < 5_000, 'detected within a few heartbeat periods');
  });

  it('an intentional stop is recorded as such: terminate() before online exits 0 and is no crash', async () => {
    const host = new ThreadHost({
      id: 'early',
      heartbeatMs: 100,
      actors: [{ id: 'early:e', kind: 'echo', module: echo }],
    });
    const threadExit = nextEvent<ThreadExit>(host, 'thread-exit');
    const starting = host.start(); // the Worker exists now, not yet online
    await host.stop(2_000);
    await assert.rejects(starting, (err: unknown) => (err as { code?: string }).code === ErrorCodes.HOST_START_FAILED);
    const exit = await threadExit;
    assert.equal(exit.exitCode, 0, 'terminate() before online gives 0');
    assert.equal(exit.reason, 'shutdown');
    assert.equal(host.state, 'stopped');
  });

  it('a supervisor stopping while a host thread boots records a stop, not a crash, and restarts nothing', async () => {
    const registry = new StatusRegistry();
    const host = new ThreadHost({
      id: 'early2',
      registry,
      heartbeatMs: 100,
      actors: [{ id: 'early2:e', kind: 'echo', module: echo }],
    });
    const sup = new Supervisor({ id: 'sup-early2', children: [host.childSpec()] });
    const exits: { id: string; reason: string }[] = [];
    sup.on('child:exited', (e: { id: string; reason: string }) => exits.push(e));
    sup.on('child:restarting', () => assert.fail('nothing may restart'));
    const threadExit = nextEvent<ThreadExit>(host, 'thread-exit');
    let stopping: ReturnType<Supervisor['stop']> | undefined;
    const off = registry.subscribe((c) => {
      if (c.status.id === 'host:early2' && c.status.status === 'starting') stopping ??= sup.stop({ deadlineMs: 2_000 });
    });
    await assert.rejects(
      sup.start(),
      (err: unknown) => (err as { code?: string }).code === ErrorCodes.SUPERVISOR_STOPPED,
    );
    off();
    const report = await stopping!;
    const exit = await threadExit;
    assert.deepEqual([exit.reason, exit.exitCode], ['shutdown', 0]);
    assert.equal(report.timedOut, false);
    assert.equal(registry.get('host:early2')?.status, 'stopped');
    assert.equal(registry.get('host:early2')?.restarts, 0);
    assert.ok(exits.every((e) => e.reason === 'shutdown'));
    assert.equal(sup.state, 'stopped');
  });

  it('an intentional terminate() after online (exit code 1) is also recorded as a stop, not a crash', async () => {
    const host = new ThreadHost({
      id: 'late-kill',
      heartbeatMs: 100,
      actors: [{ id: 'lk:e', kind: 'echo', module: echo }],
    });
    const run = await host.start();
    await run.kill();
    const exit = await run.exited;
    assert.equal(exit.exitCode, 1);
    assert.equal(exit.reason, 'shutdown');
    assert.equal(host.state, 'stopped');
  });

  it('a thread that ends by itself with code 0 is a normal exit', async () => {
    const host = new ThreadHost({
      id: 'ends',
      heartbeatMs: 100,
      actors: [{ id: 'ends:x', kind: 'self-exiter', module: fixture('self-exiter'), args: { code: 0 } }],
    });
    const run = await host.start();
    const exit = await run.exited;
    assert.deepEqual([exit.reason, exit.exitCode], ['normal', 0]);
  });

  it('a host that cannot become ready in time fails its start (HOST_START_FAILED) and leaves no thread', async () => {
    const host = new ThreadHost({ id: 'slowboot', startTimeoutMs: 1, heartbeatMs: 100 });
    await assert.rejects(
      host.start(),
      (err: unknown) => (err as { code?: string }).code === ErrorCodes.HOST_START_FAILED,
    );
    await waitFor(() => host.thread === undefined, 'no thread left');
  });
});
