// A cron fire during a PostgreSQL outage is not lost: the fire job waits for the database (without using up its
// attempts) and is judged by its scheduled instant when the database returns — `fired` when that is within
// CRON_MISFIRE_GRACE_MS (here 15 s) of the fire, otherwise by the rule's missed-run policy. The outages last longer
// than the fire job's retry budget used to (5 attempts with exponential backoff from 500 ms: 7.5 s). Once-a-minute
// rules, so no later fire could make up for a lost one. Runs on a private PostgreSQL cluster it stops and starts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import { migrate } from '../../src/db/migrate.js';
import { DEFAULT_NOVU_API_KEY, startNovuStandin } from '../../src/devstack/novu/index.js';
import type { NovuStandin } from '../../src/devstack/novu/types.js';
import { startRealtimeStandin, type RealtimeStandin } from '../../src/devstack/realtime/server.js';
import { startDaemon, testSignals, type Daemon } from '../../supervisor/daemon.js';
import { startPrivatePostgres, type PrivatePostgres } from '../chaos/infra.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { captureLogger, SERVICE_ROLE_KEY } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

describe('cron fires across a PostgreSQL outage', () => {
  let cluster: PrivatePostgres;
  let pool: pg.Pool;
  let realtime: RealtimeStandin;
  let novu: NovuStandin;
  let daemon: Daemon | undefined;
  const prefix = uniquePrefix('ntf-cron-pg');

  before(async () => {
    cluster = await startPrivatePostgres();
    const admin = new pg.Client({ connectionString: cluster.url('postgres') });
    await admin.connect();
    await admin.query('create database notifyd_cron');
    await admin.end();
    const url = cluster.url('notifyd_cron');
    await migrate(url);
    pool = new pg.Pool({ connectionString: url, max: 3 });
    pool.on('error', () => undefined);
    realtime = await startRealtimeStandin({ databaseUrl: url, apiKeys: [SERVICE_ROLE_KEY] });
    novu = await startNovuStandin({ tenants: ['acme'], workflows: 'any' });
    const config = loadConfig({
      SUPABASE_URL: realtime.url,
      SUPABASE_SERVICE_ROLE_KEY: SERVICE_ROLE_KEY,
      DATABASE_URL: url,
      REDIS_URL: TEST_REDIS_URL,
      NOVU_SECRET_KEY: DEFAULT_NOVU_API_KEY,
      NOVU_API_URL: novu.url,
      QUEUE_PREFIX: prefix,
      DAEMON_ENTERPRISE_IDS: 'acme',
      DAEMON_HEALTH_PORT: '0',
      DAEMON_HEALTH_HOST: '127.0.0.1',
      DAEMON_LOG_LEVEL: 'error',
      DAEMON_REALTIME_HOSTS: '1',
      CRON_MISFIRE_GRACE_MS: '15000',
      CRON_SYNC_INTERVAL_MS: '1000',
      SWEEP_INTERVAL_MS: '2000',
      DELIVERY_BACKOFF_MS: '200',
      SUBSCRIPTION_RECONNECT_DELAY: '200',
      SUBSCRIPTION_HEALTH_CHECK_INTERVAL: '1000',
      JOB_LOCK_MS: '5000',
    });
    daemon = await startDaemon(config, {
      log: captureLogger([], 'error'),
      signals: testSignals(),
      exit: () => undefined,
      poolThreads: 1,
    });
    await waitFor(() => daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 30_000,
    });
  });
  after(async () => {
    await daemon?.shutdown('test over');
    await pool.end().catch(() => undefined);
    await realtime.close();
    await novu.close();
    await deletePrefix(prefix);
    await cluster.stop();
  });

  /** A rule firing once a minute, at the second of `at` (whole seconds). */
  const addRule = async (at: number, policy: string) =>
    (
      await pool.query<{ id: string }>(
        `insert into notify.notification_rule (enterprise_id, cron, workflow_id, recipients, missed_run_policy)
     values ('acme', $1, 'digest', '{rule-user}', $2) returning id::text`,
        [`${new Date(at).getUTCSeconds()} * * * * *`, policy],
      )
    ).rows[0]?.id as string;
  const fireOf = async (rule: string, at: number) =>
    (
      await pool.query<{ outcome: string; notification_id: string | null }>(
        'select outcome, notification_id::text from notify.rule_fire where rule_id = $1 and fire_at = $2',
        [rule, new Date(at)],
      )
    ).rows[0];

  it('fires on time after an outage shorter than the grace, and follows the policy after a longer one', async () => {
    const fireA = Math.ceil((Date.now() + 12_000) / 1000) * 1000;
    const onTime = await addRule(fireA, 'skip');
    await new Promise((r) => setTimeout(r, 2500)); // the scheduler is in Redis
    await sleepUntil(fireA - 3000);
    await cluster.down();
    await sleepUntil(fireA + 10_000); // 13 s away; back 10 s after the fire, within the 15 s grace
    await cluster.start();
    const a = await waitFor(() => fireOf(onTime, fireA), {
      what: 'the fire recorded after the outage',
      timeoutMs: 20_000,
    });
    assert.equal(a.outcome, 'fired');
    await waitFor(() => novu.deliveriesFor(`notifyd-acme-${a.notification_id}-1`).length === 1, {
      what: 'the fire delivered',
      timeoutMs: 20_000,
    });
    await pool.query('update notify.notification_rule set enabled = false where id = $1', [onTime]);

    const fireB = Math.ceil((Date.now() + 8000) / 1000) * 1000;
    const skip = await addRule(fireB, 'skip');
    const runOnce = await addRule(fireB, 'run_once');
    await new Promise((r) => setTimeout(r, 2500));
    await sleepUntil(fireB - 2000);
    await cluster.down();
    await sleepUntil(fireB + 18_000); // back 18 s after the fire: past the grace
    await cluster.start();
    const b = await waitFor(() => fireOf(skip, fireB), { what: 'the skipped fire recorded', timeoutMs: 20_000 });
    const c = await waitFor(() => fireOf(runOnce, fireB), { what: 'the run_once fire recorded', timeoutMs: 20_000 });
    assert.equal(b.outcome, 'missed');
    assert.equal(c.outcome, 'caught_up');
    await waitFor(() => novu.deliveriesFor(`notifyd-acme-${c.notification_id}-1`).length === 1, {
      what: 'the caught-up fire delivered',
      timeoutMs: 20_000,
    });
  });
});
