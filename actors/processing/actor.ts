// The processing actor: owns this host's BullMQ Worker and Piscina pool (engine.ts). It is the consumer side of
// the durable handoff; stopping it lets in-flight jobs finish (bounded), then drains the pool.
//
// States: starting → running ⇄ degraded (Redis errors in the last 10 s) → stopping → stopped.
// Messages: { type: 'stats' } → the engine's counters; { type: 'pause' } → stop fetching (shutdown begins).
import type { Config } from '../../src/config/load.js';
import { maxPerSecondFor } from '../../src/config/lookup.js';
import { zeroSeries } from '../../src/metrics/catalogue.js';
import { defineActor } from '../../src/runtime/actor.js';
import { emptyStats, ProcessingEngine, type EngineStats } from './engine.js';
import { payloadBudgetFor } from '../../src/delivery/payload-budget.js';

export interface ProcessingArgs {
  /** Budget for draining in-flight jobs on stop (ms). */
  drainMs: number;
  poolThreads?: number;
}

/** stats: the engine's counters; pause: stop fetching new jobs (the first signal of a shutdown). */
export type ProcessingMsg = { type: 'stats' } | { type: 'pause' };

export default defineActor<ProcessingArgs, ProcessingMsg, EngineStats>((args, ctx) => {
  const config = (ctx.data as { config: Config }).config;
  const log = ctx.log;
  let engine: ProcessingEngine | undefined;
  let monitor: NodeJS.Timeout | undefined;
  let degraded = false;

  return {
    async start() {
      zeroSeries('processing');
      ctx.setStatus('starting', { health: 'degraded' });
      engine = new ProcessingEngine({
        redisUrl: config.redisUrl,
        redisCluster: config.redisCluster,
        prefix: config.queuePrefix,
        concurrency: config.workerConcurrency,
        ...(args.poolThreads === undefined ? {} : { poolThreads: args.poolThreads }),
        lockDurationMs: config.jobLockMs,
        maxPerSecond: (id) => maxPerSecondFor(config, id),
        novuBudgetShare: config.novuBudgetShare,
        threadHeapMb: config.threadHeapMb,
        threadYoungMb: config.threadYoungMb,
        log,
        pool: {
          databaseUrl: config.databaseUrl,
          novuSecretKey: config.novuSecretKey,
          novuApiUrl: config.novuApiUrl,
          novuTimeoutMs: config.novuTimeoutMs,
          novuMaxRetryAfterMs: config.novuMaxRetryAfterMs,
          leaseMs: config.leaseMs,
          retryHoldMs: config.deliveryBackoffMs,
          maxDurationMs: config.deliveryMaxDurationMs,
          dbPoolSize: Math.max(2, Math.min(10, config.workerConcurrency)),
          payloadBudgetBytes: payloadBudgetFor(config.threadHeapMb),
        },
      });
      await engine.start();
      ctx.setStatus('running', { error: null });
      monitor = setInterval(() => {
        const last = engine?.stats.lastRedisErrorAt ?? null;
        const nowDegraded = last !== null && Date.now() - last < 10_000;
        if (nowDegraded !== degraded) {
          degraded = nowDegraded;
          ctx.setStatus(
            degraded ? 'degraded' : 'running',
            degraded ? { health: 'degraded', error: 'queue connection errors in the last 10 s' } : { error: null },
          );
        }
      }, 1000);
      monitor.unref();
    },
    async handle(msg) {
      if (msg.type === 'pause') await engine?.pauseFetching();
      return engine?.stats ?? emptyStats();
    },
    async stop(reason) {
      clearInterval(monitor);
      ctx.setStatus('stopping', { health: 'degraded' });
      const started = Date.now();
      await engine?.stop(args.drainMs);
      log.info(
        { event: 'processing_stopped', reason, processing_time_ms: Date.now() - started, ...engine?.stats },
        'processing stopped',
      );
    },
  };
});
