// The local PostgreSQL and Redis the embedded stack (demo, devstack) and the test suite run on: answering checks,
// starting a service that is installed but not running, and making a local cluster able to feed the Realtime
// stand-in (wal_level = logical, Debian's wal2json package) — always saying so first, and with
// DEVSTACK_NO_SERVER_CHANGES=1 only printing the exact commands instead. Nothing else restarts or reconfigures a
// running server; the test suite's own settings (connections, slots) live in test/support/services.ts.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export const LOCAL_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
/** The service-role key the local Realtime stand-in accepts by default (devstack, standins). */
export const DEV_SERVICE_ROLE_KEY = 'dev-service-role-key';

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
  if (clusters.length > 0)
    say(`PostgreSQL is not answering on ${host}:${port}; starting cluster ${clusters.join(', ')}/main`);
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

/** Set to 1 to forbid the local stack from installing packages or restarting PostgreSQL (it prints how instead). */
export const NO_SERVER_CHANGES_ENV = 'DEVSTACK_NO_SERVER_CHANGES';

interface ServerInfo {
  walLevel: string;
  major: number;
  pkglib: string | undefined;
}

async function serverInfo(url: string): Promise<ServerInfo> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ wal_level: string; v: string }>(
      `select current_setting('wal_level') as wal_level, current_setting('server_version_num') as v`,
    );
    const major = Math.floor(Number(rows[0]?.v ?? 0) / 10000);
    const lib = `/usr/lib/postgresql/${major}/lib`;
    return { walLevel: rows[0]?.wal_level ?? '', major, pkglib: existsSync(lib) ? lib : undefined };
  } finally {
    await client.end();
  }
}

/** Whether this process may change the local server: root, a Debian cluster on this machine, not forbidden. */
function mayChangeLocalServer(url: string): boolean {
  const host = new URL(url).hostname;
  return (
    process.getuid?.() === 0 &&
    localClusters().length > 0 &&
    (host === '127.0.0.1' || host === 'localhost') &&
    process.env[NO_SERVER_CHANGES_ENV] !== '1'
  );
}

/**
 * Makes the local PostgreSQL able to feed the Realtime stand-in: installs postgresql-<major>-wal2json when missing
 * and sets wal_level = logical (a restart of the local cluster), each time saying so first. Where it may not (not
 * root, a remote server, DEVSTACK_NO_SERVER_CHANGES=1) it throws with the exact commands to run.
 */
export async function ensureLogicalDecoding(url: string, say: Say): Promise<void> {
  const info = await serverInfo(url);
  const pkg = `postgresql-${info.major}-wal2json`;
  const missingPlugin = info.pkglib !== undefined && !existsSync(`${info.pkglib}/wal2json.so`);
  const needsRestart = info.walLevel !== 'logical';
  if (!missingPlugin && !needsRestart) return;
  const steps = [
    ...(missingPlugin ? [`apt-get install -y ${pkg}`] : []),
    ...(needsRestart
      ? [`psql "${url}" -c "ALTER SYSTEM SET wal_level = logical"`, `pg_ctlcluster ${info.major} main restart`]
      : []),
  ];
  if (!mayChangeLocalServer(url)) {
    throw new Error(
      `the Realtime stand-in reads the WAL through wal2json, and this PostgreSQL is not ready ` +
        `(${[missingPlugin ? `${pkg} is not installed` : '', needsRestart ? `wal_level is ${info.walLevel}` : '']
          .filter(Boolean)
          .join(', ')}). Run:\n  ${steps.join('\n  ')}`,
    );
  }
  if (missingPlugin) {
    say(
      `installing Debian's ${pkg} (the Realtime stand-in decodes the WAL with it; ` +
        `${NO_SERVER_CHANGES_ENV}=1 refuses)`,
    );
    if (!tryRun(`apt-get install -y -q ${pkg}`, 300_000)) {
      tryRun('apt-get update -q', 300_000);
      if (!tryRun(`apt-get install -y -q ${pkg}`, 300_000)) {
        throw new Error(`could not install ${pkg}; run: apt-get install ${pkg}`);
      }
    }
  }
  if (needsRestart) {
    say(
      `PostgreSQL has wal_level = ${info.walLevel}; setting wal_level = logical and RESTARTING the local cluster ` +
        `${info.major}/main (every open connection to it is cut; ${NO_SERVER_CHANGES_ENV}=1 refuses)`,
    );
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('alter system set wal_level = logical');
    } finally {
      await client.end();
    }
    tryRun(`pg_ctlcluster --skip-systemctl-redirect ${info.major} main restart`);
    const { host, port } = hostPort(url, 5432);
    if (!(await waitForPort(host, port, 30_000))) throw new Error('PostgreSQL did not come back after the restart');
  }
}
