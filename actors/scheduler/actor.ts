// The scheduler actor: runs the sweep every SWEEP_INTERVAL_MS, one at a time, in bounded batches, and reports
// what it found. A non-zero `missed` means the realtime path lost something; it is logged at warn. It also notices
// when Redis lost its data (its epoch marker is not the one PostgreSQL recorded as reconciled, src/queue/epoch.ts: a
// FLUSHALL, a restart without persistence, a failover to an empty replica) and then repairs at once: every pending
// row due within a day gets its job back, page after page until the pass is complete, not one bounded pass per
// interval. Only a complete repair records the new epoch; until then every sweep repairs again.
//
// With several intake hosts, one leads the sweep (a leader lease per enterprise scope, renewed every round, src/
// ownership/leader.ts); the others stand by and take over when the leader's lease runs out (3 sweep intervals).
//
// States: starting → running ⇄ degraded (the last sweep failed) → stopped; running → repairing → running;
// running ⇄ standby (another host leads).
// Messages: { type: 'sweep' } runs one now (tests, operators) and replies with its result.
import type { Config } from '../../src/config/load.js';
import { realtimePriorityFor } from '../../src/config/lookup.js';
import { createPool, type DbPool } from '../../src/db/pool.js';
import { describeError, Errors, notifydError } from '../../src/errors.js';
import { MAX_DELAY_MS } from '../../src/queue/jobs.js';
import { NotificationProducer } from '../../src/queue/producer.js';
import { Metrics, zeroSeries } from '../../src/metrics/catalogue.js';
import { defineActor } from '../../src/runtime/actor.js';
import { rowErrorFields, sweep, type SweepResult } from './sweep.js';
import { bounded } from '../../src/bounded.js';
import { defaultHostId } from '../../src/ownership/hosts.js';
import { Leadership, scopeDigest } from '../../src/ownership/leader.js';
import { MissedMarks } from '../../src/ownership/missed.js';
import { RedisEpoch } from '../../src/queue/epoch.js';

export interface SchedulerArgs {
  /** only these enterprises (DAEMON_ENTERPRISE_IDS); undefined = the enabled rows of notify.enterprise */
  enterpriseIds?: string[];
  /** never these (ENT_<id>_SUBSCRIPTION_ENABLED=false) */
  excludeIds?: string[];
}

export type SchedulerMsg = { type: 'sweep' };

/** How long an enterprise the sweep found missing changes stays on the fast poll, unless found again. */
const MISSED_MARK_MS = 60_000;

export default defineActor<SchedulerArgs, SchedulerMsg, SweepResult>((args, ctx) => {
  const config = (ctx.data as { config: Config }).config;
  const log = ctx.log;
  let db: DbPool | undefined;
  let producer: NotificationProducer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SweepResult> | undefined;
  let stopped = false;
  const cursor = { afterId: '0' };
  const scope = { enterpriseIds: args.enterpriseIds, excludeIds: args.excludeIds };
  let epochs: RedisEpoch | undefined;
  /** the epoch whose loss this process already counted (a repair that failed and runs again is one loss) */
  let lossCounted: string | undefined;
  let leader: Leadership | undefined;

  function runSweep(): Promise<SweepResult> {
    running ??= (async () => {
      if (db === undefined || producer === undefined || epochs === undefined) {
        throw notifydError(Errors.ACTOR_NOT_STARTED, 'scheduler');
      }
      const started = performance.now();
      const epoch = await epochs.check();
      const repair = epoch.kind === 'lost';
      if (repair) {
        if (lossCounted !== epoch.epoch) Metrics.redisDataLoss().inc();
        lossCounted = epoch.epoch;
        ctx.setStatus('repairing', {
          health: 'degraded',
          error: 'Redis lost its data; re-enqueueing every pending row',
        });
        log.warn(
          { event: 'redis_data_lost' },
          'Redis lost its data (marker gone): repairing the queue from PostgreSQL',
        );
      }
      let errorsLogged = 0;
      const deps = {
        db: db.pool,
        producer,
        priorities: (id: string) => ({
          realtime: realtimePriorityFor(config, id),
          scheduled: config.priorities.scheduled,
          cron: config.priorities.cron,
        }),
        batchSize: 1000,
        graceMs: repair ? 0 : Math.min(5000, config.sweepIntervalMs),
        scope,
        cursor: repair ? { afterId: '0' } : cursor,
        ...(repair ? { aheadMs: MAX_DELAY_MS, maxPages: Number.POSITIVE_INFINITY } : {}),
        onRowError: (row: Parameters<typeof rowErrorFields>[0], err: unknown) => {
          if (errorsLogged++ < 5)
            log.warn(
              { event: 'sweep_row_failed', ...rowErrorFields(row, err) },
              'sweep could not check a row; it goes on',
            );
        },
      };
      const result = await sweep(deps).catch((err: unknown) => {
        Metrics.sweeps().inc({ result: 'error' });
        throw err;
      });
      Metrics.sweeps().inc({ result: 'ok' });
      if (repair && result.complete && result.errors === 0) await epochs.reconciled(epoch.epoch);
      // the live path of these enterprises is missing changes: their owners poll fast for a while (not after a
      // Redis data loss, where the jobs were lost, not the events)
      if (!repair && result.missedEnterprises.length > 0) {
        await new MissedMarks(producer.redis, config.queuePrefix)
          .mark(result.missedEnterprises, MISSED_MARK_MS)
          .catch(() => undefined);
      }
      Metrics.sweepRepairs().inc({ kind: 'missed' }, result.missed);
      Metrics.sweepRepairs().inc({ kind: 'repaired' }, result.repaired);
      Metrics.sweepRepairs().inc({ kind: 'unknown_enterprise' }, result.unknownEnterprise);
      const fields = {
        event: repair ? 'repair_done' : 'sweep_done',
        ...result,
        missedEnterprises: result.missedEnterprises.slice(0, 20),
        processing_time_ms: Math.round(performance.now() - started),
      };
      if (repair || result.missed + result.repaired + result.unknownEnterprise + result.errors > 0)
        log.warn(fields, repair ? 'queue repaired from PostgreSQL' : 'sweep found work the live path missed');
      else log.debug(fields, 'sweep found nothing');
      return result;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(async () => {
      if (leader !== undefined && !(await leader.lead())) {
        ctx.setStatus('standby', { error: null });
        schedule();
        return;
      }
      runSweep()
        .then(
          () => ctx.setStatus('running', { error: null }),
          (err: unknown) => {
            log.warn({ event: 'sweep_failed', err: describeError(err) }, 'sweep failed; will retry');
            ctx.setStatus('degraded', { health: 'degraded', error: `sweep failed: ${describeError(err)}` });
          },
        )
        .finally(schedule);
    }, config.sweepIntervalMs);
    timer.unref();
  }

  return {
    async start() {
      zeroSeries('scheduler');
      ctx.setStatus('starting', { health: 'degraded' });
      producer = await NotificationProducer.connect({
        redisUrl: config.redisUrl,
        redisCluster: config.redisCluster,
        prefix: config.queuePrefix,
        attempts: config.deliveryMaxAttempts,
        backoffMs: config.deliveryBackoffMs,
      });
      db = createPool({ databaseUrl: config.databaseUrl, max: 2, applicationName: 'notifyd-scheduler' });
      epochs = new RedisEpoch(producer.redis, db.pool, config.queuePrefix, `sweep:${scopeDigest(scope)}`);
      // On the first run the epoch is recorded now, not at the first sweep: Redis losing its data before that sweep
      // (a leader elected late, a long sweep interval) must be noticed too. Redis or PostgreSQL away: the first
      // sweep records it.
      await epochs.check().catch(() => undefined);
      leader = new Leadership(
        producer.redis,
        config.queuePrefix,
        `sweep:${scopeDigest(scope)}`,
        config.hostId ?? defaultHostId(),
        Math.max(5000, 3 * config.sweepIntervalMs),
      );
      ctx.setStatus('running', { error: null });
      schedule();
    },
    handle() {
      return runSweep();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await bounded(running, 2000);
      await bounded(leader?.resign(), 1000);
      await Promise.all([producer?.close(), db?.close()]);
    },
  };
});
