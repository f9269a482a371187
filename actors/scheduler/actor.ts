// The scheduler actor: runs the sweep every SWEEP_INTERVAL_MS, one at a time, in bounded batches, and reports
// what it found. A non-zero `missed` means the realtime path lost something; it is logged at warn.
//
// States: starting → running ⇄ degraded (the last sweep failed) → stopped.
// Messages: { type: 'sweep' } runs one now (tests, operators) and replies with its result.
import type { Config } from '../../src/config/load.js';
import { realtimePriorityFor } from '../../src/config/load.js';
import { createPool, type DbPool } from '../../src/db/pool.js';
import { describeError } from '../../src/errors.js';
import { NotificationProducer } from '../../src/queue/producer.js';
import { defineActor } from '../../src/runtime/actor.js';
import { sweep, type SweepResult } from './sweep.js';
import { bounded } from '../../src/bounded.js';

export interface SchedulerArgs {
  /** only these enterprises (DAEMON_ENTERPRISE_IDS); undefined = the enabled rows of notify.enterprise */
  enterpriseIds?: string[];
  /** never these (ENT_<id>_SUBSCRIPTION_ENABLED=false) */
  excludeIds?: string[];
}

export type SchedulerMsg = { type: 'sweep' };

export default defineActor<SchedulerArgs, SchedulerMsg, SweepResult>((args, ctx) => {
  const config = (ctx.data as { config: Config }).config;
  const log = ctx.log;
  let db: DbPool | undefined;
  let producer: NotificationProducer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SweepResult> | undefined;
  let stopped = false;
  const cursor = { afterId: '0' };

  function runSweep(): Promise<SweepResult> {
    running ??= (async () => {
      if (db === undefined || producer === undefined) throw new Error('scheduler not started');
      const started = performance.now();
      const result = await sweep({
        db: db.pool, producer,
        priorities: (id) => ({ realtime: realtimePriorityFor(config, id), scheduled: config.priorities.scheduled, cron: config.priorities.cron }),
        batchSize: 1000,
        graceMs: Math.min(5000, config.sweepIntervalMs),
        scope: { enterpriseIds: args.enterpriseIds, excludeIds: args.excludeIds },
        cursor,
      });
      const fields = { event: 'sweep_done', ...result, processing_time_ms: Math.round(performance.now() - started) };
      if (result.missed + result.repaired + result.expired + result.unknownEnterprise > 0) log.warn(fields, 'sweep found work the live path missed');
      else log.debug(fields, 'sweep found nothing');
      return result;
    })().finally(() => { running = undefined; });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      runSweep().then(() => ctx.setStatus('running', { error: null }), (err: unknown) => {
        log.warn({ event: 'sweep_failed', err: describeError(err) }, 'sweep failed; will retry');
        ctx.setStatus('degraded', { health: 'degraded', error: `sweep failed: ${describeError(err)}` });
      }).finally(schedule);
    }, config.sweepIntervalMs);
    timer.unref();
  }

  return {
    async start() {
      ctx.setStatus('starting', { health: 'degraded' });
      producer = await NotificationProducer.connect({ redisUrl: config.redisUrl, prefix: config.queuePrefix, attempts: config.deliveryMaxAttempts, backoffMs: config.deliveryBackoffMs });
      db = createPool({ databaseUrl: config.databaseUrl, max: 2, applicationName: 'notifyd-scheduler' });
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
      await Promise.all([producer?.close(), db?.close()]);
    },
  };
});
