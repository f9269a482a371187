// The whole pipeline on a real 3-master Redis Cluster: the daemon process (REDIS_CLUSTER_NODES, a {hash tag}
// prefix) delivers immediate rows, scheduled rows and an every-second cron rule's fires of three enterprises, each
// exactly once; every key it wrote (BullMQ's two queues, ownership, fairness, buckets) shares the tag's one slot,
// and no log line of any thread reports an error (a CROSSSLOT would).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DaemonProcess } from '../../src/devstack/daemon-process.js';
import { createRedis, mastersOf } from '../../src/queue/redis.js';
import { startDaemonOnFreePort } from '../support/daemon-on-port.js';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.js';
import { insertMany, insertRow } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const ENTERPRISES = ['cl-a', 'cl-b', 'cl-c'];
const IMMEDIATE_EACH = 50;
const SCHEDULED = 50;

describe('the pipeline on a 3-master Redis Cluster', { timeout: 180_000 }, () => {
  let cluster: LocalRedisCluster;
  let stack: Stack;
  let daemon: DaemonProcess;
  let port: number;

  before(async () => {
    cluster = await startRedisCluster();
    stack = await startStack({
      enterprises: ENTERPRISES,
      startDaemon: false,
      redisCluster: cluster,
      env: { DAEMON_LOG_LEVEL: 'warn', CRON_SYNC_INTERVAL_MS: '500', CRON_MISFIRE_GRACE_MS: '30000' },
    });
    ({ proc: daemon, port } = await startDaemonOnFreePort(stack.env));
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
        const s = ((await res.json()) as { enterprise_status?: Record<string, string> }).enterprise_status ?? {};
        return ENTERPRISES.every((e) => s[e] === 'subscribed');
      },
      { what: 'every enterprise subscribed', timeoutMs: 60_000, intervalMs: 200 },
    );
  });
  after(async () => {
    if (daemon !== undefined && daemon.child.exitCode === null) daemon.signal('SIGKILL');
    await stack?.stop();
    await cluster?.stop();
  });

  it('delivers immediate, scheduled and cron rows once each, all keys in one slot, no error logged', async () => {
    const scheduledAt = new Map<string, number>();
    for (const e of ENTERPRISES) await insertMany(stack.pool, e, IMMEDIATE_EACH);
    for (let i = 0; i < SCHEDULED; i++) {
      const at = Date.now() + 1000 + (i % 5) * 500;
      const id = await insertRow(stack.pool, {
        enterprise_id: ENTERPRISES[i % 3] as string,
        scheduled_for: new Date(at),
      });
      scheduledAt.set(id, at);
    }
    const rule = await stack.pool.query<{ id: string }>(
      `insert into notify.notification_rule (enterprise_id, name, cron, timezone, workflow_id, recipients, payload)
       values ($1, 'every second', '* * * * * *', 'UTC', 'digest', '{rule-user}', '{}') returning id::text`,
      [ENTERPRISES[0]],
    );
    const ruleId = rule.rows[0]?.id;
    await waitFor(
      async () =>
        (await stack.pool.query('select 1 from notify.rule_fire where rule_id = $1', [ruleId])).rowCount! >= 3,
      { what: '3 cron fires', timeoutMs: 30_000, intervalMs: 200 },
    );
    await stack.pool.query('update notify.notification_rule set enabled = false where id = $1', [ruleId]);
    await sleep(1500); // a fire already under way when the rule was disabled still lands
    const rows = await waitFor(
      async () => {
        const r = await stack.pool.query<{ id: string; enterprise_id: string; status: string; rule_id: string | null }>(
          'select id::text, enterprise_id, status, rule_id::text from notify.ent_notification',
        );
        return r.rows.every((row) => row.status === 'sent') ? r.rows : undefined;
      },
      { what: 'every row sent', timeoutMs: 90_000, intervalMs: 250 },
    );
    const cronRows = rows.filter((r) => r.rule_id !== null).length;
    assert.ok(cronRows >= 3, `${cronRows} cron rows`);
    assert.equal(rows.length, IMMEDIATE_EACH * 3 + SCHEDULED + cronRows);

    const deliveries = stack.novu.deliveries();
    const byTx = new Map<string, number>();
    for (const d of deliveries) byTx.set(d.transactionId, (byTx.get(d.transactionId) ?? 0) + 1);
    const twice = [...byTx].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'nothing delivered twice');
    for (const r of rows) assert.equal(byTx.get(`notifyd-${r.enterprise_id}-${r.id}-1`), 1, `row ${r.id} delivered`);
    assert.equal(deliveries.length, rows.length);
    for (const d of deliveries) {
      const id = /-(\d+)-1$/.exec(d.transactionId)?.[1] ?? '';
      const at = scheduledAt.get(id);
      if (at !== undefined) assert.ok(d.at >= at - 200, `scheduled row ${id} sent ${at - d.at} ms early`);
    }

    const redis = createRedis(cluster.target, { maxRetriesPerRequest: 1 });
    try {
      await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
      const where = new Map<number, string[]>();
      for (const node of mastersOf(redis)) {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await node.scan(cursor, 'MATCH', `${stack.prefix}*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        if (keys.length > 0) where.set(Number(node.options.port), keys);
      }
      assert.equal(where.size, 1, `keys on ${where.size} masters`);
      const [[master, keys]] = [...where] as [[number, string[]]];
      assert.equal(master, (await cluster.masterOf(stack.prefix)).port);
      for (const part of [':notifications:', ':cron:', ':owners', ':served:', ':budget:', ':redis-epoch']) {
        assert.ok(
          keys.some((k) => k.includes(part)),
          `a ${part} key among ${keys.length}`,
        );
      }
      const slot = await cluster.keyslot(stack.prefix);
      const slots = new Set(await Promise.all(keys.slice(0, 200).map((k) => cluster.keyslot(k))));
      assert.deepEqual([...slots], [slot]);
    } finally {
      redis.disconnect();
    }

    const errors = daemon.lines.filter((l) => /"level":"(error|fatal)"/.test(l) || /CROSSSLOT/.test(l));
    assert.deepEqual(errors, [], 'no error logged by any thread');
    assert.doesNotMatch(daemon.stderr.join(''), /CROSSSLOT|Error/);
    daemon.signal('SIGTERM');
    assert.equal(await daemon.exited, 0);
  });
});
