// Shutdown: SIGTERM becomes the ordered stop (reverse start order) then exit 0; a second signal exits at
// once; the global deadline terminates what is left and exits 1. Real processes and real signals.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ShutdownCoordinator } from '../../src/runtime/shutdown.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { ThreadHost } from '../../src/runtime/thread-host.js';
import { fixture, waitFor } from '../fixtures/runtime/helpers.js';

const daemon = fileURLToPath(fixture('daemon'));

interface Daemon {
  lines: Record<string, unknown>[];
  exit: Promise<{ code: number | null; at: number }>;
  kill: (sig: NodeJS.Signals) => void;
}

async function startDaemon(args: string[] = [], env: Record<string, string> = {}): Promise<Daemon> {
  const child = spawn(process.execPath, [daemon, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* a log line */
    }
  });
  const exit = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, at: performance.now() })),
  );
  await waitFor(() => lines.some((l) => 'ready' in l), 'daemon ready', 20_000);
  return { lines, exit, kill: (sig) => child.kill(sig) };
}

describe('shutdown', () => {
  it('SIGTERM stops the tree in reverse start order, runs the hooks around it, and exits 0', async () => {
    const d = await startDaemon();
    d.kill('SIGTERM');
    const { code } = await d.exit;
    assert.equal(code, 0);
    assert.deepEqual(
      d.lines.filter((l) => !('ready' in l)),
      [
        { phase: 'beforeStop' },
        { stopped: 'cron' },
        { stopped: 'scheduler' },
        { stopped: 'processing' },
        { phase: 'afterStop' },
      ],
    );
  });

  it('a second signal exits at once with 1', async () => {
    const d = await startDaemon(['--stubborn']); // cron's actor blocks its thread in stop(); its budget is 20 s
    d.kill('SIGTERM');
    await waitFor(() => d.lines.some((l) => l['phase'] === 'beforeStop'), 'stop begun');
    const sent = performance.now();
    d.kill('SIGINT');
    const { code, at } = await d.exit;
    assert.equal(code, 1);
    assert.ok(at - sent < 2_000, `exited ${Math.round(at - sent)} ms after the second signal`);
  });

  it('the global deadline terminates what is left and exits 1', async () => {
    const d = await startDaemon(['--stubborn'], { DEADLINE_MS: '700' });
    const sent = performance.now();
    d.kill('SIGTERM');
    const { code, at } = await d.exit;
    assert.equal(code, 1);
    const took = at - sent;
    assert.ok(
      took >= 700 * 0.8 - 30 && took <= 700 * 1.2 + 1_500,
      `exited after ${Math.round(took)} ms (deadline 700)`,
    );
  });

  it('the coordinator is driven by an injected signal source and exit function', async () => {
    const host = new ThreadHost({
      id: 'inj',
      heartbeatMs: 100,
      actors: [{ id: 'inj:a', kind: 'echo', module: fixture('echo') }],
    });
    const root = new Supervisor({ id: 'root', children: [host.childSpec()] });
    const signals = new EventEmitter();
    const codes: number[] = [];
    const calls: string[] = [];
    const coordinator = new ShutdownCoordinator({
      root,
      source: signals,
      exit: (c) => codes.push(c),
      deadlineMs: 5_000,
      beforeStop: [(reason) => void calls.push(`before:${reason}`)],
      afterStop: [() => void calls.push('after')],
    }).install();
    await root.start();
    assert.equal(coordinator.shuttingDown, false);
    signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(coordinator.shuttingDown, true);
    await waitFor(() => codes.length > 0, 'exit called');
    assert.deepEqual(codes, [0]);
    assert.deepEqual(calls, ['before:signal SIGTERM', 'after']);
    assert.equal(host.thread, undefined);
    assert.equal(signals.listenerCount('SIGTERM'), 0, 'listeners removed after exit');
  });
});
