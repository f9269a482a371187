// notifyd's own Redis keys on a real 3-master Redis Cluster: every script and transaction (leases, members, hosts,
// the served registry, missed marks, fair ranks, token buckets) and BullMQ's queue run without CROSSSLOT because
// every key sits under QUEUE_PREFIX's hash tag, in one slot; without the tag the same scripts are refused. Pub/sub
// reaches a subscriber on another node, and the noeviction checks ask every master.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'bullmq';
import { loadConfig } from '../../src/config/load.js';
import { redisChecks } from '../../src/cli/commands/doctor-checks.js';
import { RedisTokenBucket } from '../../src/ownership/budget.js';
import { HostRegistry } from '../../src/ownership/hosts.js';
import { LeaseTable } from '../../src/ownership/leases.js';
import { IntakeMembers } from '../../src/ownership/members.js';
import { MissedMarks } from '../../src/ownership/missed.js';
import { ServedRegistry } from '../../src/ownership/served.js';
import { FairRanks } from '../../src/queue/fairness.js';
import { QUEUE_NAME } from '../../src/queue/jobs.js';
import { NotificationProducer } from '../../src/queue/producer.js';
import { createRedis, duplicateRedis, evictionPolicies, mastersOf, type RedisClient } from '../../src/queue/redis.js';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/wait.js';

const PREFIX = '{ntf-cl}';

/** Every key of each master (SCAN per master: a cluster client's SCAN would see one node only). */
async function keysByMaster(redis: RedisClient): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const node of mastersOf(redis)) {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    out.set(String(node.options.port), keys);
  }
  return out;
}

/** Everything notifyd writes outside BullMQ, once each, under `prefix`. */
async function touchEveryKey(redis: RedisClient, prefix: string): Promise<void> {
  const leases = new LeaseTable(redis, prefix, 'owners');
  await leases.hold('host-a', ['e1', 'e2'], 5000);
  await leases.list();
  await leases.release('host-a', ['e2']);
  const members = new IntakeMembers(redis, prefix);
  await members.renew('host-a', ['e1', 'e2'], 5000);
  const hosts = new HostRegistry(redis, prefix);
  const info = { hostId: 'host-a', role: 'all', hostname: 'h', pid: 1, version: 'v', startedAt: 'now' };
  await hosts.publish({ ...info, healthUrl: 'http://h', status: 'ok', enterprises: 2 }, 5000);
  await hosts.list();
  const served = new ServedRegistry(redis, prefix);
  await served.publish(
    [{ id: 'e1', mode: 'deliver', info: { host: 'host-a', state: 'subscribed', since: null } }],
    5000,
  );
  await served.snapshot();
  await served.details();
  const missed = new MissedMarks(redis, prefix);
  await missed.mark(['e1'], 5000);
  await missed.live();
  const fair = new FairRanks(redis, prefix);
  await fair.rank([
    { enterpriseId: 'e1', priority: 10, jobId: 'j1', delayMs: 0 },
    { enterpriseId: 'e2', priority: 5, jobId: 'j2', delayMs: 0 },
  ]);
  await fair.done([
    { enterpriseId: 'e1', priority: 10, jobId: 'j1' },
    { enterpriseId: 'e2', priority: 5, jobId: 'j2' },
  ]);
  for (const name of ['realtime-joins', 'enterprise:e1', 'novu:env']) {
    await new RedisTokenBucket(redis, prefix, name, { perSecond: 10 }).tryTake();
  }
  await redis.set(`${prefix}:redis-epoch`, '1', 'NX');
}

/** The MULTI transactions that remove a host's entries (several keys each). */
async function withdrawEverything(redis: RedisClient, prefix: string): Promise<void> {
  await new IntakeMembers(redis, prefix).leave('host-a');
  await new HostRegistry(redis, prefix).withdraw('host-a');
  await new ServedRegistry(redis, prefix).withdraw(['e1']);
}

describe('notifyd on a real 3-master Redis Cluster', { timeout: 120_000 }, () => {
  let cluster: LocalRedisCluster;
  let redis: RedisClient;

  before(async () => {
    cluster = await startRedisCluster();
    redis = createRedis(cluster.target, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  it('runs every notifyd script and BullMQ queue under a hash-tagged prefix, all keys in its one slot', async () => {
    await touchEveryKey(redis, PREFIX);
    const producer = await NotificationProducer.connect({ ...cluster.target, prefix: PREFIX, attempts: 2 });
    const done = new Set<string>();
    // BullMQ does not close a connection it was given: this one is ours to disconnect
    const workerConnection = createRedis(cluster.target, { maxRetriesPerRequest: null });
    const worker = new Worker(QUEUE_NAME, async (job) => void done.add(job.id ?? ''), {
      connection: workerConnection,
      prefix: PREFIX,
      concurrency: 8,
    });
    try {
      const reqs = Array.from({ length: 60 }, (_, i) => ({
        enterpriseId: `e${i % 3}`,
        notificationId: String(1000 + i),
        version: '1',
        action: 'deliver' as const,
        origin: 'realtime' as const,
        priority: 10,
        delayMs: i % 10 === 0 ? 300 : 0,
      }));
      await producer.enqueueMany(reqs);
      await producer.enqueue({ ...reqs[0]!, notificationId: '2000' });
      await waitFor(() => done.size === 61, { what: '61 jobs processed', timeoutMs: 30_000 });
    } finally {
      await worker.close();
      workerConnection.disconnect();
      await producer.close();
    }
    const byMaster = await keysByMaster(redis);
    const ours = [...byMaster].filter(([, keys]) => keys.some((k) => k.startsWith(PREFIX)));
    assert.equal(ours.length, 1, `keys on one master only: ${JSON.stringify(ours.map(([p, k]) => [p, k.length]))}`);
    const keys = ours[0]![1].filter((k) => k.startsWith(PREFIX));
    for (const part of [':notifications:', ':owners', ':intake:', ':hosts', ':served:', ':fair:', ':budget:']) {
      assert.ok(
        keys.some((k) => k.includes(part)),
        `a key with ${part} among ${keys.length}`,
      );
    }
    const slot = await cluster.keyslot(PREFIX);
    const slots = new Set(await Promise.all(keys.map((k) => cluster.keyslot(k))));
    assert.deepEqual([...slots], [slot], 'every key in the hash tag slot');
    assert.equal((await cluster.masterOf(PREFIX)).port, Number(ours[0]![0]));
    await withdrawEverything(redis, PREFIX);
    assert.deepEqual(await new HostRegistry(redis, PREFIX).list(), []);
  });

  it('is refused with CROSSSLOT when the prefix has no hash tag (the keys of one script in two slots)', async () => {
    const prefix = 'ntf-notag';
    const [table, fence] = [`${prefix}:owners`, `${prefix}:owners:fence`];
    assert.notEqual(await cluster.keyslot(table), await cluster.keyslot(fence), 'precondition: two slots');
    await assert.rejects(new LeaseTable(redis, prefix, 'owners').hold('host-a', ['e1'], 5000), /CROSSSLOT/);
  });

  it('delivers a PUBLISH made on any master to the subscriber connection (ownership announcements)', async () => {
    const heard: string[] = [];
    const sub = duplicateRedis(redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
    sub.on('message', (_channel: string, msg: string) => heard.push(msg));
    try {
      await sub.subscribe(`${PREFIX}:ownership:changed`);
      // PUBLISH on each master in turn: the subscriber, on whichever node ioredis picked, hears all three
      const masters = mastersOf(redis);
      await waitFor(
        async () => {
          for (const m of masters) await m.publish(`${PREFIX}:ownership:changed`, `via-${m.options.port}`);
          return masters.every((m) => heard.includes(`via-${m.options.port}`));
        },
        { what: 'the announcement from every master', timeoutMs: 10_000 },
      );
    } finally {
      sub.disconnect();
    }
  });

  it('checks noeviction on every master: one evicting master fails doctor, naming it', async () => {
    const config = loadConfig({
      SUPABASE_URL: 'http://127.0.0.1:54321',
      SUPABASE_SERVICE_ROLE_KEY: 'k',
      DATABASE_URL: 'postgres://x@127.0.0.1/x',
      DELIVERY_MODE: 'observe',
      REDIS_CLUSTER_NODES: cluster.nodesVar,
      QUEUE_PREFIX: PREFIX,
    });
    const policies = await evictionPolicies(redis);
    assert.equal(policies.size, 3);
    assert.ok([...policies.values()].every((p) => p === 'noeviction'));
    const ok = await redisChecks(config);
    assert.deepEqual(
      ok.map((c) => [c.id, c.status]),
      [
        ['redis', 'pass'],
        ['redis-eviction', 'pass'],
      ],
    );
    assert.match(ok[0]?.detail ?? '', /Redis Cluster of 3 masters/);
    const victim = cluster.nodes[1]!;
    const direct = mastersOf(redis).find((m) => m.options.port === victim.port)!;
    await direct.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const bad = (await redisChecks(config)).find((c) => c.id === 'redis-eviction');
      assert.equal(bad?.status, 'fail');
      assert.match(bad?.detail ?? '', new RegExp(`maxmemory-policy = allkeys-lru on 127\\.0\\.0\\.1:${victim.port}`));
      assert.match(bad?.fix ?? '', /on every master/);
    } finally {
      await direct.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });
});
