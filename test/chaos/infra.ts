// Private infrastructure for the chaos scenarios that restart a server: a redis-server with append-only
// persistence and a PostgreSQL cluster of its own, each on a free port with a temp directory. The shared services
// on 6379 and 5432 serve other test files in parallel and are never touched. Everything started here is stopped
// by its owner's cleanup, and killed (by pid) if the process exits first.
import { execFile, execSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { canConnect } from '../support/services.js';

const run = promisify(execFile);

/** pids this process started; killed on exit if still alive (a crashed or timed-out run leaves nothing behind). */
const owned = new Set<number>();
let exitHookInstalled = false;
function own(pid: number | undefined): void {
  if (pid === undefined) return;
  owned.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of owned) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}
function disown(pid: number | undefined): void {
  if (pid !== undefined) owned.delete(pid);
}

/** p, or undefined once ms have passed; the timer is cleared either way (nothing keeps the process alive). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, up: boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await canConnect('127.0.0.1', port, 500)) === up) return;
    await sleep(100);
  }
  throw new Error(`${what} did not ${up ? 'answer' : 'go away'} on port ${port} within ${timeoutMs} ms`);
}

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** SIGKILL (worst case: no shutdown save; append-only with fsync always keeps every acknowledged write). */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** kill, wait downtimeMs, start again on the same port and directory */
  restart(downtimeMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(
  options: { appendfsync?: 'always' | 'everysec' | 'none' } = {},
): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'notifyd-chaos-redis-'));
  let child: ChildProcess | undefined;
  const persistence =
    options.appendfsync === 'none'
      ? ['--appendonly', 'no']
      : ['--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'always'];
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    ...persistence,
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
  let stopped = false;
  const start = async (): Promise<void> => {
    if (stopped) throw new Error('private redis was stopped');
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    c.on('error', () => undefined);
    own(c.pid);
    child = c;
    await waitPort(port, true, 15_000, 'private redis');
  };
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGKILL');
    await within(gone, 5000);
    disown(c.pid);
    await waitPort(port, false, 5000, 'private redis');
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill,
    start,
    async restart(downtimeMs) {
      await kill();
      await sleep(downtimeMs);
      await start();
    },
    async stop() {
      stopped = true;
      await kill().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivatePostgres {
  readonly port: number;
  readonly dataDir: string;
  url(database: string): string;
  /** pg_ctl -m fast -w restart: every connection is terminated, the server comes back on the same port. */
  restart(): Promise<void>;
  /** pg_ctl -m fast stop: the server is gone until start() */
  down(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function pgBinDir(): string {
  const versions = readdirSync('/usr/lib/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions[0] === undefined) throw new Error('no PostgreSQL under /usr/lib/postgresql');
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a command as the postgres OS user (PostgreSQL refuses to run as root). */
async function asPostgres(cmd: string, timeoutMs = 120_000): Promise<void> {
  const user = process.getuid?.() === 0 ? 'postgres' : undefined;
  if (user === undefined) await run('sh', ['-c', cmd], { timeout: timeoutMs });
  else await run('su', [user, '-s', '/bin/sh', '-c', cmd], { timeout: timeoutMs });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = pgBinDir();
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'notifyd-chaos-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: g } = await run('id', ['-g', 'postgres']);
    chownSync(root, Number(stdout.trim()), Number(g.trim()));
  }
  const opts =
    `-p ${port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 ` +
    '-c shared_buffers=32MB -c wal_level=logical';
  const ctl = (action: string) =>
    `${bin}/pg_ctl -D ${quote(dataDir)} -l ${quote(logFile)} -o ${quote(opts)} -w -t 60 ${action}`;
  try {
    await asPostgres(`${bin}/initdb -D ${quote(dataDir)} -A trust -U postgres --no-sync >/dev/null`);
    await asPostgres(ctl('start'));
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  // If this process ends without stop() (a crash, a hard timeout), the cluster must not outlive it.
  const onExit = () => {
    if (stopped) return;
    const cmd = `${bin}/pg_ctl -D ${quote(dataDir)} -m immediate stop`;
    try {
      execSync(process.getuid?.() === 0 ? `su postgres -s /bin/sh -c ${quote(cmd)}` : cmd, {
        stdio: 'ignore',
        timeout: 20_000,
      });
    } catch {
      /* best effort */
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  return {
    port,
    dataDir,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async restart() {
      await asPostgres(ctl('-m fast restart'));
    },
    async down() {
      await asPostgres(`${bin}/pg_ctl -D ${quote(dataDir)} -m fast -w -t 30 stop`);
    },
    async start() {
      await asPostgres(ctl('start'));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      await asPostgres(`${bin}/pg_ctl -D ${quote(dataDir)} -m immediate -w -t 30 stop`).catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
