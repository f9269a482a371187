// A real local Redis Cluster for tests: three masters (no replicas) started with `redis-server --cluster-enabled yes`
// on free ports, joined by `redis-cli --cluster create`, ready once every node reports cluster_state:ok. A master
// can be killed and restarted on its port with its own nodes.conf (no persistence: it comes back empty). stop()
// kills every node by pid and removes the temp directory; a process that exits first kills them too.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { RedisTarget } from '../../src/queue/redis.js';
import { canConnect } from './services.js';

const run = promisify(execFile);

/** Cluster bus ports are the client port + 10,000: both must be free, so ports are drawn from 20000-29999. */
async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function pickPorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = 20_000 + Math.floor(Math.random() * 10_000);
    if (out.includes(p)) continue;
    if ((await portFree(p)) && (await portFree(p + 10_000))) out.push(p);
  }
  return out;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

export interface ClusterNodeProcess {
  readonly port: number;
  readonly dir: string;
  /** SIGKILL: no shutdown save; the node keeps its identity and slots in its nodes.conf */
  kill(): Promise<void>;
  /** starts it again on the same port and nodes.conf */
  start(): Promise<void>;
}

export interface LocalRedisCluster {
  readonly nodes: readonly ClusterNodeProcess[];
  /** REDIS_CLUSTER_NODES for these masters: 127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 */
  readonly nodesVar: string;
  /** the same as a RedisTarget for createRedis */
  readonly target: RedisTarget;
  /** the master (by port) that serves the slot of `key` */
  masterOf(key: string): Promise<ClusterNodeProcess>;
  /** CLUSTER KEYSLOT of a key, as Redis computes it */
  keyslot(key: string): Promise<number>;
  /** resolves once every node answers cluster_state:ok */
  waitOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;
function track(c: ChildProcess): void {
  live.add(c);
  c.once('exit', () => live.delete(c));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

export interface ClusterOptions {
  masters?: number;
  nodeTimeoutMs?: number;
}

/** Starts a cluster; a port taken between the check and the bind (another process) means a new try on others. */
export async function startRedisCluster(options: ClusterOptions = {}): Promise<LocalRedisCluster> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startOnce(options: ClusterOptions): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'notifyd-cluster-'));
  const ports = await pickPorts(masters);
  const nodes = ports.map((port) => {
    const dir = join(root, String(port));
    mkdirSync(dir);
    let child: ChildProcess | undefined;
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(options.nodeTimeoutMs ?? 5000),
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ];
    const node: ClusterNodeProcess = {
      port,
      dir,
      async start() {
        const c = spawn('redis-server', args, { stdio: 'ignore' });
        c.on('error', () => undefined);
        track(c);
        child = c;
        const until = Date.now() + 15_000;
        while (!(await canConnect('127.0.0.1', port, 500))) {
          if (c.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${c.exitCode}`);
          if (Date.now() > until) throw new Error(`redis-server on ${port} did not answer within 15 s`);
          await sleep(50);
        }
      },
      async kill() {
        const c = child;
        child = undefined;
        if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
        const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.kill('SIGKILL');
        await gone;
      },
    };
    return node;
  });
  const cluster: LocalRedisCluster = {
    nodes,
    nodesVar: ports.map((p) => `127.0.0.1:${p}`).join(','),
    target: { redisUrl: 'redis://127.0.0.1:6379', redisCluster: ports.map((port) => ({ host: '127.0.0.1', port })) },
    async keyslot(key) {
      return Number((await cli(ports[0] as number, 'CLUSTER', 'KEYSLOT', key)).trim());
    },
    async masterOf(key) {
      const slot = await cluster.keyslot(key);
      // CLUSTER NODES: <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <state> <slot ranges...>
      const lines = (await cli(ports[0] as number, 'CLUSTER', 'NODES')).trim().split('\n');
      for (const line of lines) {
        const [, addr, flags, , , , , , ...ranges] = line.split(' ');
        if (!flags?.includes('master')) continue;
        const covers = ranges.some((r) => {
          const [a, b] = r.split('-').map(Number);
          return a !== undefined && slot >= a && slot <= (b ?? a);
        });
        const port = Number(addr?.split('@')[0]?.split(':')[1]);
        const node = nodes.find((n) => n.port === port);
        if (covers && node !== undefined) return node;
      }
      throw new Error(`no master serves slot ${slot}`);
    },
    async waitOk(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          ports.map((p) =>
            cli(p, 'CLUSTER', 'INFO').then(
              (s) => /cluster_state:ok/.test(s),
              () => false,
            ),
          ),
        );
        if (states.every(Boolean)) return;
        if (Date.now() > until) throw new Error(`cluster not ok within ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill().catch(() => undefined)));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (const n of nodes) await n.start();
    const addrs = ports.map((p) => `127.0.0.1:${p}`);
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    await cluster.waitOk();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
