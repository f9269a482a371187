// The local PostgreSQL and Redis the embedded stack (demo, devstack) and the test suite run on: answering checks,
// and starting a service that is installed but not running — always saying so first. Nothing here restarts or
// reconfigures a server that is already running; the one exception, raising settings the test suite needs, lives in
// test/support/services.ts and asks for it explicitly.
import { execSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCAL_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

export type Say = (line: string) => void;

export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitForPort(host: string, port: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await canConnect(host, port)) return true;
    await sleep(200);
  }
  return false;
}

/** Runs a command; failures are reported by the caller's wait, with a clear message. */
export function tryRun(cmd: string, timeoutMs = 60_000): boolean {
  try {
    execSync(cmd, { stdio: 'ignore', timeout: timeoutMs });
    return true;
  } catch {
    return false;
  }
}

/** The PostgreSQL clusters Debian's postgresql-common knows (/etc/postgresql/<version>/main). */
export function localClusters(): string[] {
  try {
    return readdirSync('/etc/postgresql');
  } catch {
    return [];
  }
}

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) };
}

/** Starts a local Redis without persistence when none answers at `url`. */
export async function ensureLocalRedis(url: string, say: Say): Promise<void> {
  const { host, port } = hostPort(url, 6379);
  if (await canConnect(host, port)) return;
  say(`Redis is not answering on ${host}:${port}; starting a local redis-server (no persistence)`);
  tryRun(`redis-server --daemonize yes --bind 127.0.0.1 -::1 --port ${port} --save "" --appendonly no --dir /tmp`);
  if (!(await waitForPort(host, port, 15_000))) {
    throw new Error(`Redis is not answering on ${host}:${port} and could not be started (is redis-server installed?)`);
  }
}

/** Starts the local PostgreSQL cluster(s) when none answers at `url`; never restarts one that is running. */
export async function ensureLocalPostgres(url: string, say: Say): Promise<void> {
  const { host, port } = hostPort(url, 5432);
  if (await canConnect(host, port)) return;
  const clusters = localClusters();
  if (clusters.length > 0) say(`PostgreSQL is not answering on ${host}:${port}; starting cluster ${clusters.join(', ')}/main`);
  for (const v of clusters) tryRun(`pg_ctlcluster --skip-systemctl-redirect ${v} main start`);
  if (!(await waitForPort(host, port, 30_000))) {
    throw new Error(`PostgreSQL is not answering on ${host}:${port} and could not be started`);
  }
}

/** The URL of another database on the same server. */
export function databaseUrlFor(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
