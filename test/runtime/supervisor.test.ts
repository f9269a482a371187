// Supervisors over real host threads: start order and reverse stop order, per-child stop budgets, restart
// types, rest_for_one, intensity escalation up to the root (which stops everything and exits non-zero),
// dynamic children with bounded start concurrency, restart backoff.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../src/errors.js';
import { ShutdownCoordinator } from '../../src/runtime/shutdown.js';
import { StatusRegistry } from '../../src/runtime/status-registry.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { ThreadHost } from '../../src/runtime/thread-host.js';
import type { ChildSpec } from '../../src/runtime/types.js';
import { fixture, nextEvent, sleep, waitFor } from '../fixtures/runtime/helpers.js';

const echo = fixture('echo');
const selfExiter = fixture('self-exiter');

function echoHost(
  id: string,
  events?: { id: string; type: string; at: number }[],
  registry?: StatusRegistry,
): ThreadHost {
  const host = new ThreadHost({
    id,
    heartbeatMs: 100,
    ...(registry === undefined ? {} : { registry }),
    actors: [{ id: `${id}:echo`, kind: 'echo', module: echo, args: { publish: true } }],
  });
  host.on('actor-event', ({ event }: { event: { type: string; at: number } }) =>
    events?.push({ id, type: event.type, at: event.at }),
  );
  return host;
}

function exiterHost(id: string, code: number, afterMs = 50): ThreadHost {
  return new ThreadHost({
    id,
    heartbeatMs: 100,
    actors: [{ id: `${id}:x`, kind: 'self-exiter', module: selfExiter, args: { code, afterMs } }],
  });
}

describe('supervisor', () => {
  it('starts children in order and stops them in reverse start order (recorded in the actors)', async () => {
    const events: { id: string; type: string; at: number }[] = [];
    const hosts = ['infra', 'processing', 'scheduler', 'cron'].map((id) => echoHost(id, events));
    const sup = new Supervisor({ id: 'root', children: hosts.map((h) => h.childSpec()) });
    const stopped: string[] = [];
    sup.on('child:stopped', (e: { id: string }) => stopped.push(e.id));
    await sup.start();
    const report = await sup.stop({ deadlineMs: 10_000 });
    const order = (type: string): string[] => events.filter((e) => e.type === type).map((e) => e.id);
    assert.deepEqual(order('started'), ['infra', 'processing', 'scheduler', 'cron']);
    assert.deepEqual(order('stopping'), ['cron', 'scheduler', 'processing', 'infra']);
    assert.deepEqual(stopped, ['cron', 'scheduler', 'processing', 'infra']);
    assert.deepEqual(report, { order: ['cron', 'scheduler', 'processing', 'infra'], killed: [], timedOut: false });
    assert.equal(sup.state, 'stopped');
    assert.deepEqual(await sup.exited, { reason: 'shutdown' });
  });

  it('a child that ignores the stop is terminated after its shutdownMs', async () => {
    // the thread itself is blocked in the actor's stop(): only terminate() ends it
    const busy = new ThreadHost({
      id: 'busy-stop',
      heartbeatMs: 100,
      actors: [
        {
          id: 'busy:x',
          kind: 'stop-ignorer',
          module: fixture('stop-ignorer'),
          args: { busy: true },
          shutdownMs: 60_000,
        },
      ],
    });
    // the actor's stop() never resolves: the host abandons it when the budget is spent and the thread exits
    const stubborn = new ThreadHost({
      id: 'stubborn',
      heartbeatMs: 100,
      actors: [{ id: 'stubborn:x', kind: 'stop-ignorer', module: fixture('stop-ignorer'), shutdownMs: 60_000 }],
    });
    const abandoned = nextEvent<string[]>(stubborn, 'actors-abandoned');
    const sup = new Supervisor({
      id: 'stops',
      children: [stubborn.childSpec({ shutdownMs: 300 }), busy.childSpec({ shutdownMs: 300 })],
    });
    const took: Record<string, number> = {};
    sup.on('child:stopped', (e: { id: string; ms: number }) => (took[e.id] = e.ms));
    await sup.start();
    const report = await sup.stop({ deadlineMs: 10_000 });
    assert.deepEqual(report.order, ['busy-stop', 'stubborn']);
    assert.deepEqual(report.killed, ['busy-stop'], 'the blocked thread was terminated');
    assert.deepEqual(await abandoned, ['stubborn:x'], 'the ignored actor stop was abandoned at the budget');
    for (const id of ['stubborn', 'busy-stop']) {
      assert.ok(
        took[id]! >= 300 * 0.8 - 30 && took[id]! <= 300 * 1.2 + 500,
        `${id} stopped after ${took[id]} ms (budget 300)`,
      );
    }
    assert.equal(stubborn.thread, undefined);
    assert.equal(busy.thread, undefined);
  });

  it(
    'a transient child that stops normally is not restarted, a temporary one never, ' + 'a permanent one always',
    async () => {
      const sup = new Supervisor({
        id: 'types',
        intensity: 100,
        periodMs: 10_000,
        children: [
          exiterHost('transient-normal', 0).childSpec({ restart: 'transient' }),
          exiterHost('transient-crash', 3, 150).childSpec({ restart: 'transient' }),
          exiterHost('temporary-crash', 3).childSpec({ restart: 'temporary' }),
          exiterHost('permanent-normal', 0, 150).childSpec({ restart: 'permanent' }),
        ],
      });
      const restarted = new Set<string>();
      sup.on('child:restarting', (e: { id: string }) => restarted.add(e.id));
      await sup.start();
      await waitFor(
        () => restarted.has('transient-crash') && restarted.has('permanent-normal'),
        'crashing transient and permanent restarted',
      );
      await sleep(400); // the others had time to be (wrongly) restarted
      await sup.stop({ deadlineMs: 5_000 });
      assert.deepEqual([...restarted].sort(), ['permanent-normal', 'transient-crash']);
      const states = Object.fromEntries(sup.children().map((c) => [c.id, c.restarts]));
      assert.equal(states['transient-normal'], 0);
      assert.equal(states['temporary-crash'], 0);
    },
  );

  it('rest_for_one restarts the crashed child and those started after it, in order, not those before', async () => {
    const events: { id: string; type: string; at: number }[] = [];
    const crasher = new ThreadHost({
      id: 'b',
      heartbeatMs: 100,
      actors: [{ id: 'b:k', kind: 'killer', module: fixture('thread-killer') }],
    });
    const sup = new Supervisor({
      id: 'rfo',
      strategy: 'rest_for_one',
      intensity: 5,
      periodMs: 10_000,
      children: [
        echoHost('a', events).childSpec(),
        crasher.childSpec(),
        echoHost('c', events).childSpec(),
        echoHost('d', events).childSpec(),
      ],
    });
    await sup.start();
    events.length = 0;
    const started: string[] = [];
    sup.on('child:started', (e: { id: string }) => started.push(e.id));
    crasher.tell('b:k', { type: 'process-exit', code: 9 });
    await waitFor(() => started.length === 3, 'b, c, d started again');
    assert.deepEqual(started, ['b', 'c', 'd']);
    assert.deepEqual(
      events.filter((e) => e.type === 'stopping').map((e) => e.id),
      ['d', 'c'],
      'later children stopped in reverse order',
    );
    assert.deepEqual(
      events.filter((e) => e.type === 'started').map((e) => e.id),
      ['c', 'd'],
    );
    assert.deepEqual(
      sup.children().map((c) => [c.id, c.state]),
      [
        ['a', 'running'],
        ['b', 'running'],
        ['c', 'running'],
        ['d', 'running'],
      ],
    );
    assert.equal(sup.children()[0]!.restarts, 0);
    await sup.stop({ deadlineMs: 5_000 });
  });

  it(
    'exceeding the intensity escalates to the root, ' +
      'which stops everything in reverse start order and exits non-zero',
    async () => {
      const registry = new StatusRegistry();
      const inner = new Supervisor({
        id: 'inner',
        intensity: 1,
        periodMs: 10_000,
        children: [exiterHost('flapper', 3, 30).childSpec()],
      });
      const root = new Supervisor({
        id: 'root',
        intensity: 2,
        periodMs: 10_000,
        children: [
          echoHost('first', undefined, registry).childSpec(),
          inner.asChild(),
          echoHost('last', undefined, registry).childSpec(),
        ],
      });
      const stopped: string[] = [];
      const innerRestarts: number[] = [];
      root.on('child:stopped', (e: { id: string }) => stopped.push(e.id));
      root.on('child:restarting', (e: { id: string; restarts: number }) => innerRestarts.push(e.restarts));
      const exitCodes: number[] = [];
      const signals = new EventEmitter();
      const coordinator = new ShutdownCoordinator({
        root,
        source: signals,
        exit: (code) => exitCodes.push(code),
      }).install();
      await root.start();
      const exit = await root.exited;
      assert.equal(exit.reason, 'crash');
      assert.equal((exit.error as { code?: string }).code, ErrorCodes.SUPERVISOR_INTENSITY_EXCEEDED);
      assert.deepEqual(innerRestarts, [1, 2], 'the root restarted the escalating inner supervisor twice');
      assert.deepEqual(stopped, ['last', 'first'], 'reverse start order (inner had already stopped itself)');
      assert.equal(root.state, 'failed');
      await waitFor(() => exitCodes.length > 0, 'the owner exits');
      assert.deepEqual(exitCodes, [1]);
      assert.equal(registry.get('host:first')?.status, 'stopped');
      assert.equal(registry.get('host:last')?.status, 'stopped');
      coordinator.dispose();
    },
  );

  it('dynamic children start with bounded concurrency; terminateChild removes; maxChildren is enforced', async () => {
    const sup = new Supervisor({ id: 'dyn', maxChildren: 5 });
    await sup.start();
    let inFlight = 0;
    let peak = 0;
    const specs: ChildSpec[] = ['d1', 'd2', 'd3', 'd4', 'd5'].map((id) => {
      const host = echoHost(id);
      return {
        ...host.childSpec({ restart: 'transient' }),
        start: async (ctx) => {
          peak = Math.max(peak, ++inFlight);
          try {
            return await host.start(ctx);
          } finally {
            inFlight -= 1;
          }
        },
      };
    });
    const results = await sup.startChildren(specs, 2);
    assert.ok(results.every((r) => r.status === 'fulfilled'));
    assert.equal(peak, 2, 'never more than 2 starts at once');
    await assert.rejects(
      sup.startChild(echoHost('d6').childSpec()),
      (e: unknown) => (e as { code?: string }).code === ErrorCodes.SUPERVISOR_MAX_CHILDREN,
    );
    await assert.rejects(
      sup.startChild(echoHost('d1').childSpec()),
      (e: unknown) => (e as { code?: string }).code === ErrorCodes.SUPERVISOR_CHILD_EXISTS,
    );
    await sup.terminateChild('d3');
    assert.deepEqual(
      sup.children().map((c) => c.id),
      ['d1', 'd2', 'd4', 'd5'],
    );
    const report = await sup.stop({ deadlineMs: 5_000 });
    assert.deepEqual(report.order, ['d5', 'd4', 'd2', 'd1']);
  });

  it('restarts a crashed child after its backoff delay (min·2^n·(1 + 0.2·rand), measured)', async () => {
    const host = exiterHost('crashy', 3, 20);
    const startCalls: number[] = [];
    const exits: number[] = [];
    const spec = host.childSpec();
    const sup = new Supervisor({
      id: 'backoff',
      intensity: 10,
      periodMs: 10_000,
      backoff: { minMs: 200, maxMs: 2_000, jitter: 0.2, resetAfterMs: 60_000 },
      children: [{ ...spec, start: (ctx) => (startCalls.push(performance.now()), host.start(ctx)) }],
    });
    sup.on('child:exited', () => exits.push(performance.now()));
    await sup.start();
    await nextEvent<{ restarts: number }>(sup, 'child:started', (e) => e.restarts === 2, 10_000);
    await sup.stop({ deadlineMs: 5_000 });
    [200, 400].forEach((f, n) => {
      const measured = startCalls[n + 1]! - exits[n]!;
      assert.ok(
        measured >= f * 0.8 - 30 && measured <= f * 1.2 * 1.2 + 150,
        `restart ${n + 1} after ${Math.round(measured)} ms, formula ${f}`,
      );
    });
  });
});
