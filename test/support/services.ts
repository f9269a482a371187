// Makes sure the real services the suite needs (PostgreSQL, Redis) are answering, starting them when they are not,
// so `npm test` works on a fresh machine of this kind. Nothing here is mocked.
import { execSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const TEST_PG_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitFor(host: string, port: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await canConnect(host, port)) return true;
    await sleep(200);
  }
  return false;
}

function tryRun(cmd: string): void {
  try {
    execSync(cmd, { stdio: 'ignore', timeout: 60_000 });
  } catch {
    // the wait below reports the failure with a clear message
  }
}

export async function ensureRedis(): Promise<void> {
  const url = new URL(TEST_REDIS_URL);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await canConnect(host, port)) return;
  tryRun(`redis-server --daemonize yes --bind 127.0.0.1 -::1 --port ${port} --save "" --appendonly no --dir /tmp`);
  if (!(await waitFor(host, port, 15_000))) throw new Error(`Redis is not answering on ${host}:${port} and could not be started`);
}

export async function ensurePostgres(): Promise<void> {
  const url = new URL(TEST_PG_URL);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 5432);
  if (await canConnect(host, port)) return;
  let versions: string[] = [];
  try {
    versions = readdirSync('/etc/postgresql');
  } catch {
    versions = [];
  }
  for (const v of versions) tryRun(`pg_ctlcluster --skip-systemctl-redirect ${v} main start`);
  if (!(await waitFor(host, port, 30_000))) throw new Error(`PostgreSQL is not answering on ${host}:${port} and could not be started`);
}

export async function ensureServices(): Promise<void> {
  await Promise.all([ensurePostgres(), ensureRedis()]);
}
