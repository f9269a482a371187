// The daemon's launch step (supervisor/launch.ts): the real `node dist/supervisor.js` process runs with a small
// main-thread young generation and two malloc arenas, set by replacing itself (same pid) before anything else
// loads, and an operator's own MALLOC_ARENA_MAX is kept. Read from /proc: what the running process really has.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { DaemonProcess } from '../../src/devstack/daemon-process.js';
import { MAIN_SEMI_SPACE_MB, MALLOC_ARENAS, SEMI_SPACE_FLAG } from '../../supervisor/launch-settings.js';
import { startDaemonOnFreePort } from '../support/daemon-on-port.js';
import { parseMetrics, type Sample } from '../support/prom.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/** The environment and command line of a running process, as the kernel holds them. */
function procOf(pid: number): { env: Map<string, string>; argv: string[] } {
  const env = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return { env, argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') };
}

const SETTINGS = new URL('../../supervisor/launch-settings.js', import.meta.url).href;

/**
 * New-space sizes (MB) seen in a process started with the main thread's semi-space flag: of a worker thread whose
 * resourceLimits ask for a 64 MB young generation, then of the main thread, each after allocating 100 MB of
 * short-lived objects (V8 grows new space up to its limit under such churn). `release` calls the launch step's
 * releaseSemiSpaceFlag() first, as supervisor/launch.ts does.
 */
function newSpaceSizes(release: boolean): { worker: number; main: number } {
  const churn = `(() => { const v8 = process.getBuiltinModule('node:v8'); const keep = new Array(50000);
    for (let i = 0; i < 2e6; i++) keep[i % 50000] = { i, s: 'x' + i };
    return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20; })()`;
  const script = `
    import { Worker } from 'node:worker_threads';
    const { releaseSemiSpaceFlag } = await import(${JSON.stringify(SETTINGS)});
    if (${release}) releaseSemiSpaceFlag();
    const worker = await new Promise((resolve, reject) => {
      const port = "process.getBuiltinModule('node:worker_threads').parentPort";
      const code = port + '.postMessage(' + ${JSON.stringify(churn)} + ')';
      const w = new Worker(code, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 64 } });
      w.once('message', resolve);
      w.once('error', reject);
    });
    console.log(JSON.stringify({ worker, main: ${churn} }));`;
  const out = execFileSync(
    process.execPath,
    [`${SEMI_SPACE_FLAG}=${MAIN_SEMI_SPACE_MB}`, '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as { worker: number; main: number };
}

describe('daemon launch', () => {
  let stack: Stack;
  const daemons: DaemonProcess[] = [];
  before(async () => {
    stack = await startStack({ enterprises: ['acme'], startDaemon: false });
  });
  after(async () => {
    for (const d of daemons) {
      d.signal('SIGTERM');
      await d.exited;
    }
    await stack.stop();
  });

  it('re-executes itself with a 4 MB main semi-space and MALLOC_ARENA_MAX=2, keeping its pid', async () => {
    const env = { ...stack.env };
    delete env['MALLOC_ARENA_MAX'];
    const { proc } = await startDaemonOnFreePort(env);
    daemons.push(proc);
    const pid = proc.child.pid as number;
    const seen = procOf(pid);
    assert.equal(seen.env.get('MALLOC_ARENA_MAX'), MALLOC_ARENAS);
    assert.ok(seen.argv.includes(`--max-semi-space-size=${MAIN_SEMI_SPACE_MB}`), seen.argv.join(' '));
  });

  it("gives worker threads the young generation their resourceLimits ask for, not the main thread's flag", () => {
    const kept = newSpaceSizes(false);
    // the premise: V8's flags are the process's, so the main thread's flag caps every worker thread too
    assert.ok(kept.worker <= 2 * MAIN_SEMI_SPACE_MB + 1, `without the release the worker had ${kept.worker} MB`);
    const released = newSpaceSizes(true);
    assert.ok(released.worker > 4 * MAIN_SEMI_SPACE_MB, `worker new space ${released.worker} MB, asked for 64`);
    assert.ok(released.main <= 2 * MAIN_SEMI_SPACE_MB + 1, `main thread new space grew to ${released.main} MB`);
  });

  it("gives the daemon's actor threads the young generation DAEMON_THREAD_YOUNG_MB asks for", async () => {
    /** each host thread's heap limit (MiB), from /metrics: old generation plus young, as V8 sized them */
    const limits = async (youngMb: string) => {
      const { proc, port } = await startDaemonOnFreePort({ ...stack.env, DAEMON_THREAD_YOUNG_MB: youngMb });
      daemons.push(proc);
      // the host threads start after /livez answers
      let limit: Sample[] = [];
      await waitFor(
        async () => {
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          limit = parseMetrics(text).filter(
            (m) => m.name === 'notifyd_thread_heap_bytes' && m.labels['space'] === 'limit',
          );
          return limit.length >= 2;
        },
        { what: 'notifyd_thread_heap_bytes{space="limit"} of the core and realtime threads' },
      );
      return new Map(limit.map((m) => [m.labels['thread'], m.value / 2 ** 20]));
    };
    const small = await limits('8');
    const large = await limits('64');
    for (const [thread, mb] of large) {
      // 56 MB more young generation; with the main thread's flag still in force every thread had the same limit
      assert.ok(mb - (small.get(thread) ?? Infinity) > 32, `${thread}: ${small.get(thread)} MiB at 8, ${mb} MiB at 64`);
    }
  });

  it("keeps an operator's MALLOC_ARENA_MAX", async () => {
    const { proc } = await startDaemonOnFreePort({ ...stack.env, MALLOC_ARENA_MAX: '4' });
    daemons.push(proc);
    assert.equal(procOf(proc.child.pid as number).env.get('MALLOC_ARENA_MAX'), '4');
  });
});
