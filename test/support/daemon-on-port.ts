// Starts the real daemon process on a free health port, and tries again on another port if the one chosen was
// taken in between (another test process grabbed it: the daemon then exits with EADDRINUSE). Resolves once /livez
// answers, or when the process has exited for any other reason (the caller sees that exit).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  startDaemonProcess,
  type DaemonProcess,
  type DaemonProcessOptions,
} from '../../src/devstack/daemon-process.js';
import { freePort } from '../chaos/infra.js';

async function livez(port: number, proc: DaemonProcess, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && proc.child.exitCode === null && proc.child.signalCode === null) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/livez`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return false;
}

export async function startDaemonOnFreePort(
  env: Record<string, string>,
  opts: DaemonProcessOptions = {},
  timeoutMs = 60_000,
): Promise<{ proc: DaemonProcess; port: number }> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const proc = startDaemonProcess(
      { ...env, DAEMON_HEALTH_PORT: String(port), DAEMON_HEALTH_HOST: '127.0.0.1' },
      opts,
    );
    if (await livez(port, proc, timeoutMs)) return { proc, port };
    const said = `${proc.lines.join('\n')}\n${proc.stderr.join('')}`;
    if (attempt >= 3 || !/EADDRINUSE/.test(said)) return { proc, port };
    await proc.exited;
  }
}
