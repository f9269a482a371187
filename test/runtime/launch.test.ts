// The daemon's launch step (supervisor/launch.ts): the real `node dist/supervisor.js` process runs with a small
// main-thread young generation and two malloc arenas, set by replacing itself (same pid) before anything else
// loads, and an operator's own MALLOC_ARENA_MAX is kept. Read from /proc: what the running process really has.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { DaemonProcess } from '../../src/devstack/daemon-process.js';
import { MAIN_SEMI_SPACE_MB, MALLOC_ARENAS } from '../../supervisor/launch-settings.js';
import { startDaemonOnFreePort } from '../support/daemon-on-port.js';
import { startStack, type Stack } from '../support/stack.js';

/** The environment and command line of a running process, as the kernel holds them. */
function procOf(pid: number): { env: Map<string, string>; argv: string[] } {
  const env = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return { env, argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') };
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

  it("keeps an operator's MALLOC_ARENA_MAX", async () => {
    const { proc } = await startDaemonOnFreePort({ ...stack.env, MALLOC_ARENA_MAX: '4' });
    daemons.push(proc);
    assert.equal(procOf(proc.child.pid as number).env.get('MALLOC_ARENA_MAX'), '4');
  });
});
