// Redis Cluster configuration: REDIS_CLUSTER_NODES is parsed and checked, and a cluster without a {hash tag} in
// QUEUE_PREFIX (keys of one queue spread over slots, which BullMQ's scripts cannot use) is refused with exit 78.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { hashTagOf } from '../../src/config/schema.js';

const base = {
  SUPABASE_URL: 'http://127.0.0.1:54321',
  SUPABASE_SERVICE_ROLE_KEY: 'service-key',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
  NOVU_SECRET_KEY: 'novu-key',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.problems];
  }
  assert.fail('expected a ConfigError');
}

/** The daemon's entry with this environment: its exit code and stderr. */
function daemon(env: Record<string, string>): { status: number | null; stderr: string } {
  const entry = fileURLToPath(new URL('../../supervisor.js', import.meta.url));
  const res = spawnSync(process.execPath, [entry], {
    env: { PATH: process.env['PATH'] ?? '', ...base, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: res.status, stderr: res.stderr };
}

describe('Redis Cluster configuration', () => {
  it('reads REDIS_CLUSTER_NODES into host/port pairs (IPv6 in brackets) and leaves it unset for one Redis', () => {
    const c = loadConfig({
      ...base,
      REDIS_CLUSTER_NODES: ' redis-a:7000, 10.0.0.2:7001 ,[::1]:7002,',
      QUEUE_PREFIX: '{notifyd}',
    });
    assert.deepEqual(c.redisCluster, [
      { host: 'redis-a', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    assert.equal(loadConfig(base).redisCluster, undefined);
  });

  it('finds the hash tag as Redis does: the first { to the next }, only when something is between them', () => {
    assert.equal(hashTagOf('{notifyd}'), 'notifyd');
    assert.equal(hashTagOf('app-{notifyd}-eu'), 'notifyd');
    assert.equal(hashTagOf('a{b}{c}'), 'b');
    assert.equal(hashTagOf('a{}{c}'), undefined); // Redis then hashes the whole key
    assert.equal(hashTagOf('notifyd'), undefined);
    assert.equal(hashTagOf('no}{close'), undefined);
  });

  it('exits 78 naming QUEUE_PREFIX and its fix when cluster nodes are set without a hash tag', () => {
    const res = daemon({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' });
    assert.equal(res.status, 78, res.stderr);
    assert.match(res.stderr, /^ {2}QUEUE_PREFIX: on Redis Cluster .*\{hash tag\}.*set QUEUE_PREFIX=\{notifyd\}/m);
    const empty = problemsOf({ ...base, REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: 'app{}{x}' });
    assert.equal(empty.length, 1);
    assert.match(empty[0] ?? '', /^QUEUE_PREFIX: .*set QUEUE_PREFIX=\{appx\}/);
    // the same prefix is fine on a single Redis
    assert.equal(loadConfig({ ...base, QUEUE_PREFIX: 'notifyd' }).queuePrefix, 'notifyd');
  });

  it('exits 78 naming REDIS_CLUSTER_NODES and each malformed entry', () => {
    const res = daemon({ REDIS_CLUSTER_NODES: 'localhost,127.0.0.1:99999,:7000,ok:7001', QUEUE_PREFIX: '{n}' });
    assert.equal(res.status, 78, res.stderr);
    assert.match(
      res.stderr,
      /^ {2}REDIS_CLUSTER_NODES: "localhost", "127\.0\.0\.1:99999", ":7000": each node must be host:port/m,
    );
    assert.match(problemsOf({ ...base, REDIS_CLUSTER_NODES: ' , ' })[0] ?? '', /^REDIS_CLUSTER_NODES: lists no node/);
  });

  it('refuses a database number in REDIS_URL on a cluster, without echoing the URL', () => {
    const problems = problemsOf({
      ...base,
      REDIS_URL: 'redis://:sekret@127.0.0.1:6379/3',
      REDIS_CLUSTER_NODES: '127.0.0.1:7000',
      QUEUE_PREFIX: '{notifyd}',
    });
    assert.deepEqual(problems, ['REDIS_URL: Redis Cluster has only database 0; remove the /3 from REDIS_URL']);
    assert.equal(
      loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1/0', REDIS_CLUSTER_NODES: 'a:1', QUEUE_PREFIX: '{n}' })
        .redisCluster?.length,
      1,
    );
  });
});
