// Runs the built notifyd CLI (dist/src/cli/notifyd.js) as a child process with exactly the environment given, and
// checks what every run must hold: with --json, stdout is one JSON document; no output carries a secret or a marker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/wait.js';

export const CLI = fileURLToPath(new URL('../../src/cli/notifyd.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (fails the test when it is not one) */
  json<T = Record<string, unknown>>(): T;
}

/** Values that must never appear in any output (keys, passwords, payload and recipient markers). */
export const NEVER_SHOWN: string[] = [];

export function runCli(
  args: readonly string[],
  env: Record<string, string | undefined>,
  timeoutMs = 90_000,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const child = spawn(process.execPath, [CLI, ...args], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      const shown = `stdout: ${stdout}\nstderr: ${stderr}`;
      reject(new Error(`notifyd ${args.join(' ')} did not exit within ${timeoutMs} ms\n${shown}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      for (const secret of [...NEVER_SHOWN, ...secretsOf(clean)]) {
        const leaked = stdout.includes(secret) || stderr.includes(secret);
        assert.ok(!leaked, `notifyd ${args.join(' ')} printed a secret`);
      }
      resolve({
        code,
        stdout,
        stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            const message = `stdout is not one JSON document:\n${stdout}\nstderr: ${stderr}`;
            throw new assert.AssertionError({ message });
          }
        },
      });
    });
  });
}

/** Keys and passwords in an environment: the service-role key, the Novu key, a password in a URL. */
function secretsOf(env: Record<string, string>): string[] {
  const out = [env['SUPABASE_SERVICE_ROLE_KEY'], env['NOVU_SECRET_KEY'], env['ADMIN_PASSWORD']];
  for (const name of ['DATABASE_URL', 'REDIS_URL']) {
    try {
      const pw = new URL(env[name] ?? '').password;
      if (pw !== '') out.push(decodeURIComponent(pw));
    } catch {
      // not a URL
    }
  }
  return out.filter((s): s is string => typeof s === 'string' && s.length >= 6);
}

/** Asserts the exit code, showing both streams when it differs. */
export function assertExit(run: CliRun, code: number): void {
  assert.equal(run.code, code, `exit code ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

/** How long a test waits for the daemon to act (a loaded 2-core machine runs other suites' daemons too). */
export const LONG = 60_000;

/** Waits (up to LONG) for the daemon to bring about `probe`. */
export function until<T>(
  probe: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  what: string,
): Promise<T> {
  return waitFor(probe, { what, timeoutMs: LONG });
}
