// Runs the real daemon as a child process (`node dist/supervisor.js`), as an operator would, capturing every
// log line it writes (all threads share its stdout): the demo prints from them, tests assert on them.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ENTRY = fileURLToPath(new URL('../../supervisor.js', import.meta.url));

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly stderr: string[];
  /** exit code (or 128 + signal number when killed by a signal) */
  readonly exited: Promise<number>;
  signal(sig: NodeJS.Signals): void;
  /** resolves when a log line matching the predicate appears */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
}

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 };

export interface DaemonProcessOptions {
  /**
   * Its own process group: a terminal's Ctrl-C (SIGINT to the foreground group) then reaches only the parent, which
   * stops the daemon with exactly one signal. The parent kills it if it exits first.
   */
  detached?: boolean;
}

export function startDaemonProcess(env: Record<string, string>, opts: DaemonProcessOptions = {}): DaemonProcess {
  const child = spawn(process.execPath, [ENTRY], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached === true,
  });
  if (opts.detached === true) {
    const reap = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
  }
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() === '') continue;
      lines.push(line);
      for (const w of [...waiters])
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, sig) => resolve(code ?? 128 + (SIGNALS[sig ?? ''] ?? 0)));
  });
  return {
    child,
    lines,
    stderr,
    exited,
    signal: (sig) => {
      child.kill(sig);
    },
    waitForLine(match, timeoutMs = 30_000) {
      const existing = lines.find(match);
      if (existing !== undefined) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching log line within ${timeoutMs} ms; last lines:\n` +
                  `${lines.slice(-5).join('\n')}\n${stderr.join('')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}
