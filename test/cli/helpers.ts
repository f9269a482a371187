// Runs the built notifyd CLI (dist/src/cli/notifyd.js) as a child process with exactly the environment given, and
// checks what every run must hold: with --json, stdout is one JSON document; no output carries a secret or a marker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

export function runCli(args: readonly string[], env: Record<string, string | undefined>, timeoutMs = 90_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const child = spawn(process.execPath, [CLI, ...args], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`notifyd ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      for (const secret of [...NEVER_SHOWN, ...secretsOf(clean)]) {
        assert.ok(!stdout.includes(secret) && !stderr.includes(secret), `notifyd ${args.join(' ')} printed a secret`);
      }
      resolve({
        code, stdout, stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new assert.AssertionError({ message: `stdout is not one JSON document:\n${stdout}\nstderr: ${stderr}` });
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
