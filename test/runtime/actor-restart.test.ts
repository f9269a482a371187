// Actors inside one host thread (real worker threads): a crash restarts that actor alone, with backoff that
// follows the formula; siblings keep serving; request/reply times out; restart types hold; health degrades
// after repeated failures and recovers after a stable period.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes, NotifydError } from '../../src/errors.js';
import { StatusRegistry } from '../../src/runtime/status-registry.js';
import { ThreadHost } from '../../src/runtime/thread-host.js';
import type { ChildRun } from '../../src/runtime/types.js';
import type { EchoMsg } from '../fixtures/runtime/echo.js';
import { fixture, nextEvent, recordStatuses, sleep, waitFor } from '../fixtures/runtime/helpers.js';

const echo = fixture('echo');
const isCode =
  (code: string) =>
  (err: unknown): boolean =>
    err instanceof NotifydError && err.code === code;

describe('actors in a host thread', () => {
  const registry = new StatusRegistry();
  const host = new ThreadHost({
    id: 'actors',
    registry,
    heartbeatMs: 100,
    actorBackoff: { minMs: 80, maxMs: 1_000, jitter: 0.2, resetAfterMs: 60_000 },
    actors: ['a', 'b', 'c'].map((id) => ({ id, kind: 'echo', module: echo })),
  });
  let run: ChildRun;
  before(async () => {
    run = await host.start();
  });
  after(async () => {
    await run.stop('test over', 2_000);
  });

  it('an actor that throws restarts alone and its siblings keep serving', async () => {
    const thread = host.thread;
    await assert.rejects(host.ask('a', { type: 'throw' }), /thrown by a/);
    // while `a` waits its backoff (≥ 80 ms), its siblings answer and `a` refuses at once
    await assert.rejects(host.ask('a', { type: 'echo', value: 1 }), isCode(ErrorCodes.ACTOR_UNAVAILABLE));
    for (const id of ['b', 'c']) assert.deepEqual(await host.ask(id, { type: 'echo', value: id }), { id, value: id });
    await waitFor(() => registry.get('a')?.status === 'running' && registry.get('a')!.restarts === 1, 'a restarted');
    assert.deepEqual(await host.ask('a', { type: 'info' }), {
      id: 'a',
      thread,
      restarts: 1,
      host: 'actors',
      data: undefined,
    });
    assert.equal(registry.get('a')?.last_error, 'thrown by a');
    for (const id of ['b', 'c']) assert.equal(registry.get(id)?.restarts, 0, `${id} was not restarted`);
    assert.equal(host.thread, thread, 'same thread: only the actor restarted');
  });

  it('errors thrown from an actor timer or rejected promises are attributed to that actor only', async () => {
    const before = registry.get('b')!.restarts;
    assert.equal(await host.ask('b', { type: 'throw-later' }), 'scheduled');
    await waitFor(
      () => registry.get('b')!.restarts === before + 1 && registry.get('b')!.status === 'running',
      'b restarted after its timer threw',
    );
    assert.match(registry.get('b')!.last_error ?? '', /timer of b threw/);
    assert.equal(await host.ask('b', { type: 'reject-later' }), 'scheduled');
    await waitFor(
      () => registry.get('b')!.restarts === before + 2 && registry.get('b')!.status === 'running',
      'b restarted after its promise rejected',
    );
    assert.match(registry.get('b')!.last_error ?? '', /promise of b rejected/);
    assert.equal(registry.get('c')!.restarts, 0);
  });

  it('ctx.fail crashes the actor and it comes back', async () => {
    const before = registry.get('c')!.restarts;
    await host.ask('c', { type: 'fail' });
    await waitFor(
      () => registry.get('c')!.restarts === before + 1 && registry.get('c')!.status === 'running',
      'c restarted',
    );
    assert.match(registry.get('c')!.last_error ?? '', /c failed itself/);
  });

  it('request/reply rejects with ACTOR_REQUEST_TIMEOUT, unknown ids with ACTOR_NOT_FOUND', async () => {
    const t0 = performance.now();
    await assert.rejects(host.ask('c', { type: 'sleep', ms: 400 }, 100), isCode(ErrorCodes.ACTOR_REQUEST_TIMEOUT));
    assert.ok(performance.now() - t0 < 350, 'the timeout fired before the reply');
    await assert.rejects(host.ask('nobody', { type: 'info' }), isCode(ErrorCodes.ACTOR_NOT_FOUND));
    assert.equal(host.tell('nobody', { type: 'info' }), false);
    const ref = host.ref<EchoMsg, { id: string; value: unknown }>('c');
    assert.deepEqual(await ref.ask({ type: 'echo', value: [1, { x: 2 }] }), { id: 'c', value: [1, { x: 2 }] });
  });

  it('messages sent while an actor starts are kept and delivered in order', async () => {
    const spawning = host.spawn({ id: 'late', kind: 'echo', module: echo });
    const replies = Promise.all([1, 2, 3].map((v) => host.ask('late', { type: 'echo', value: v })));
    await spawning;
    assert.deepEqual(
      (await replies).map((r) => (r as { value: number }).value),
      [1, 2, 3],
    );
    await host.stopActor('late');
    assert.equal(registry.get('late'), undefined, 'a removed actor leaves the registry');
  });

  it('restart delays follow min(max, min·2^n)·(1 + 0.2·rand) (measured)', async () => {
    const rec = recordStatuses(registry, 'flaky');
    // fails its first 4 starts: delays n = 0..3 → 80, 160, 320, 500 (max) ms, each × (1 + 0.2·rand)
    const status = await host.spawn({
      id: 'flaky',
      kind: 'echo',
      module: echo,
      args: { failStarts: 4 },
      backoff: { maxMs: 500 },
    });
    assert.equal(status.status, 'restarting');
    await waitFor(() => registry.get('flaky')?.status === 'running', 'flaky up after 4 failed starts', 10_000);
    rec.stop();
    // `since` is stamped in the host thread at each transition: restarting → starting is the backoff delay
    const delays: number[] = [];
    for (let i = 1; i < rec.list.length; i++) {
      const prev = rec.list[i - 1]!;
      const cur = rec.list[i]!;
      if (prev.status === 'restarting' && cur.status === 'starting')
        delays.push(Date.parse(cur.since) - Date.parse(prev.since));
    }
    const formula = [80, 160, 320, 500];
    assert.equal(delays.length, 4, `delays ${JSON.stringify(delays)}`);
    delays.forEach((d, n) => {
      const f = formula[n]!;
      assert.ok(
        d >= f * 0.8 - 30 && d <= f * 1.2 * 1.2 + 150,
        `restart ${n + 1}: ${d} ms outside [${f * 0.8 - 30}, ${f * 1.44 + 150}]`,
      );
    });
    assert.equal(registry.get('flaky')?.restarts, 4);
    await host.stopActor('flaky');
  });

  it(
    'reports degraded after consecutive failures, keeps restarting, ' + 'and is ok again after a stable period',
    async () => {
      const rec = recordStatuses(registry, 'sick');
      await host.spawn({
        id: 'sick',
        kind: 'echo',
        module: echo,
        args: { failStarts: 4 },
        degradedAfter: 3,
        backoff: { minMs: 20, maxMs: 40, resetAfterMs: 400 },
      });
      await waitFor(() => registry.get('sick')?.status === 'running', 'sick up');
      rec.stop();
      const degradedAt = rec.list.findIndex((s) => s.health === 'degraded');
      assert.ok(degradedAt > 0, 'degraded was reported');
      assert.ok(
        rec.list.slice(degradedAt).some((s) => s.status === 'starting'),
        'it kept restarting after degraded',
      );
      assert.equal(registry.get('sick')?.health, 'degraded', 'still degraded right after coming up');
      await waitFor(() => registry.get('sick')?.health === 'ok', 'ok after resetAfterMs up', 3_000);
      await host.stopActor('sick');
    },
  );

  it('an actor sets its own status and health (rolled up in the registry)', async () => {
    await host.ask('c', { type: 'status', status: 'reconnecting', health: 'degraded' });
    await waitFor(() => registry.get('c')?.status === 'reconnecting', 'reconnecting');
    assert.equal(registry.get('c')?.health, 'degraded');
    await host.ask('c', { type: 'status', status: 'subscribed' });
    await waitFor(() => registry.get('c')?.status === 'subscribed' && registry.get('c')?.health === 'ok', 'subscribed');
  });

  it(
    'restart types: transient exits normally → gone; temporary crashes → gone; ' + 'permanent exits → restarted',
    async () => {
      await host.spawn({ id: 'tr', kind: 'echo', module: echo, restart: 'transient' });
      const trGone = nextEvent<{ id: string; reason: string }>(host, 'actor-gone', (e) => e.id === 'tr');
      await host.ask('tr', { type: 'exit' });
      assert.equal((await trGone).reason, 'normal');

      await host.spawn({ id: 'tmp', kind: 'echo', module: echo, restart: 'temporary' });
      const tmpGone = nextEvent<{ id: string; reason: string; status: { status: string; health: string } }>(
        host,
        'actor-gone',
        (e) => e.id === 'tmp',
      );
      await assert.rejects(host.ask('tmp', { type: 'throw' }));
      const gone = await tmpGone;
      assert.equal(gone.reason, 'crash');
      assert.deepEqual([gone.status.status, gone.status.health], ['failed', 'down']);

      await host.spawn({ id: 'perm', kind: 'echo', module: echo, restart: 'permanent' });
      await host.ask('perm', { type: 'exit' });
      await waitFor(
        () => registry.get('perm')?.status === 'running' && registry.get('perm')!.restarts === 1,
        'perm restarted',
      );
      await sleep(150);
      assert.equal(host.has('tr'), false);
      assert.equal(host.has('tmp'), false);
      assert.equal(registry.get('tr'), undefined);
      await host.stopActor('perm');
    },
  );

  it('refuses a duplicate id, a spec without a module, an invalid backoff, and actors past maxActors', async () => {
    await assert.rejects(
      host.spawn({ id: 'a', kind: 'echo', module: echo }),
      isCode(ErrorCodes.SUPERVISOR_CHILD_EXISTS),
    );
    await assert.rejects(host.spawn({ id: 'x', kind: 'echo' } as never), isCode(ErrorCodes.RUNTIME_OPTION_INVALID));
    await assert.rejects(
      host.spawn({ id: 'x', kind: 'echo', module: echo, backoff: { jitter: 2 } }),
      (e: unknown) => isCode(ErrorCodes.RUNTIME_OPTION_INVALID)(e) && /jitter/.test((e as Error).message),
    );
    const small = new ThreadHost({ id: 'small', maxActors: 1 });
    await small.spawn({ id: 'one', kind: 'echo', module: echo });
    assert.equal(small.actors()[0]?.status, 'pending', 'recorded; starts with the thread');
    await assert.rejects(small.spawn({ id: 'two', kind: 'echo', module: echo }), isCode(ErrorCodes.HOST_FULL));
    assert.equal(host.state, 'running');
  });

  it('a start() slower than startTimeoutMs counts as a crash and is retried with backoff', async () => {
    const status = await host.spawn({
      id: 'slow',
      kind: 'echo',
      module: echo,
      args: { startDelayMs: 1_000 },
      startTimeoutMs: 100,
    });
    assert.equal(status.status, 'restarting');
    assert.match(status.last_error ?? '', /did not start within 100 ms/);
    await host.stopActor('slow');
  });

  it('a module without a factory is a start failure of that actor, not of the thread', async () => {
    const status = await host.spawn({
      id: 'nofactory',
      kind: 'echo',
      module: fixture('helpers'),
      restart: 'temporary',
    });
    assert.equal(status.status, 'failed');
    assert.match(status.last_error ?? '', /exports no actor factory/);
    assert.equal(host.state, 'running');
  });
});
