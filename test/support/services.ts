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

/** Connections the suite needs at its peak (two files at a time, each with its own database and daemons). */
const NEEDED_CONNECTIONS = 300;

/**
 * Raises PostgreSQL's max_connections on this kind of test machine (a local cluster under /etc/postgresql, run as
 * root) when it is below what the suite needs; elsewhere it only warns.
 */
export async function ensurePostgresCapacity(): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  let current = 0;
  try {
    current = Number((await client.query<{ max_connections: string }>('show max_connections')).rows[0]?.max_connections ?? 0);
    if (current >= NEEDED_CONNECTIONS) return;
    if (process.getuid?.() !== 0 || new URL(TEST_PG_URL).hostname !== '127.0.0.1') {
      process.stderr.write(`warning: PostgreSQL max_connections is ${current}; the suite may need ${NEEDED_CONNECTIONS}\n`);
      return;
    }
    await client.query(`alter system set max_connections = ${NEEDED_CONNECTIONS}`);
  } finally {
    await client.end();
  }
  let versions: string[] = [];
  try {
    versions = readdirSync('/etc/postgresql');
  } catch {
    versions = [];
  }
  process.stderr.write(`raising PostgreSQL max_connections from ${current} to ${NEEDED_CONNECTIONS} (restart)\n`);
  for (const v of versions) tryRun(`pg_ctlcluster --skip-systemctl-redirect ${v} main restart`);
  const url = new URL(TEST_PG_URL);
  if (!(await waitFor(url.hostname, Number(url.port || 5432), 30_000))) throw new Error('PostgreSQL did not come back after the restart');
}

export async function ensureServices(): Promise<void> {
  await Promise.all([ensurePostgres(), ensureRedis()]);
  await ensurePostgresCapacity();
}
