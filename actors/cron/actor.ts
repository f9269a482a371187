// The cron actor: syncs cron rules into BullMQ job schedulers (rule-sync.ts), runs the rule-fire jobs they produce
// on its own queue, and at start computes every rule's missed fires. A fire creates one notification row per
// (rule, fire time) — unique, so two daemons never deliver it twice — and enqueues its delivery at cron priority.
// A fire is judged by its scheduled instant (the job's), not by when it happens to run; fire times are instants of
// the database's clock, and BullMQ's timers (this host's clock) are shifted by the measured offset, so a host
// clock ahead or behind neither fires early nor late (a fire that still runs early waits). When PostgreSQL cannot be
// reached, the fire is put back and tried again (without using an attempt) until it can; it is then on time if the
// database came back within CRON_MISFIRE_GRACE_MS of the fire, otherwise the rule's missed-run policy decides.
// A fire of an enterprise nobody serves waits a little (a host may be starting), then is dropped: its time is
// accounted for by the policy when the enterprise is served again. An observed enterprise's fires create nothing.
//
// With several intake hosts, one leads the rules (a leader lease per enterprise scope, src/ownership/leader.ts):
// it syncs the schedulers and accounts for missed fires when it starts leading; every host runs fire jobs.
//
// States: starting → running ⇄ degraded (the last sync or fire failed) → stopping; running ⇄ standby (another
// host leads the rules).
// Events: sync tick (every CRON_SYNC_INTERVAL_MS), a rule-fire job, stop. Messages: { type: 'sync' } syncs now.
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Config } from '../../src/config/load.js';
import { modeFor } from '../../src/config/lookup.js';
import { DbClock } from '../../src/db/clock.js';
import { createPool, type DbPool } from '../../src/db/pool.js';
import { reconcileRule, type ReconcileResult } from '../../src/db/rules.js';
import { describeError, Errors, notifydError } from '../../src/errors.js';
import { ServedRegistry, ServedView } from '../../src/ownership/served.js';
import { CRON_QUEUE_NAME } from '../../src/queue/jobs.js';
import { NotificationProducer, redisOptions } from '../../src/queue/producer.js';
import { createRedis, type RedisClient } from '../../src/queue/redis.js';
import { Metrics, zeroSeries } from '../../src/metrics/catalogue.js';
import { defineActor } from '../../src/runtime/actor.js';
import { repeatStrategy } from '../../src/schedule/cron.js';
import { syncRules, type RuleFireData, type SyncResult } from './rule-sync.js';
import { bounded } from '../../src/bounded.js';
import { defaultHostId } from '../../src/ownership/hosts.js';
import { Leadership, scopeDigest } from '../../src/ownership/leader.js';

export interface CronArgs {
  enterpriseIds?: string[];
  excludeIds?: string[];
}

export type CronMsg = { type: 'sync' };

export default defineActor<CronArgs, CronMsg, SyncResult>((args, ctx) => {
  const config = (ctx.data as { config: Config }).config;
  const log = ctx.log;
  const scope = { enterpriseIds: args.enterpriseIds, excludeIds: args.excludeIds };
  let db: DbPool | undefined;
  let producer: NotificationProducer | undefined;
  let queue: Queue<RuleFireData> | undefined;
  let worker: Worker<RuleFireData> | undefined;
  const connections: RedisClient[] = [];
  let timer: NodeJS.Timeout | undefined;
  let syncing: Promise<SyncResult> | undefined;
  let served: ServedView | undefined;
  let clock: DbClock | undefined;
  let stopped = false;
  let lastFireErrorLog = 0;
  let leader: Leadership | undefined;

  const connection = (extra = {}) => {
    const c = createRedis(config, redisOptions(extra));
    c.on('error', () => undefined);
    connections.push(c);
    return c;
  };

  async function fire(
    ruleId: string,
    opts: { throughMs?: number; serving?: (id: string) => 'deliver' | 'observe' | undefined } = {},
  ): Promise<ReconcileResult> {
    if (db === undefined || producer === undefined) throw notifydError(Errors.ACTOR_NOT_STARTED, 'cron');
    const started = performance.now();
    const result = await reconcileRule(db.pool, { ruleId, graceMs: config.cronMisfireGraceMs, ...opts });
    if (result.kind === 'done') {
      Metrics.cronFires().inc({ outcome: 'fired' }, result.fired);
      Metrics.cronFires().inc({ outcome: 'caught_up' }, result.caughtUp);
      Metrics.cronFires().inc({ outcome: 'missed' }, result.missed);
      for (const c of result.created) {
        await producer.enqueue({
          enterpriseId: c.enterpriseId,
          notificationId: c.notificationId,
          version: c.version,
          action: 'deliver',
          origin: 'cron',
          priority: config.priorities.cron,
          delayMs: 0,
        });
      }
      const fields = {
        event: 'rule_fired',
        rule_id: ruleId,
        fired: result.fired,
        caught_up: result.caughtUp,
        missed: result.missed,
        processing_time_ms: Math.round(performance.now() - started),
      };
      if (result.missed > 0 || result.olderNotListed)
        log.warn({ ...fields, older_not_listed: result.olderNotListed }, 'rule had missed fires');
      else if (result.fired + result.caughtUp > 0) log.debug(fields, 'rule fired');
    }
    return result;
  }

  /**
   * database − host clock, in steps of 50 ms: BullMQ schedules on this host's clock, fire times are the database's.
   * Rounded so that a re-sampled offset does not move scheduled jobs by a millisecond or two.
   */
  const offset = () => Math.round((clock?.offset ?? 0) / 50) * 50;
  /** BullMQ's repeatStrategy, on this host's clock: the next fire (a database instant) shifted by the offset. */
  const hostStrategy = (millis: number, opts: Parameters<typeof repeatStrategy>[1]) => {
    const next = repeatStrategy(millis + offset(), opts);
    return next === undefined ? undefined : next - offset();
  };

  /** A rule-fire job from a BullMQ scheduler: its prevMillis (host clock) is the fire's scheduled instant. */
  async function runFire(job: Job<RuleFireData>, token: string | undefined): Promise<string> {
    const throughMs = typeof job.opts.prevMillis === 'number' ? job.opts.prevMillis + offset() : undefined;
    const wait = (ms: number) =>
      job.moveToDelayed(Date.now() + ms, token).then(() => {
        throw new DelayedError();
      });
    let r: ReconcileResult;
    try {
      r = await fire(job.data.ruleId, {
        ...(throughMs === undefined ? {} : { throughMs }),
        serving: (id) => served?.modeOf(id),
      });
    } catch (err) {
      // PostgreSQL unreachable (or any failure): try again soon, without using an attempt, for up to a day.
      const age = Date.now() - (throughMs ?? job.timestamp);
      if (age > 86_400_000) throw err;
      if (Date.now() - lastFireErrorLog > 5000) {
        lastFireErrorLog = Date.now();
        log.warn(
          { event: 'rule_fire_retrying', rule_id: job.data.ruleId, err: describeError(err) },
          'rule fire could not be recorded; retrying until the database answers',
        );
      }
      return wait(Math.min(5000, 250 * 2 ** Math.min(5, job.attemptsStarted)));
    }
    if (r.kind === 'early') return wait(r.waitMs);
    if (r.kind === 'not_served' && r.mode === undefined && job.attemptsStarted <= 8) {
      return wait(Math.min(30_000, 1000 * 2 ** Math.max(0, job.attemptsStarted - 1)));
    }
    if (r.kind === 'not_served') {
      log.info(
        {
          event: r.mode === 'observe' ? 'rule_fire_observed' : 'rule_fire_unserved',
          rule_id: job.data.ruleId,
          enterprise_id: r.enterpriseId,
        },
        r.mode === 'observe'
          ? 'observe mode: the rule would have fired'
          : 'rule fire dropped: its enterprise is not served',
      );
    }
    return r.kind;
  }

  function sync(force: boolean): Promise<SyncResult> {
    syncing ??= (async () => {
      if (db === undefined || queue === undefined) throw notifydError(Errors.ACTOR_NOT_STARTED, 'cron');
      return syncRules({ db: db.pool, queue, scope, log, force });
    })().finally(() => {
      syncing = undefined;
    });
    return syncing;
  }

  /** On becoming the leader: re-upsert every rule's scheduler, then account for the fires missed meanwhile. */
  async function takeLead(): Promise<void> {
    // These rules are in this host's scope, so this host serves them: their enterprise's mode is this host's config.
    const synced = await sync(true);
    let missed = 0;
    for (const ruleId of synced.scheduled) {
      const r = await fire(ruleId, { serving: (id) => modeFor(config, id) });
      if (r.kind === 'done') missed += r.missed;
    }
    log.info({ event: 'cron_started', rules: synced.scheduled.length, missed }, 'cron rules scheduled');
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(async () => {
      const was = leader?.leading ?? true;
      if (leader !== undefined && !(await leader.lead())) {
        ctx.setStatus('standby', { error: null });
        schedule();
        return;
      }
      (was ? sync(false) : takeLead())
        .then(
          () => ctx.setStatus('running', { error: null }),
          (err: unknown) => {
            log.warn({ event: 'rule_sync_failed', err: describeError(err) }, 'could not sync cron rules; will retry');
            ctx.setStatus('degraded', { health: 'degraded', error: `rule sync failed: ${describeError(err)}` });
          },
        )
        .finally(schedule);
    }, config.cronSyncIntervalMs);
    timer.unref();
  }

  return {
    async start() {
      zeroSeries('cron');
      ctx.setStatus('starting', { health: 'degraded' });
      db = createPool({ databaseUrl: config.databaseUrl, max: 3, applicationName: 'notifyd-cron' });
      producer = await NotificationProducer.connect({
        redisUrl: config.redisUrl,
        redisCluster: config.redisCluster,
        prefix: config.queuePrefix,
        attempts: config.deliveryMaxAttempts,
        backoffMs: config.deliveryBackoffMs,
      });
      clock = new DbClock(db.pool);
      await clock.start();
      const settings = { repeatStrategy: hostStrategy };
      queue = new Queue<RuleFireData>(CRON_QUEUE_NAME, {
        connection: connection({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
        prefix: config.queuePrefix,
        settings,
      });
      queue.on('error', () => undefined);
      served = new ServedView(
        new ServedRegistry(connection({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }), config.queuePrefix),
      );
      served.start();
      leader = new Leadership(
        connection({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
        config.queuePrefix,
        `cron:${scopeDigest(scope)}`,
        config.hostId ?? defaultHostId(),
        Math.max(5000, 3 * config.cronSyncIntervalMs),
      );
      // The leader, at start: re-upsert every rule's scheduler and account for the fires missed while nobody ran.
      if (await leader.lead()) await takeLead();
      worker = new Worker<RuleFireData>(CRON_QUEUE_NAME, (job, token) => runFire(job, token), {
        connection: connection(),
        prefix: config.queuePrefix,
        settings,
        concurrency: 4,
        drainDelay: 1,
        lockDuration: config.jobLockMs,
        stalledInterval: Math.max(1000, Math.floor(config.jobLockMs / 2)),
      });
      worker.on('error', (err) =>
        log.warn({ event: 'cron_worker_error', err: describeError(err) }, 'cron worker error'),
      );
      worker.on('failed', (job, err) =>
        log.warn(
          { event: 'rule_fire_failed', rule_id: job?.data.ruleId, err: describeError(err) },
          'rule fire failed; retrying',
        ),
      );
      ctx.setStatus(leader.leading ? 'running' : 'standby', { error: null });
      schedule();
    },
    handle() {
      return sync(false);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      served?.stop();
      clock?.stop();
      await bounded(worker?.close(), 3000);
      await bounded(syncing, 1000);
      await bounded(leader?.resign(), 1000);
      await bounded(queue?.close(), 1000);
      for (const c of connections) c.disconnect();
      await Promise.all([producer?.close(), db?.close()]);
    },
  };
});
